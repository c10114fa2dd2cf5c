"""Small appends do not pile up files: the landing path compacts them on its own."""

from __future__ import annotations

import json
from datetime import date, timedelta
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from lake.landing import commits
from lake.landing.commits import AUTO_COMPACT_PROPERTY

SMALL_FILES = 8
"""The auto-compaction threshold these tests run with. The rule counts files, so it is the
same rule at 8 as at the lake's 32; at 32 each test appended 37 to 96 times, most of the
module's time (10 s a test on S3 + Postgres)."""


@pytest.fixture
def _fewer_small_files(monkeypatch: pytest.MonkeyPatch) -> None:
    assert commits.AUTO_COMPACT_SMALL_FILES > SMALL_FILES
    monkeypatch.setattr(commits, "AUTO_COMPACT_SMALL_FILES", SMALL_FILES)


def _rows(start: int, n: int = 10) -> pa.Table:
    return pa.table({"id": pa.array(range(start, start + n), pa.int64()), "v": [1.5] * n})


@pytest.mark.usefixtures("_fewer_small_files")
def test_many_small_appends_are_compacted_into_few_files_in_versions_of_their_own(lk):
    appends = SMALL_FILES * 2 + 5
    for i in range(appends):
        lk.write_table("ml.small", _rows(10 * i))
    history = lk.history("ml.small")
    optimized = [v for v in history if v.operation == "OPTIMIZE"]
    assert len(optimized) == 2
    assert all(v.rows_added == 0 and v.rows_removed == 0 for v in optimized)
    assert len(history) == appends + len(optimized)
    # The compaction runs are runs of their own, named for what they did.
    runs = {v.run_id: lk.run(v.run_id) for v in optimized}
    assert {r.job for r in runs.values()} == {"auto-compact:ml.small"}
    latest = lk.describe("ml.small").snapshot
    assert len(latest.files) < SMALL_FILES
    assert lk.sql("SELECT count(*) AS n, sum(id) AS s FROM ml.small").rows() == [
        {"n": 10 * appends, "s": sum(range(10 * appends))}
    ]
    # Every version before a compaction still reads as it was written.
    first = optimized[0].version
    before = lk.sql(f"SELECT count(*) AS n FROM ml.small VERSION AS OF {first - 1}").rows()
    after = lk.sql(f"SELECT count(*) AS n FROM ml.small VERSION AS OF {first}").rows()
    assert before == after == [{"n": 10 * SMALL_FILES}]


@pytest.mark.usefixtures("_fewer_small_files")
def test_a_table_whose_delta_property_turns_auto_compaction_off_keeps_its_files(lk):
    # Delta's own switch, set by another tool: the lake's appends must honour it, and an
    # explicit optimize still compacts.
    lk.write_table("ml.kept", _rows(0))
    location = lk.table("ml.kept").location
    DeltaTable(location, storage_options=lk.storage.delta_options()).alter.set_table_properties(
        {AUTO_COMPACT_PROPERTY: "false"}
    )
    appends = SMALL_FILES + 5
    for i in range(1, appends):
        lk.write_table("ml.kept", _rows(10 * i))
    assert not [v for v in lk.history("ml.kept") if v.operation == "OPTIMIZE"]
    assert len(lk.describe("ml.kept").snapshot.files) == appends
    lk.optimize("ml.kept")
    assert len(lk.describe("ml.kept").snapshot.files) == 1
    assert lk.sql("SELECT count(*) AS n FROM ml.kept").rows() == [{"n": 10 * appends}]


@pytest.mark.usefixtures("_fewer_small_files")
def test_a_partition_of_one_file_is_not_compacted_again_and_again(lk, tmp_path):
    # One small file per day: nothing to compact, however many days.
    days = SMALL_FILES + 5
    for n in range(days):
        day = date(2026, 9, 1) + timedelta(days=n)
        path = tmp_path / f"{day}.jsonl"
        path.write_text(f'{{"ts": "{day}T10:00:00Z", "n": {n}}}\n')
        lk.ingest_logs("app.days", str(path))
    assert not [v for v in lk.history("app.days") if v.operation == "OPTIMIZE"]
    assert len(lk.describe("app.days").snapshot.files) == days


def _dictionary_columns(lk, name: str) -> dict[str, bool]:
    """Whether each column of the table's one file starts with a dictionary page."""
    [data_file] = lk.describe(name).snapshot.files
    fs, base = lk.storage.filesystem_for(lk.table(name).location)
    with fs.open_input_file(f"{base}/{unquote(data_file.path)}") as handle:
        group = pq.ParquetFile(handle).metadata.row_group(0)
    return {
        group.column(i).path_in_schema: group.column(i).dictionary_page_offset is not None
        for i in range(group.num_columns)
    }


