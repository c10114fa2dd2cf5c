"""The raw-log engine end to end on real files: nothing lost, every record counted."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

import ingest.logs.lines
import ingest.sources
from ingest.exceptions import LogFormatError, SourceNotFound, SourceUnreadable
from ingest.logs.stage import ROW_GROUP_ROWS, StagedLogs, stage_logs
from lake.delta.stats import file_stats

DATA = Path(__file__).resolve().parents[2] / "data" / "elastic-logs"
APACHE = DATA / "apache_logs"
NGINX = DATA / "nginxplus_json_logs.jsonl"


def rows(staged: StagedLogs) -> pa.Table:
    """Every staged row, the partition column added back, in (source, line) order."""
    tables = []
    assert sum(pq.ParquetFile(f.path).metadata.num_rows for f in staged.files) == staged.staged.rows
    for f in staged.files:
        t = pq.read_table(f.path)
        assert t.schema.names == [n for n in staged.schema.names if n != "_event_date"]
        if staged.partition_by:
            d = f.partition_values["_event_date"]
            value = dt.date.fromisoformat(d) if d else None
            t = t.append_column("_event_date", pa.array([value] * t.num_rows, pa.date32()))
        tables.append(t)
    if not tables:
        return staged.schema.empty_table()
    t = pa.concat_tables(tables)
    return t.sort_by([("_source", "ascending"), ("_line", "ascending")])


def stage(tmp_path: Path, paths, **kw) -> StagedLogs:
    out = tmp_path / f"staging{len(list(tmp_path.glob('staging*')))}"
    return stage_logs([str(p) for p in paths], staging_dir=out, **kw)


def write_lines(path: Path, lines: list[str | bytes], end: bytes = b"\n") -> Path:
    path.write_bytes(b"".join((x if isinstance(x, bytes) else x.encode()) + end for x in lines))
    return path


# ---------------------------------------------------------------------------------------
# Real logs


def test_real_apache_logs_ingest_every_record_typed(tmp_path):
    staged = stage(tmp_path, [APACHE], preset="apache-combined")
    assert (staged.records_read, staged.records_parsed, staged.records_failed) == (
        10_000,
        10_000,
        0,
    )
    t = rows(staged)
    assert t.column("_line").to_pylist() == list(range(1, 10_001))
    schema = staged.schema
    for name, typ in [
        ("client_ip", pa.string()),
        ("time", pa.timestamp("us", tz="UTC")),
        ("method", pa.string()),
        ("path", pa.string()),
        ("status", pa.int64()),
        ("bytes", pa.int64()),
        ("referrer", pa.string()),
        ("agent", pa.string()),
    ]:
        assert schema.field(name).type == typ
    first = t.slice(0, 1).to_pylist()[0]
    assert first["client_ip"] == "83.149.9.216" and first["status"] == 200
    assert first["bytes"] == 203023 and first["method"] == "GET"
    assert first["_event_time"] == dt.datetime(2015, 5, 17, 10, 5, 3, tzinfo=dt.UTC)
    assert first["_event_date"] == dt.date(2015, 5, 17)
    raw = APACHE.read_text().splitlines()
    assert t.column("_raw").to_pylist() == raw
    assert staged.partition_by == ("_event_date",)
    assert {f.partition_values["_event_date"] for f in staged.files} == {
        "2015-05-17",
        "2015-05-18",
        "2015-05-19",
        "2015-05-20",
    }
    [src] = staged.sources
    assert (src.records_read, src.lines_consumed, src.bytes_consumed) == (
        10_000,
        10_000,
        APACHE.stat().st_size,
    )


def test_real_nginx_json_keeps_nested_objects_with_dynamic_keys(tmp_path):
    staged = stage(tmp_path, [NGINX])
    assert (staged.records_read, staged.records_failed) == (500, 0)
    t = rows(staged)
    zones = staged.schema.field("server_zones").type
    assert pa.types.is_struct(zones)
    assert {zones.field(i).name for i in range(zones.num_fields)} >= {
        "hg.nginx.org",
        "trac.nginx.org",
    }
    upstreams = staged.schema.field("upstreams").type
    peers = upstreams.field("trac-backend").type.field("peers").type
    assert pa.types.is_list(peers) and pa.types.is_struct(peers.value_type)
    originals = [json.loads(line) for line in NGINX.read_text().splitlines()]
    got = t.column("server_zones").to_pylist()
    for original, value in zip(originals, got, strict=True):
        for host, zone in original["server_zones"].items():
            assert value[host]["requests"] == zone["requests"]
    # epoch milliseconds in "timestamp" became the event time
    assert staged.time_field == "timestamp"
    assert t.column("_event_time")[0].as_py() == dt.datetime.fromtimestamp(
        originals[0]["timestamp"] / 1000, dt.UTC
    )


# ---------------------------------------------------------------------------------------
# Drift: a type change and new fields past the first 30,000 lines


def test_drift_past_line_30000_is_widened_and_reported_with_its_line(tmp_path):
    lines = [
        json.dumps({"id": i, "code": i % 7, "ratio": 1, "ts": 1_700_000_000 + i})
        for i in range(1, 35_001)
    ]
    lines[30_000] = json.dumps(
        {"id": 30_001, "code": "E42", "ratio": 1, "ts": 1_700_030_001, "extra": {"k": True}}
    )
    lines[30_100] = json.dumps({"id": 30_101, "code": 3, "ratio": 0.5, "ts": 1_700_030_101})
    path = write_lines(tmp_path / "drift.jsonl", lines)
    existing = pa.schema(
        [("id", pa.int64()), ("code", pa.int64()), ("ratio", pa.int64()), ("ts", pa.int64())]
    )
    staged = stage(tmp_path, [path], existing_schema=existing)
    assert (staged.records_read, staged.records_failed) == (35_000, 0)
    events = {(e.column, e.kind, e.line) for e in staged.drift}
    assert events == {
        (("code",), "conflict", 30_001),
        (("extra",), "added", 30_001),
        (("ratio",), "widened", 30_101),
    }
    assert all(e.source == path.resolve().as_uri() for e in staged.drift)
    conflict = next(e for e in staged.drift if e.kind == "conflict")
    assert (conflict.old_type, conflict.new_type) == (pa.int64(), pa.string())
    t = rows(staged)
    code = t.column("code").to_pylist()
    assert code[0] == "1" and code[30_000] == '"E42"' and code[30_100] == "3"
    assert staged.schema.field("code").metadata == {b"lake.encoding": b"json"}
    assert t.column("ratio").type == pa.float64() and t.column("ratio")[30_100].as_py() == 0.5
    assert t.column("extra").to_pylist()[30_000] == {"k": True}
    assert t.column("id").to_pylist() == list(range(1, 35_001))


def test_each_staged_file_carries_the_footer_its_writer_wrote(tmp_path, monkeypatch):
    """Publishing takes a staged file's statistics from the footer its writer kept instead
    of reading the file back: it must be the file's as it ends up, string bounds included,
    also for a file rewritten in the final schema (``n`` widened on the last day, read in
    a later chunk than the first day's rows)."""
    monkeypatch.setattr(ingest.sources, "READ_BLOCK", 262_144)
    monkeypatch.setattr(ingest.logs.lines, "CHUNK_BYTES", 262_144)
    lines = [
        json.dumps({"ts": f"2026-10-0{1 + i // 20_000}T00:00:00Z", "id": f"u-{i}", "n": i})
        for i in range(60_000)
    ]
    lines[50_000] = json.dumps({"ts": "2026-10-03T00:00:00Z", "id": "u-x", "n": 0.5})
    staged = stage(tmp_path, [write_lines(tmp_path / "days.jsonl", lines)])
    assert {f.partition_values["_event_date"] for f in staged.files} == {
        "2026-10-01",
        "2026-10-02",
        "2026-10-03",
    }
    for f in staged.files:
        read = pq.read_metadata(f.path)
        assert f.footer is not None
        assert f.footer.schema.to_arrow_schema() == read.schema.to_arrow_schema()
        assert f.footer.schema.to_arrow_schema().field("n").type == pa.float64()
        assert f.footer.metadata == read.metadata
        assert b"lake.string_bounds" in read.metadata
        assert file_stats(f.footer, staged.schema) == file_stats(read, staged.schema)


def test_without_an_existing_schema_every_column_is_added_at_its_first_line(tmp_path):
    path = write_lines(tmp_path / "a.jsonl", ['{"a": 1}', '{"a": 2, "b": {"c": "x"}}'])
    staged = stage(tmp_path, [path])
    assert {(e.column, e.kind, e.line) for e in staged.drift} == {
        (("a",), "added", 1),
        (("b",), "added", 2),
    }


# ---------------------------------------------------------------------------------------
# Bad input: kept, flagged, counted; never a traceback


def test_bad_json_lines_are_kept_with_a_reason_and_counted(tmp_path):
    lines: list[str | bytes] = [
        '{"a": 1}',
        "not json",
        '{"a": 2',
        "[1, 2]",
        '"just a string"',
        "{}",
        '{"a": NaN}',
        '{"a": 1, "a": 3}',
        b'{"a": "bad \xff utf8"}',
        b'{"a": "nul\x00byte"}',
        "   ",
        "",
        '{"a": 4}',
    ]
    path = write_lines(tmp_path / "bad.jsonl", lines)
    staged = stage(tmp_path, [path])
    t = rows(staged)
    assert staged.records_read == 11  # two blank lines are not records
    by_line = {r["_line"]: r for r in t.to_pylist()}
    assert set(by_line) == {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13}
    assert by_line[2]["_error"].startswith("invalid JSON")
    assert by_line[4]["_error"] == "not a JSON object but an array"
    assert by_line[9]["_error"] == "invalid UTF-8 at byte 12; the original bytes are in _raw_bytes"
    assert by_line[9]["_raw"] == '{"a": "bad \\xff utf8"}'
    assert by_line[9]["_raw_bytes"] == b'{"a": "bad \xff utf8"}'
    assert {r["_raw_bytes"] for n, r in by_line.items() if n != 9} == {None}
    assert by_line[10]["_error"].startswith("invalid JSON")
    assert by_line[10]["_raw"] == '{"a": "nul\x00byte"}'
    assert by_line[8]["_error"] is None and by_line[8]["a"] == 3.0
    assert by_line[13]["a"] == 4.0 and by_line[1]["a"] == 1.0
    failed = [r["_line"] for r in t.to_pylist() if r["_error"]]
    assert staged.records_failed == len(failed) == 6
    assert staged.sources[0].lines_consumed == 13


def test_binary_garbage_and_mixed_endings_lose_nothing(tmp_path):
    garbage = bytes(range(256)) * 40
    path = tmp_path / "garbage.log"
    path.write_bytes(b'{"a":1}\r\n' + garbage + b'\n{"a":2}\n{"a":3}')
    staged = stage(tmp_path, [path], fmt="jsonl")
    t = rows(staged)
    assert t.column("a").to_pylist()[0] == 1 and t.column("a").to_pylist()[-2:] == [2, 3]
    assert staged.records_read == len(t) == staged.sources[0].lines_consumed
    assert t.column("_raw").to_pylist()[0] == '{"a":1}'


def test_deeply_nested_json_is_kept_and_flagged_without_a_crash(tmp_path):
    deep = '{"a":' * 10_000 + "1" + "}" * 10_000
    mid = '{"b":' * 100 + "1" + "}" * 100
    path = write_lines(tmp_path / "deep.jsonl", ['{"x": 1}', deep, mid])
    staged = stage(tmp_path, [path])
    t = rows(staged).to_pylist()
    assert t[1]["_error"] == "JSON nested too deeply to parse" and t[1]["_raw"] == deep
    assert t[2]["_error"] is None
    value = t[2]["b"]
    for _ in range(31):
        value = value["b"]
    assert json.loads(value) == json.loads(mid[5 * 32 : -32])  # JSON text below 32 levels


def test_deep_json_at_the_head_of_a_large_first_chunk_is_kept_without_a_crash(tmp_path):
    # The first chunk's types are read from its head first: that read must not meet the deep
    # line either (pyarrow's parser kills the process at about 10,000 levels).
    deep = '{"a":' + "[" * 20_000 + "]" * 20_000 + "}"
    lines = [deep] + [json.dumps({"b": "x" * 8, "n": i}) for i in range(100_000)]
    staged = stage(tmp_path, [write_lines(tmp_path / "deep.jsonl", lines)])
    t = rows(staged)
    assert staged.records_read == len(t) == 100_001
    assert t.column("_error").to_pylist()[0] == "JSON nested too deeply to parse"
    assert t.column("n").to_pylist()[1:] == list(range(100_000))


def test_columns_keep_the_order_keys_first_appear_in(tmp_path):
    # Over 1 MB: the first chunk is typed from its head, where "x" and "s.a" are only null.
    lines = [json.dumps({"x": None, "s": {"a": None, "b": i}, "y": i}) for i in range(10_000)]
    lines += [
        json.dumps({"x": "v", "s": {"a": 5, "b": i}, "y": i, "z": True})
        for i in range(10_000, 60_000)
    ]
    assert len("\n".join(lines[:10_000])) > 256 << 10  # past the head the types come from
    staged = stage(tmp_path, [write_lines(tmp_path / "order.jsonl", lines)])
    assert staged.schema.names[:4] == ["x", "s", "y", "z"]
    assert [f.name for f in staged.schema.field("s").type] == ["a", "b"]
    t = rows(staged)
    assert t.column("x").to_pylist()[9_999:10_001] == [None, "v"]
    assert t.column("s").to_pylist()[10_000] == {"a": 5, "b": 10_000}


def test_a_10_mb_single_line_is_one_record(tmp_path):
    big = json.dumps({"blob": "x" * 10_000_000, "n": 1})
    path = write_lines(tmp_path / "big.jsonl", ['{"n": 0}', big])
    staged = stage(tmp_path, [path])
    t = rows(staged)
    assert t.column("n").to_pylist() == [0, 1]
    assert len(t.column("blob")[1].as_py()) == 10_000_000


def test_an_empty_file_gives_zero_records_and_is_reported(tmp_path):
    (tmp_path / "empty.log").write_bytes(b"")
    staged = stage(tmp_path, [tmp_path / "empty.log"])
    assert staged.files == () and staged.records_read == 0
    [src] = staged.sources
    assert (src.size, src.lines_consumed, src.records_read) == (0, 0, 0)


def test_a_missing_path_or_a_truncated_file_raises_and_stages_nothing(tmp_path):
    with pytest.raises(SourceNotFound, match="missing.log"):
        stage(tmp_path, [tmp_path / "missing.log"])
    good = write_lines(tmp_path / "good.jsonl", ['{"a": 1}'] * 100)
    data = gzip.compress(b'{"a": 1}\n' * 100_000)
    (tmp_path / "z.gz").write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    with pytest.raises(SourceUnreadable, match="z.gz"):
        stage_logs([str(good), str(tmp_path / "z.gz")], staging_dir=out)
    assert list(out.rglob("*.parquet")) == []


def test_bad_options_raise_before_reading(tmp_path):
    path = write_lines(tmp_path / "a.log", ["x"])
    with pytest.raises(LogFormatError, match="Unknown log preset"):
        stage(tmp_path, [path], preset="nope")


# ---------------------------------------------------------------------------------------
# Names, formats, compression, time


def test_keys_colliding_with_ours_by_case_or_empty_are_renamed_by_the_rule(tmp_path):
    line = json.dumps(
        {
            "_raw": "mine",
            "User": 1,
            "user": 2,
            "": 3,
            "a.b": 4,
            'x"; DROP TABLE t; --': 5,
            "obj": {"K": 1, "k": 2},
        }
    )
    staged = stage(tmp_path, [write_lines(tmp_path / "n.jsonl", [line])])
    names = staged.schema.names
    assert names[:7] == ["_raw_2", "User", "user_2", "_blank", "a.b", 'x"; DROP TABLE t; --', "obj"]
    r = rows(staged).to_pylist()[0]
    assert (r["_raw_2"], r["User"], r["user_2"], r["_blank"], r["a.b"]) == ("mine", 1, 2, 3, 4)
    assert r["obj"] == {"K": 1, "k_2": 2}
    assert r["_raw"] == line


def test_auto_format_decides_per_file_and_compression_by_content(tmp_path):
    (tmp_path / "a.log").write_bytes(gzip.compress(b'{"level": "info", "n": 1}\n'))
    head = b"".join(APACHE.read_bytes().splitlines(keepends=True)[:5])
    (tmp_path / "b.log").write_bytes(zstandard.ZstdCompressor().compress(head))
    staged = stage(tmp_path, [tmp_path / "a.log", tmp_path / "b.log"], preset="apache-combined")
    kinds = {Path(s.uri).name: (s.format, s.compression) for s in staged.sources}
    assert kinds == {"a.log": ("jsonl", "gzip"), "b.log": ("text", "zstd")}
    t = rows(staged)
    assert set(t.column("_error").to_pylist()) == {None}
    assert staged.schema.field("n").type == pa.int64()
    assert staged.schema.field("status").type == pa.int64()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_700_000_000, dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)),
        (1_700_000_000_123, dt.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=dt.UTC)),
        (1_700_000_000_123_456, dt.datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=dt.UTC)),
        (1_700_000_000_123_456_789, dt.datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=dt.UTC)),
        ("2023-11-14T22:13:20+01:00", dt.datetime(2023, 11, 14, 21, 13, 20, tzinfo=dt.UTC)),
        ("2023-11-14 22:13:20", dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)),
        ("yesterday-ish", None),
    ],
)
def test_time_fields_become_event_time_and_date(tmp_path, value, expected):
    path = write_lines(tmp_path / "t.jsonl", [json.dumps({"when": value, "n": 1})])
    staged = stage(tmp_path, [path], time_field="when")
    r = rows(staged).to_pylist()[0]
    assert r["_event_time"] == expected
    assert r["_event_date"] == (expected.date() if expected else None)
    # An unreadable time is said in _error; the record itself parsed (its columns are kept).
    assert r["_error"] == (
        None
        if expected
        else "event time 'yesterday-ish' matches no time format: give --time-format"
    )
    assert r["n"] == 1 and staged.records_failed == 0
    assert staged.sources[0].time_reasons == ({} if expected else {"unreadable": 1})
    assert staged.files[0].partition_values == {
        "_event_date": expected.date().isoformat() if expected else None
    }


