"""Logs shaped as other systems document them (PostgreSQL's jsonlog, Spring Boot's default
layout): times, values and reasons through the lake, on both backend pairs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa

from lake.core.names import TableName

UTC = dt.UTC


def _rows(lk, table: str) -> list[dict]:
    info = lk.catalog.get_table(TableName.parse(table))
    found = pa.table(lk.delta(info).open().to_pyarrow_table()).to_pylist()
    return sorted(found, key=lambda r: (r["_source"], r["_line"]))


def postgres_jsonlog(folder: Path) -> Path:
    """PostgreSQL 15+ ``log_destination = jsonlog``: ``timestamp`` is ``%m``, its zone the
    abbreviation of ``log_timezone`` (Europe/London in summer: BST)."""
    path = folder / "postgresql.json"
    records = [
        ("2024-07-21 10:00:00.123 BST", "LOG", "checkpoint starting: time"),
        ("2024-07-21 10:00:05.001 BST", "ERROR", 'relation "t" does not exist'),
        ("2024-07-21 09:00:06.500 UTC", "LOG", "connection received"),
        ("2024-07-21 10:00:07 Europe/London", "LOG", "written by hand"),
    ]
    path.write_text(
        "".join(
            json.dumps({"timestamp": t, "pid": 4242, "error_severity": s, "message": m}) + "\n"
            for t, s, m in records
        )
    )
    return path


def test_a_postgres_jsonlog_in_bst_is_never_read_as_bangladesh_time(lk, cli, tmp_path):
    """Before: 10:00:00.123 BST landed as 04:00:00.123 UTC (ICU's BST is Asia/Dhaka, +06:00;
    British summer time is +01:00, 09:00 UTC), with no _error: a query for the 09:00 hour
    found only the UTC record."""
    report = lk.ingest_logs("pg.log", str(postgres_jsonlog(tmp_path)))
    assert report.time_field == "timestamp"
    assert report.event_times_json() == {
        "time_field": "timestamp",
        "with_time": 2,
        "without_time": 2,
        "reasons": {"unreadable": 2},
    }
    rows = _rows(lk, "pg.log")
    assert [r["_event_time"] for r in rows] == [
        None,
        None,
        dt.datetime(2024, 7, 21, 9, 0, 6, 500000, tzinfo=UTC),
        dt.datetime(2024, 7, 21, 9, 0, 7, tzinfo=UTC),
    ]
    assert rows[0]["_error"].startswith(
        "event time '2024-07-21 10:00:00.123 BST' gives its zone as 'BST', an abbreviation"
    )
    assert [r["timestamp"] for r in rows][:2] == [
        "2024-07-21 10:00:00.123 BST",
        "2024-07-21 10:00:05.001 BST",
    ]  # the value itself is kept as written
    hour = "SELECT count(*) AS n FROM pg.log WHERE _event_time < TIMESTAMP '2024-07-21 09:00'"
    assert cli("sql", hour, "--output", "json").json()["rows"] == [{"n": 0}]