def test_optimize_writes_a_dictionary_only_for_columns_whose_values_repeat(lk):
    # A dictionary over ids and measures that never repeat made DuckDB read a compacted
    # table 1.2x slower than DuckDB's own file of the same rows.
    methods = ["GET", "POST", "PUT", "DELETE"]
    for i in range(3):
        ids = range(1000 * i, 1000 * (i + 1))
        lk.write_table(
            "web.hits",
            pa.table(
                {
                    "id": pa.array(ids, pa.int64()),
                    "latency": pa.array([n * 1.37 for n in ids], pa.float64()),
                    "method": [methods[n % 4] for n in ids],
                    "status": pa.array([200 + 100 * (n % 3) for n in ids], pa.int64()),
                    "request": [{"path": f"/p/{n % 7}", "size": n} for n in ids],
                }
            ),
        )
    before = lk.sql("SELECT * FROM web.hits ORDER BY id").rows()
    assert lk.optimize("web.hits") is not None
    assert _dictionary_columns(lk, "web.hits") == {
        "id": False,
        "latency": False,
        "method": True,
        "status": True,
        # nested leaves are judged one by one, as the files of appends are
        "request.path": True,
        "request.size": False,
    }
    assert lk.sql("SELECT * FROM web.hits ORDER BY id").rows() == before


@pytest.mark.usefixtures("_fewer_small_files")
def test_auto_compaction_leaves_a_file_much_larger_than_the_small_ones_alone(lk):
    """Tiered: the small files since are merged together; a file more than twice their size
    together is not rewritten with them (merging every file under 8 MB rewrote the whole
    table every 32 appends, and an append's cost grew with the table)."""
    big = lk.write_table("ml.tiered", _rows(0, 20_000))
    (kept,) = lk.describe("ml.tiered").snapshot.files
    assert big.files_total == 1
    for i in range(SMALL_FILES):
        lk.write_table("ml.tiered", _rows(20_000 + 10 * i))
    optimized = [v for v in lk.history("ml.tiered") if v.operation == "OPTIMIZE"]
    assert len(optimized) == 1
    files = lk.describe("ml.tiered").snapshot.files
    assert kept.path in {f.path for f in files}
    assert len(files) == 2
    n = 20_000 + 10 * SMALL_FILES
    assert lk.sql("SELECT count(*) AS n, sum(id) AS s FROM ml.tiered").rows() == [
        {"n": n, "s": sum(range(n))}
    ]


@pytest.mark.usefixtures("_fewer_small_files")
def test_tiered_auto_compaction_keeps_the_file_count_under_its_threshold(lk):
    for i in range(SMALL_FILES * 3):
        lk.write_table("ml.tiers", _rows(10 * i))
    history = lk.history("ml.tiers")
    assert len([v for v in history if v.operation == "OPTIMIZE"]) >= 3
    assert len(lk.describe("ml.tiers").snapshot.files) < SMALL_FILES
    n = 10 * SMALL_FILES * 3
    assert lk.sql("SELECT count(*) AS n, sum(id) AS s FROM ml.tiers").rows() == [
        {"n": n, "s": sum(range(n))}
    ]


def _log(path, day_keys: dict[str | None, list[int]]) -> str:
    lines = []
    for day, keys in day_keys.items():
        for k in keys:
            record = {"k": k} if day is None else {"ts": f"{day}T10:00:00Z", "k": k}
            lines.append(json.dumps(record) + "\n")
    path.write_text("".join(lines))
    return str(path)


def test_optimize_compacts_each_partition_into_its_own_file_and_deltalake_reads_it(lk, tmp_path):
    for i in range(3):
        days = {"2026-11-20": [i], "2026-11-21": [10 + i, 20 + i], None: [30 + i]}
        lk.ingest_logs("app.parts", _log(tmp_path / f"{i}.jsonl", days))
    info = lk.table("app.parts")
    options = lk.storage.delta_options()
    columns = ["k", "_event_date", "ts", "_raw"]

    def deltalake_rows(version=None) -> list[tuple]:
        table = DeltaTable(info.location, version=version, storage_options=options)
        return sorted(
            tuple(r.values()) for r in table.to_pyarrow_table(columns=columns).to_pylist()
        )

    def by_day(version) -> list[dict]:
        return lk.sql(
            "SELECT _event_date AS d, count(*) AS n, sum(k) AS s FROM app.parts "
            f"VERSION AS OF {version} GROUP BY d ORDER BY d NULLS LAST"
        ).rows()

    before = lk.describe("app.parts").snapshot
    assert len(before.files) == 9
    rows, days = deltalake_rows(), by_day(before.version)
    compacted = lk.optimize("app.parts")
    assert compacted is not None and compacted.version == before.version + 1
    after = lk.describe("app.parts").snapshot
    assert sorted(str(f.partition_values["_event_date"]) for f in after.files) == [
        "2026-11-20",
        "2026-11-21",
        "None",
    ]
    assert (compacted.files_total, compacted.rows_total) == (3, before.rows)
    assert deltalake_rows() == deltalake_rows(before.version) == rows
    assert by_day(compacted.version) == by_day(before.version) == days
    one_day = "SELECT count(*) AS n FROM app.parts WHERE _event_date = DATE '2026-11-21'"
    assert lk.sql(one_day).rows() == [{"n": 6}]
    # The archived column stays as the ingest wrote it: zstd, no statistics.
    fs, base = lk.storage.filesystem_for(info.location)
    with fs.open_input_file(f"{base}/{after.files[0].path}") as handle:
        group = pq.ParquetFile(handle).metadata.row_group(0)
    codecs = {group.column(i).path_in_schema: group.column(i).compression for i in range(8)}
    assert codecs["_raw"] == "ZSTD" and codecs["k"] == "LZ4"