def test_recognized_time_fields_are_used_without_being_named(tmp_path):
    path = write_lines(tmp_path / "t.jsonl", ['{"@timestamp": "2024-02-29T10:00:00Z"}'])
    staged = stage(tmp_path, [path])
    assert staged.time_field == "@timestamp"
    assert rows(staged).column("_event_date").to_pylist() == [dt.date(2024, 2, 29)]


def test_no_time_field_means_no_event_columns_and_no_partitions(tmp_path):
    staged = stage(tmp_path, [write_lines(tmp_path / "x.jsonl", ['{"a": 1}'])])
    assert "_event_time" not in staged.schema.names and staged.partition_by == ()
    assert staged.files[0].partition_values == {}


# ---------------------------------------------------------------------------------------
# Appended logs, row groups, progress


def test_a_grown_file_ingests_only_its_new_records(tmp_path):
    path = write_lines(tmp_path / "app.jsonl", ['{"n": 1}', '{"n": 2}'])
    first = stage(tmp_path, [path])
    [src] = first.sources
    assert src.resume_point() == (path.stat().st_size, 3, src.sha256)
    with open(path, "ab") as f:
        f.write(b'{"n": 3}\n{"n": 4}\n')
    second = stage(tmp_path, [path], resume={src.uri: src.resume_point()})
    t = rows(second)
    assert t.column("n").to_pylist() == [3, 4] and t.column("_line").to_pylist() == [3, 4]
    assert second.sources[0].start_offset == src.size and not second.sources[0].restarted
    third = stage(tmp_path, [path], resume={src.uri: second.sources[0].resume_point()})
    assert third.records_read == 0 and third.files == ()


