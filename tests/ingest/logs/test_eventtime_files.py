"""Event times read from whole files, on both backend pairs: what a log's times become when
the lake reads them with its default formats, and when it says it cannot be sure."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa

from lake.core.names import TableName

UTC = dt.UTC


def _rows(lk, table: str) -> list[dict]:
    info = lk.catalog.get_table(TableName.parse(table))
    snapshot = lk.delta(info).snapshot()
    found = pa.table(lk.delta(info).open(snapshot.version).to_pyarrow_table()).to_pylist()
    return sorted(found, key=lambda r: (r["_source"], r["_line"]))


def _jsonl(path: Path, records: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def test_a_time_without_zone_after_one_with_a_zone_name_is_utc_not_that_zone(lk, tmp_path):
    """Before: DuckDB's cast carried Europe/Paris from the first record to the next two,
    which landed an hour early (09:00 UTC), the date-only one on the day before."""
    path = _jsonl(
        tmp_path / "app.jsonl",
        [
            {"ts": "2026-12-05 10:00:00 Europe/Paris", "n": 1},
            {"ts": "2026-12-05 10:00:00", "n": 2},
            {"ts": "2026-12-05", "n": 3},
        ],
    )
    lk.ingest_logs("app.zones", path)
    rows = _rows(lk, "app.zones")
    assert [r["_event_time"] for r in rows] == [
        dt.datetime(2026, 12, 5, 9, 0, tzinfo=UTC),
        dt.datetime(2026, 12, 5, 10, 0, tzinfo=UTC),
        dt.datetime(2026, 12, 5, 0, 0, tzinfo=UTC),
    ]
    assert [r["_event_date"] for r in rows] == [dt.date(2026, 12, 5)] * 3
    assert [r["_error"] for r in rows] == [None] * 3


def test_utc_plus_an_hour_is_read_by_no_one_sign_and_says_so(lk, tmp_path):
    """Before: 'UTC+1' was read as +01:00 (DuckDB), where PostgreSQL and POSIX TZ read an hour
    behind UTC: two hours apart, no error."""
    path = _jsonl(
        tmp_path / "app.jsonl",
        [{"ts": "2026-12-05 10:00:00 UTC+1"}, {"ts": "2026-12-05 10:00:00 Etc/GMT+1"}],
    )
    lk.ingest_logs("app.signs", path)
    rows = _rows(lk, "app.signs")
    assert rows[0]["_event_time"] is None
    assert rows[0]["_error"].startswith(
        "event time '2026-12-05 10:00:00 UTC+1' gives its zone as 'UTC+1', whose sign is read "
        "both ways"
    )
    # A zone name of the tz database is read as it defines it (Etc/GMT+1 is UTC-1).
    assert rows[1]["_event_time"] == dt.datetime(2026, 12, 5, 11, 0, tzinfo=UTC)
