"""A file's logged time range (the Delta log's min and max of a timestamp column) as Python
times: the same instants pyarrow gives, never narrower, and without importing pandas (which
pyarrow's ``as_py`` does, to ask whether it could return a pandas timestamp)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from lake.delta.snapshot import LoggedRanges

MICROS = [1_700_000_000_123_456, -5, 0, None, 253_402_300_799_999_999]


@pytest.mark.parametrize("unit", ["s", "ms", "us"])
def test_logged_times_are_the_instants_pyarrow_reads(unit):
    per = {"s": 1_000_000, "ms": 1000, "us": 1}[unit]
    times = pa.array(
        [m // per if m is not None else None for m in MICROS], pa.timestamp(unit, "UTC")
    )
    for row in range(len(times)):
        low, high = LoggedRanges({"ts": (times, times)}, row)["ts"]
        assert low == high == times[row].as_py()
        assert low is None or low.utcoffset().total_seconds() == 0


def test_nanoseconds_widen_the_range_to_whole_microseconds():
    times = pa.array([1_700_000_000_123_456_789], pa.timestamp("ns", "UTC"))
    low, high = LoggedRanges({"ts": (times, times)}, 0)["ts"]
    assert low == datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)
    assert high == datetime(2023, 11, 14, 22, 13, 20, 123457, tzinfo=UTC)


def test_reading_a_logged_time_does_not_import_pandas():
    code = (
        "import struct, sys, pyarrow as pa\n"
        "from lake.delta.snapshot import LoggedRanges\n"
        "data = [pa.py_buffer(bytes([1])), pa.py_buffer(struct.pack('<qq', 1, 0))]\n"
        "t = pa.Array.from_buffers(pa.timestamp('us', 'UTC'), 2, data)\n"  # pa.array imports it
        "assert LoggedRanges({'ts': (t, t)}, 1)['ts'] == (None, None)\n"
        "LoggedRanges({'ts': (t, t)}, 0)['ts']\n"
        "assert 'pandas' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