def test_a_rewritten_file_is_read_again_from_the_start(tmp_path):
    path = write_lines(tmp_path / "app.jsonl", ['{"n": 1}', '{"n": 2}'])
    first = stage(tmp_path, [path])
    write_lines(path, ['{"n": 10}', '{"n": 20}', '{"n": 30}'])
    second = stage(tmp_path, [path], resume={first.sources[0].uri: first.sources[0].resume_point()})
    assert second.sources[0].restarted
    assert rows(second).column("_line").to_pylist() == [1, 2, 3]


def test_row_groups_stay_at_or_under_65536_rows_with_nested_columns(tmp_path):
    lines = [f'{{"n": {i}, "s": {{"a": [{i}]}}}}' for i in range(70_000)]
    path = write_lines(tmp_path / "many.jsonl", lines)
    calls = []
    staged = stage(tmp_path, [path], progress=lambda *a: calls.append(a))
    for f in staged.files:
        meta = pq.ParquetFile(f.path).metadata
        assert all(meta.row_group(i).num_rows <= ROW_GROUP_ROWS for i in range(meta.num_row_groups))
        codecs = {
            rg.column(i).path_in_schema: rg.column(i).compression
            for rg in [meta.row_group(0)]
            for i in range(rg.num_columns)
        }
        assert codecs["n"] == "LZ4" and codecs["_raw"] == "ZSTD"  # scanned fast, archived small
    assert calls[-1] == (1, 70_000, path.stat().st_size)
    assert rows(staged).column("n").to_pylist() == list(range(70_000))


