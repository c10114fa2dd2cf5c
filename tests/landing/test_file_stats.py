"""Delta file statistics of strings, decimals and booleans, as every reader prunes by them.

The lake writes min/max/null count of these columns for appends, log ingests and its own
compaction (``lake/delta/stats.py``). Other engines skip files by them: DuckDB's
``delta_scan`` (delta-kernel), deltalake's ``to_pyarrow_dataset`` (each file's bounds become
its fragment's expression) and DataFusion. A filter through any of them, or through the
lake's SQL, must give the rows a full scan gives, for strings cut to their 32-character
prefix, non-ASCII, 4-byte UTF-8 and runs of U+10FFFF.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from lake.delta.stats import STRING_PREFIX
from tests.delta import external

TOP = "\U0010ffff"
WIDE = pa.decimal128(38, 18)
BIG = Decimal("12345678901234567890.123456789012345678")
"""A decimal(38, 18) a float cannot hold: as 1.2345678901234567e+19 (what deltalake's own
writer logs) it lies below itself, and readers skipped its file for ``d >= BIG``."""

FILES: list[list[str | None]] = [
    ["", "é", None],
    ["😀" * 40, "𝄞", "a"],
    [TOP * 40, TOP * 3 + "x", "z"],
    ["p" * 32 + "a", "p" * 32 + "b", "p" * 33],
    ["p" * 32, "p" * 31, "q"],
    ["a" * 31 + "\ud7ff" + "z", "a" * 31 + "\ue000", None],
    [None, None, None],
    ["x" * 33, "x" * 32 + TOP, "y"],
]
"""Each list one append (one file): its strings."""


def _batch(number: int, strings: list[str | None]) -> pa.Table:
    first = 10 * number
    return pa.table(
        {
            "id": pa.array(range(first, first + len(strings)), pa.int64()),
            "s": pa.array(strings, pa.string()),
            "d": pa.array(
                [BIG if number == 3 else Decimal(number), Decimal(-number) / 8, None][
                    : len(strings)
                ],
                WIDE,
            ),
            "b": pa.array([number % 2 == 0, None, True][: len(strings)], pa.bool_()),
        }
    )


def _probes() -> list[str]:
    """Every value, its prefix, and strings just past the prefixes and the raised maxima."""
    values = {v for strings in FILES for v in strings if v is not None}
    probes = set(values) | {v[:STRING_PREFIX] for v in values}
    probes |= {v[: STRING_PREFIX - 1] + "\U0010fffe" for v in values if len(v) >= STRING_PREFIX}
    probes |= {"p" * 31 + "q", "x" * 31 + "y", "a" * 31 + "\ue000", TOP, TOP * 32, "zz"}
    return sorted(probes)


_COMPARE = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _expression(column: str, op: str, value: object, type_: pa.DataType) -> ds.Expression:
    field, scalar = ds.field(column), pa.scalar(value, type_)
    return {
        "=": field == scalar,
        "<": field < scalar,
        "<=": field <= scalar,
        ">": field > scalar,
        ">=": field >= scalar,
    }[op]


def _sql_literal(value: object) -> str:
    if isinstance(value, Decimal):
        return f"CAST('{value}' AS DECIMAL(38, 18))"
    if isinstance(value, bool):
        return "true" if value else "false"
    return "'" + str(value).replace("'", "''") + "'"


class Readers:
    """One table's latest version as four readers filter it."""

    def __init__(self, lk, name: str, key: str = "id") -> None:
        import duckdb
        from deltalake import DeltaTable, QueryBuilder

        from lake.core.storage import extension_path

        self.lk, self.name, self.key = lk, name, key
        self.uri = lk.table(name).location
        self.options = lk.storage.delta_options()
        table = DeltaTable(self.uri, storage_options=self.options)
        self.dataset = table.to_pyarrow_dataset()
        self.datafusion = QueryBuilder().register("t", table)
        self.duckdb = duckdb.connect(config={"autoinstall_known_extensions": "false"})
        lk.storage.configure_duckdb(self.duckdb)
        self.duckdb.execute(f"LOAD '{extension_path('delta')}'")
        # delta-kernel's reader, the snapshot read once: a filter still reaches its scan as
        # a pushed-down predicate (each query skips files by their statistics) but
        # delta_scan('...') re-read the log for every one (over S3 70% of the time).
        self.duckdb.execute(f"ATTACH '{self.uri}' AS kernel (TYPE delta, PIN_SNAPSHOT)")
        self.duckdb.execute("SET enable_http_metadata_cache = true")  # data files never change
        self.duckdb.execute("SET parquet_metadata_cache = true")
        self.rows = lk.sql(f"SELECT * FROM {name}").table.to_pylist()

    def close(self) -> None:
        self.duckdb.close()

    def check(self, column: str, op: str, value: object, type_: pa.DataType) -> int:
        """Every reader's ids for ``column op value`` against the full scan's; the files
        deltalake's dataset keeps for it."""

        def key(v: object) -> object:
            return v.encode() if isinstance(v, str) else v  # Delta compares UTF-8 bytes

        expected = sorted(
            r[self.key]
            for r in self.rows
            if r[column] is not None and _COMPARE[op](key(r[column]), key(value))
        )
        where = f"{column} {op} {_sql_literal(value)}"
        picked = f"SELECT {self.key} AS k"
        by_lake = self.lk.sql(f"{picked} FROM {self.name} WHERE {where}").table
        by_kernel = self.duckdb.execute(f"{picked} FROM kernel WHERE {where}").fetchall()
        by_datafusion = pa.table(
            self.datafusion.execute(f"{picked} FROM t WHERE {where}").read_all()
        )
        expression = _expression(column, op, value, type_)
        by_dataset = self.dataset.to_table(columns=[self.key], filter=expression)
        label = f"{column} {op} {value!r}"
        assert sorted(by_lake.column("k").to_pylist()) == expected, f"lake: {label}"
        assert sorted(k for (k,) in by_kernel) == expected, f"delta_scan: {label}"
        assert sorted(by_dataset.column(self.key).to_pylist()) == expected, f"dataset: {label}"
        assert sorted(by_datafusion.column("k").to_pylist()) == expected, f"DataFusion: {label}"
        return len(list(self.dataset.get_fragments(filter=expression)))


