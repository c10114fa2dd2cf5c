"""Event times: a time without an offset is UTC, whichever zone the host is in."""

from __future__ import annotations

import os
import subprocess
import sys


def test_a_log_time_without_offset_is_utc_on_a_host_in_another_zone():
    # These formats go through DuckDB (Arrow reads neither); ICU reads the host's zone once
    # per process, so the parser runs in a process that starts in Tokyo.
    code = (
        "import pyarrow as pa; from ingest.logs.eventtime import EventTimeParser; "
        "p = EventTimeParser(); "
        "print([t.isoformat() for t in p.parse(pa.array("
        "['2023-11-14 22:13:20,323', '17/May/2015:10:05:03', '17/May/2015:10:05:03 +0200']"
        ")).to_pylist()]); p.close()"
    )
    found = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "TZ": "Asia/Tokyo"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.strip() == str(
        [
            "2023-11-14T22:13:20.323000+00:00",
            "2015-05-17T10:05:03+00:00",
            "2015-05-17T08:05:03+00:00",
        ]
    )