def test_row_groups_are_full_whatever_the_read_and_chunk_sizes(tmp_path, monkeypatch):
    import ingest.logs.lines
    import ingest.sources

    monkeypatch.setattr(ingest.sources, "READ_BLOCK", 99_999)
    monkeypatch.setattr(ingest.logs.lines, "CHUNK_BYTES", 150_000)
    lines = [f'{{"n": {i}, "pad": "{"x" * (i % 50)}"}}' for i in range(140_000)]
    calls = []
    path = write_lines(tmp_path / "m.jsonl", lines)
    staged = stage(tmp_path, [path], progress=lambda *a: calls.append(a))
    assert len(calls) > 10 and calls == sorted(calls)  # drawn as the file is read
    assert calls[0][0] == 0 and calls[-1] == (1, 140_000, path.stat().st_size)
    sizes = sorted(
        m.row_group(i).num_rows
        for m in (pq.ParquetFile(f.path).metadata for f in staged.files)
        for i in range(m.num_row_groups)
    )
    assert sizes == [140_000 - 2 * 65_536, 65_536, 65_536]
    assert rows(staged).column("n").to_pylist() == list(range(140_000))


def test_text_logs_without_a_pattern_keep_each_line_as_raw(tmp_path):
    path = write_lines(tmp_path / "plain.log", ["hello world", "", "second"], end=b"\r\n")
    staged = stage(tmp_path, [path], fmt="text")
    t = rows(staged)
    assert t.column("_raw").to_pylist() == ["hello world", "second"]
    assert t.column("_line").to_pylist() == [1, 3]
    assert staged.records_failed == 0