def _check_every_filter(lk, name: str) -> dict[str, int]:
    """Every probe through every reader; the least files deltalake kept for a string, a
    decimal and a boolean filter (to tell the statistics were used)."""
    readers = Readers(lk, name)
    try:
        kept = {"s": 10**6, "d": 10**6, "b": 10**6}
        for probe in _probes():
            for op in _COMPARE:
                kept["s"] = min(kept["s"], readers.check("s", op, probe, pa.string()))
        for probe in (BIG, Decimal(7), Decimal(-1) / 8):
            for op in ("=", ">=", "<="):
                kept["d"] = min(kept["d"], readers.check("d", op, probe, WIDE))
        for op in ("=", "<"):
            kept["b"] = min(kept["b"], readers.check("b", op, True, pa.bool_()))
        return kept
    finally:
        readers.close()


def _adds(lk, name: str, version: int) -> list[dict[str, Any]]:
    uri, options = lk.table(name).location, lk.storage.delta_options()
    return [
        json.loads(a["add"]["stats"], parse_float=Decimal)
        for a in external.read_log_entry(uri, options, version)
        if "add" in a
    ]


@pytest.mark.slow
def test_appends_and_their_compaction_log_bounds_every_reader_filters_strings_by_correctly(lk):
    for number, strings in enumerate(FILES):
        lk.write_table("web.strings", _batch(number, strings))
    [first] = _adds(lk, "web.strings", 0)
    assert (first["minValues"]["s"], first["maxValues"]["s"], first["nullCount"]["s"]) == (
        "",
        "é",
        1,
    )
    [shared] = _adds(lk, "web.strings", 3)
    assert (shared["minValues"]["s"], shared["maxValues"]["s"]) == ("p" * 32, "p" * 31 + "q")
    assert shared["maxValues"]["d"] == BIG and shared["minValues"]["b"] is False
    [runs] = _adds(lk, "web.strings", 2)
    assert (runs["minValues"]["s"], runs["maxValues"]["s"]) == ("z", TOP * 40)
    [nulls] = _adds(lk, "web.strings", 6)
    assert nulls["nullCount"]["s"] == 3 and "s" not in nulls.get("minValues", {})
    kept = _check_every_filter(lk, "web.strings")
    assert kept["s"] == 0 and kept["d"] < len(FILES)  # deltalake pruned files by them

    compacted = lk.optimize("web.strings")
    assert compacted is not None
    [merged] = _adds(lk, "web.strings", compacted.version)
    assert (merged["minValues"]["s"], merged["maxValues"]["s"]) == ("", TOP * 40)
    assert merged["nullCount"] == {"id": 0, "s": 5, "d": len(FILES), "b": len(FILES)}
    assert (merged["minValues"]["d"], merged["maxValues"]["d"]) == (Decimal(-7) / 8, BIG)
    assert (merged["minValues"]["b"], merged["maxValues"]["b"]) == (False, True)
    _check_every_filter(lk, "web.strings")