def test_an_existing_tables_partitioning_is_kept(tmp_path):
    path = write_lines(tmp_path / "t.jsonl", ['{"ts": 1700000000, "n": 1}'])
    flat = stage(tmp_path, [path], existing_schema=pa.schema([("n", pa.int64())]))
    assert flat.partition_by == () and "_event_time" not in flat.schema.names
    parted = stage(
        tmp_path,
        [path],
        existing_schema=pa.schema(
            [
                ("n", pa.int64()),
                ("_event_time", pa.timestamp("us", tz="UTC")),
                ("_event_date", pa.date32()),
            ]
        ),
    )
    assert parted.partition_by == ("_event_date",)
    assert parted.files[0].partition_values == {"_event_date": "2023-11-14"}


def test_struct_against_scalar_and_big_numbers_become_json_text_of_every_value(tmp_path):
    a = write_lines(
        tmp_path / "a.jsonl",
        ['{"v": {"x": 1, "y": [1, 2]}, "big": 1}', '{"v": {"x": 2}, "big": 2}'],
    )
    b = write_lines(
        tmp_path / "b.jsonl",
        ['{"v": 5, "big": 123456789012345678901234567890}', '{"v": "five", "big": null}'],
    )
    staged = stage(tmp_path, [a, b])
    t = rows(staged)
    assert t.column("v").to_pylist() == ['{"x":1,"y":[1,2]}', '{"x":2}', "5", '"five"']
    assert t.column("big").to_pylist() == ["1", "2", "123456789012345678901234567890", None]
    assert {f.name: f.metadata for f in staged.schema if f.name in ("v", "big")} == {
        "v": {b"lake.encoding": b"json"},
        "big": {b"lake.encoding": b"json"},
    }
    kinds = {(e.column, e.kind) for e in staged.drift}
    assert (("v",), "added") in kinds and (("big",), "added") in kinds