@pytest.mark.slow
def test_readers_of_a_checkpoint_holding_the_new_statistics_filter_as_a_full_scan(lk):
    """deltalake's checkpoint parses each file's statistics into typed columns
    (``stats_parsed``): decimals in their exact digits, strings with their raised maxima."""
    for number, strings in enumerate(FILES):  # every kind of bound once, read from the checkpoint
        lk.write_table("web.checked", _batch(number, strings))
    info = lk.table("web.checked")
    store = lk.delta(info)
    store.write_checkpoint(info.current_version)
    names = external.log_names(info.location, lk.storage.delta_options())
    assert f"{info.current_version:020d}.checkpoint.parquet" in names
    _check_every_filter(lk, "web.checked")


def test_log_ingests_bound_every_string_column_raw_and_ids_included(lk, tmp_path):
    """``_raw`` and strings whose values all differ (ids) have no Parquet statistics (see
    ``lake/delta/encoding.py``): their bounds come from the writer, cut as the log cuts
    strings, whether the lake commits the staged files itself, deltalake re-encodes them (a
    new column) or the lake compacts them. Without them deltalake's dataset lost every row
    of such a file for a filter on ``_raw`` or the id."""
    import hashlib

    from lake.delta.encoding import MIN_SAMPLE

    first = tmp_path / "a.jsonl"
    lines = [
        json.dumps(
            {
                "ts": f"2026-10-05T10:{i // 60 % 60:02d}:{i % 60:02d}Z",
                "method": ["GET", "POST"][i % 2],
                "msg": "é" * 40 + str(i),
                "id": hashlib.sha1(str(i).encode()).hexdigest()[:12],
            }
        )
        for i in range(MIN_SAMPLE + 100)
    ]
    first.write_text("".join(line + "\n" for line in lines))
    lk.ingest_logs("app.logs", str(first))
    drifted = tmp_path / "b.jsonl"
    late = json.dumps({"ts": "2026-10-05T11:00:00Z", "method": "PUT", "n": 5, "id": "zz"})
    drifted.write_text(late + "\n")
    lk.ingest_logs("app.logs", str(drifted))
    ids = [json.loads(line)["id"] for line in lines]

    def check() -> None:
        readers = Readers(lk, "app.logs", key="_raw")
        try:
            probes = {
                "id": [min(ids), max(ids), ids[7], "zz", "0"],
                "_raw": [min(lines), max(lines), lines[7], late, min(lines)[:STRING_PREFIX]],
                "msg": ["é" * 32, "é" * 40 + "1", "é" * 31 + "ê"],
            }
            for column, values in probes.items():
                for probe in values:
                    for op in _COMPARE:
                        readers.check(column, op, probe, pa.string())
        finally:
            readers.close()

    check()
    [own] = _adds(lk, "app.logs", 0)
    assert (own["minValues"]["method"], own["maxValues"]["method"]) == ("GET", "POST")
    assert own["minValues"]["msg"] == "é" * 32 and own["maxValues"]["msg"] == "é" * 31 + "ê"
    assert (own["minValues"]["id"], own["maxValues"]["id"]) == (min(ids), max(ids))
    assert own["minValues"]["_raw"] == min(lines)[:STRING_PREFIX]
    assert own["maxValues"]["_raw"] > max(lines) and own["nullCount"]["_raw"] == 0
    [merged] = _adds(lk, "app.logs", 1)
    assert merged["minValues"]["method"] == "PUT" and merged["maxValues"]["id"] == "zz"
    assert merged["minValues"]["_raw"] <= late <= merged["maxValues"]["_raw"]

    compacted = lk.optimize("app.logs")
    assert compacted is not None
    for stats in _adds(lk, "app.logs", compacted.version):
        assert stats["minValues"]["_raw"] == min(lines)[:STRING_PREFIX]
        assert stats["maxValues"]["id"] == "zz"
    check()


ABOVE = Decimal("12345678901234567999.999999999999999999")
"""A decimal(38, 18) whose float (1.2345678901234568e+19) lies above it: deltalake's writer
logged that as the file's minimum, and readers skipped the file for ``d <= ABOVE``."""


def _money(ids: range, values: list[Decimal | None], **more: list[object]) -> pa.Table:
    return pa.table(
        {"id": pa.array(ids, pa.int64()), "d": pa.array(values, WIDE)}
        | {k: pa.array(v) for k, v in more.items()}
    )