# ---------------------------------------------------------------------------------------
# What staging leaves behind in the process


def test_staging_restores_the_memory_pool_and_garbage_collector_it_found(tmp_path):
    import gc

    before = pa.default_memory_pool().backend_name
    src = write_lines(tmp_path / "a.jsonl", ['{"ts": "2024-01-21T10:00:00Z", "n": 1}'] * 3)
    staged = stage(tmp_path, [src])
    assert staged.records_parsed == 3
    assert pa.default_memory_pool().backend_name == before
    assert gc.get_freeze_count() == 0
    torn = tmp_path / "torn.jsonl.gz"
    torn.write_bytes(gzip.compress(b'{"n": 1}\n' * 1000)[:-20])
    with pytest.raises(SourceUnreadable):
        stage(tmp_path, [torn])
    assert pa.default_memory_pool().backend_name == before
    assert gc.get_freeze_count() == 0


def test_strings_all_before_or_after_the_digits_are_never_instants_and_a_mix_still_conflicts(
    tmp_path,
):
    # The instant check skips columns whose smallest and largest values start with no digit;
    # a column with a time among other text still becomes JSON text, value for value.
    lines = [
        json.dumps({"a": "/path", "b": "user-1", "c": "2024-01-21T10:00:00Z"}),
        json.dumps({"a": "", "b": "~tilde", "c": "later"}),
    ]
    staged = stage(tmp_path, [write_lines(tmp_path / "s.jsonl", lines)])
    t = rows(staged)
    assert t.schema.field("a").type == pa.string()
    assert t.schema.field("b").type == pa.string()
    assert t.column("a").to_pylist() == ["/path", ""]
    assert t.column("c").to_pylist() == ['"2024-01-21T10:00:00Z"', '"later"']