def _filters_as_a_full_scan(lk, name: str) -> None:
    """Filters on ``d`` through DuckDB's ``delta_scan`` and DataFusion give the rows a full
    scan gives. Not deltalake's dataset: it takes a column without statistics in a file for
    one whose bounds are null (see ``lake/delta/stats.py``)."""
    readers = Readers(lk, name)
    try:
        rows = pa.table(
            readers.duckdb.execute(f"SELECT * FROM delta_scan('{readers.uri}')").arrow()
        )
        rows = rows.to_pylist()
        for probe in (BIG, ABOVE, Decimal(1), Decimal(-1) / 8):
            for op, compare in _COMPARE.items():
                expected = sorted(
                    r["id"] for r in rows if r["d"] is not None and compare(r["d"], probe)
                )
                where = f"d {op} {_sql_literal(probe)}"
                by_kernel = readers.duckdb.execute(
                    f"SELECT id FROM delta_scan('{readers.uri}') WHERE {where}"
                ).fetchall()
                by_datafusion = pa.table(
                    readers.datafusion.execute(f"SELECT id FROM t WHERE {where}").read_all()
                )
                assert sorted(k for (k,) in by_kernel) == expected, f"delta_scan: {where}"
                assert sorted(by_datafusion.column("id").to_pylist()) == expected, where
    finally:
        readers.close()


def test_decimals_deltalakes_writer_rewrites_are_filtered_by_every_reader_as_a_full_scan(lk):
    """deltalake's own writer (a schema-merging append, an overwrite, a merge) logged a
    decimal(38, 18)'s min and max as floats, on the wrong side of BIG and ABOVE, so
    ``delta_scan`` lost their rows: it now writes those decimals without statistics."""
    lk.write_table("web.money", _money(range(3), [BIG, Decimal(1), None]))
    # a new column: deltalake's writer re-encodes the staged file
    lk.write_table("web.money", _money(range(3, 5), [ABOVE, BIG], note=["x", "y"]))
    _filters_as_a_full_scan(lk, "web.money")
    info = lk.table("web.money")
    store = lk.delta(info)
    source = _money(range(4, 7), [ABOVE, Decimal(-1) / 8, BIG], note=["m", "n", "o"])
    store.merge(source, keys=["id"], run_id="revstats-merge", operation="MERGE")
    _filters_as_a_full_scan(lk, "web.money")
    lk.write_table("web.rewritten", _money(range(2), [Decimal(1), None]))
    lk.write_table(
        "web.rewritten",
        _money(range(2, 5), [ABOVE, BIG, Decimal(2)], note=[1, 2, 3]),
        mode="overwrite",
    )
    _filters_as_a_full_scan(lk, "web.rewritten")


def test_a_compaction_whose_first_file_deltalake_wrote_keeps_raw_archived(lk, tmp_path):
    """Compaction keeps a column archived (zstd, bounded by the writer, no footer
    statistics) when the files it merges archive it. deltalake's writer keeps every column
    LZ4 with statistics; a bin whose first (largest) file it wrote turned ``_raw`` into LZ4
    with whole log lines as every row group's footer min and max."""
    import pyarrow.parquet as pq
    from deltalake import DeltaTable

    small = tmp_path / "a.jsonl"
    small.write_text(json.dumps({"ts": "2026-10-05T10:00:00Z", "method": "GET"}) + "\n")
    lk.ingest_logs("app.mixed", str(small))
    large = tmp_path / "b.jsonl"  # a new column: deltalake's writer re-encodes the file
    large.write_text(
        "".join(
            json.dumps({"ts": "2026-10-05T11:00:00Z", "method": "PUT", "n": i}) + "\n"
            for i in range(300)
        )
    )
    lk.ingest_logs("app.mixed", str(large))
    compacted = lk.optimize("app.mixed")
    assert compacted is not None and compacted.files_removed == 2
    uri = lk.table("app.mixed").location
    [path] = DeltaTable(uri, storage_options=lk.storage.delta_options()).file_uris()
    fs, where = lk.storage.filesystem_for(path)
    with fs.open_input_file(where) as source:
        metadata = pq.ParquetFile(source).metadata
    raw = metadata.schema.to_arrow_schema().get_field_index("_raw")
    column = metadata.row_group(0).column(raw)
    assert (column.compression, column.is_stats_set) == ("ZSTD", False)
    [stats] = _adds(lk, "app.mixed", compacted.version)
    lines = [small.read_text().strip(), *large.read_text().splitlines()]
    assert stats["minValues"]["_raw"] == min(lines)[:STRING_PREFIX]