@pytest.mark.parametrize("kind", ["jsonl", "apache"])
def test_a_small_file_staged_on_one_thread_gives_the_rows_threads_give(tmp_path, monkeypatch, kind):
    """Files up to INLINE_SOURCE_BYTES are read, parsed and encoded on the calling thread:
    the same rows, bytes and counts as on the reader, parser and writer threads."""
    import ingest.logs.stage as stage_module

    source = NGINX if kind == "jsonl" else APACHE
    lines = source.read_bytes().splitlines(keepends=True)[:600]
    lines[7] = b"not json at all\n"  # a line that fails, kept in _error
    path = tmp_path / f"small.{kind}"
    path.write_bytes(b"".join(lines))
    options = {"preset": "apache-combined"} if kind == "apache" else {}
    seen = []
    for limit in (0, 1 << 30):  # on threads, then inline
        monkeypatch.setattr(stage_module, "INLINE_SOURCE_BYTES", limit)
        staged = stage(tmp_path, [path], **options)
        seen.append(
            (
                rows(staged),
                staged.records_read,
                staged.records_failed,
                staged.schema,
                staged.sources,
            )
        )
    assert seen[0][0].num_rows > 400 and seen[0][2] >= 1
    names = [c for c in seen[0][0].column_names if c != "_ingested_at"]  # the time of each run
    differ = [c for c in names if seen[0][0][c] != seen[1][0][c]]
    assert differ == []
    assert seen[0][1:] == seen[1][1:]


@pytest.mark.parametrize("chunk_bytes", [None, 32_768])
def test_the_json_time_field_is_the_first_records_whatever_the_chunks_and_null_only_keys(
    tmp_path, monkeypatch, chunk_bytes
):
    """Without --time-field, a JSON file's event time field is the first of timestamp,
    time, @timestamp, ts that the first record with one holds a value in. It was the first
    among the keys of the first chunk: one record at line 2,501 with a 'timestamp' beside
    its 'time' made a file read as one chunk take 'timestamp', and 2,999 of 3,000 records
    got no event time; read in 32 KiB chunks, the same file took 'time'. A logger writing
    '"timestamp": null' in every record took the null field likewise."""
    import ingest.logs.lines
    import ingest.sources

    if chunk_bytes is not None:
        monkeypatch.setattr(ingest.sources, "READ_BLOCK", chunk_bytes)
        monkeypatch.setattr(ingest.logs.lines, "CHUNK_BYTES", chunk_bytes)
    lines = [
        json.dumps({"time": f"2024-01-01T00:00:{i % 60:02d}Z", "n": i, "pad": "x" * 50})
        for i in range(3000)
    ]
    lines[2500] = json.dumps(
        {"time": "2024-01-01T00:00:00Z", "timestamp": "2023-06-01T00:00:00Z", "n": 2500}
    )
    odd = write_lines(tmp_path / "odd.jsonl", lines)
    nulls = write_lines(
        tmp_path / "nulls.jsonl",
        [json.dumps({"timestamp": None, "time": "2024-01-02T00:00:00Z", "n": i}) for i in range(3)],
    )

    for path, n in ((odd, 3000), (nulls, 3)):
        staged = stage(tmp_path, [path])
        assert staged.time_field == "time"
        assert rows(staged).column("_event_time").null_count == 0
        assert staged.staged.rows == n
