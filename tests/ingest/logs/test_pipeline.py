"""`lake ingest logs` end to end, on both backend pairs: real logs, ledger, one commit per call."""

from __future__ import annotations

import gzip
import json
import shutil
import tempfile
import threading
from pathlib import Path

import pyarrow as pa
import pytest

from ingest.exceptions import IngestError, SourceNotFound, SourceUnreadable
from lake.core.names import TableName
from lake.landing.staging import LOCK_NAME
from tests.conftest import DATA

APACHE = DATA / "elastic-logs" / "apache_logs"
NGINX = DATA / "elastic-logs" / "nginxplus_json_logs.jsonl"


def _rows(lk, table: str, version: int | None = None) -> pa.Table:
    info = lk.catalog.get_table(TableName.parse(table))
    snapshot = lk.delta(info).snapshot(version)
    dt = lk.delta(info).open(snapshot.version)
    return pa.table(dt.to_pyarrow_table())


def _upload(backend, local: Path, key: str) -> str:
    """Put a file on the test's S3 server and return its s3:// URI."""
    backend.s3.client().upload_file(str(local), backend.s3.bucket, key)
    return f"s3://{backend.s3.bucket}/{key}"


def test_real_apache_logs_ingest_with_every_record_counted_and_typed(lk):
    report = lk.ingest_logs("web.access", str(APACHE), preset="apache-combined")

    assert (report.version, report.records_read, report.records_parsed, report.records_failed) == (
        0,
        10_000,
        10_000,
        0,
    )
    rows = _rows(lk, "web.access")
    assert rows.num_rows == 10_000
    assert sorted(rows.column("_line").to_pylist()) == list(range(1, 10_001))
    assert set(rows.column("_source").to_pylist()) == {APACHE.resolve().as_uri()}
    assert rows.schema.field("status").type == pa.int64()
    assert rows.schema.field("bytes").type == pa.int64()
    assert pa.types.is_timestamp(rows.schema.field("_event_time").type)
    assert rows.column("_error").null_count == 10_000
    first = rows.sort_by("_line").slice(0, 1).to_pylist()[0]
    assert first["client_ip"] == "83.149.9.216"
    assert first["method"] == "GET"
    assert first["status"] == 200
    assert first["_raw"] == APACHE.read_text().splitlines()[0]
    described = lk.describe("web.access")
    assert described.snapshot.partition_columns == ("_event_date",)
    assert described.version.rows_total == 10_000


def test_nested_json_logs_keep_their_nesting(lk):
    report = lk.ingest_logs("web.nginx", str(NGINX))
    assert (report.records_read, report.records_failed) == (500, 0)
    rows = _rows(lk, "web.nginx")
    assert rows.num_rows == 500
    assert pa.types.is_struct(rows.schema.field("server_zones").type)
    assert pa.types.is_struct(rows.schema.field("connections").type)
    line_one = json.loads(NGINX.read_text().splitlines()[0])
    first = rows.sort_by("_line").slice(0, 1).to_pylist()[0]
    assert first["connections"]["accepted"] == line_one["connections"]["accepted"]
    assert (
        first["server_zones"]["hg.nginx.org"]["requests"]
        == line_one["server_zones"]["hg.nginx.org"]["requests"]
    )


def _emptied_and_kept(temporary: Path) -> bool:
    """The run staged in ``temporary`` and left no staged file: its one folder is emptied and
    kept, locked, for the process's next run (lake.landing.staging)."""
    folders = list(temporary.iterdir())
    return len(folders) == 1 and [p.name for p in folders[0].rglob("*") if p.is_file()] == [
        LOCK_NAME
    ]


def test_logs_staged_on_another_file_system_are_copied_whole_into_the_table(lk, monkeypatch):
    # A local table takes staged files by hard link; staging on tmpfs forces the copy.
    # A folder of its own: the test runs for both backends at once, on two workers.
    shm = Path(tempfile.mkdtemp(prefix="lake-test-", dir="/dev/shm"))
    monkeypatch.setattr(tempfile, "tempdir", str(shm))
    try:
        report = lk.ingest_logs("web.copied", str(APACHE), preset="apache-combined")
        assert _emptied_and_kept(shm)
    finally:
        shutil.rmtree(shm, ignore_errors=True)
    rows = _rows(lk, "web.copied")
    assert rows.num_rows == report.records_read == 10_000
    assert sorted(rows.column("_line").to_pylist()) == list(range(1, 10_001))
    assert rows.sort_by("_line").column("_raw")[0].as_py() == APACHE.read_text().splitlines()[0]


@pytest.mark.parametrize("backend", ["s3-postgres"], indirect=True)
def test_logs_under_an_s3_prefix_ingest_like_local_ones(lk, backend, tmp_path):
    part = tmp_path / "part.log.gz"
    lines = APACHE.read_text().splitlines(keepends=True)
    part.write_bytes(gzip.compress("".join(lines[:300]).encode()))
    _upload(backend, part, "incoming/2015/a.log.gz")
    _upload(backend, APACHE, "incoming/2015/b.log")

    report = lk.ingest_logs(
        "web.access", f"s3://{backend.s3.bucket}/incoming/", preset="apache-combined"
    )

    assert report.records_read == 10_300
    assert {f.uri for f in report.files} == {
        f"s3://{backend.s3.bucket}/incoming/2015/a.log.gz",
        f"s3://{backend.s3.bucket}/incoming/2015/b.log",
    }
    assert _rows(lk, "web.access").num_rows == 10_300


@pytest.mark.parametrize("backend", ["s3-postgres"], indirect=True)
def test_an_unreadable_s3_prefix_is_one_sentence_and_creates_nothing(lk, backend, cli):
    missing = f"s3://{backend.s3.bucket}-nobody-made/incoming/"

    result = cli("ingest", "logs", "web.access", missing)

    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"{backend.s3.bucket}-nobody-made" in result.stderr
    assert lk.tables() == []


def test_one_call_is_one_commit_and_the_same_content_is_never_ingested_twice(lk, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    lines = APACHE.read_text().splitlines(keepends=True)
    (logs / "a.log").write_text("".join(lines[:100]))
    (logs / "b.log").write_text("".join(lines[100:250]))

    first = lk.ingest_logs("web.access", str(logs), preset="apache-combined")
    assert (first.version, first.records_read) == (0, 250)

    again = lk.ingest_logs("web.access", str(logs), preset="apache-combined")
    assert again.version is None
    assert [f.status for f in again.files] == ["skipped", "skipped"]

    shutil.copy(logs / "a.log", tmp_path / "renamed.log")
    copied = lk.ingest_logs("web.access", str(tmp_path / "renamed.log"), preset="apache-combined")
    assert copied.version is None
    assert "same content as" in copied.files[0].note

    assert [v.version for v in lk.history("web.access")] == [0]
    assert _rows(lk, "web.access").num_rows == 250


def test_a_grown_log_ingests_only_its_new_records(lk, tmp_path):
    log = tmp_path / "app.log"
    lines = APACHE.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:40]))
    lk.ingest_logs("web.access", str(log), preset="apache-combined")
    with log.open("a") as handle:
        handle.write("".join(lines[40:55]))

    grown = lk.ingest_logs("web.access", str(log), preset="apache-combined")

    assert grown.version == 1
    assert grown.files[0].status == "appended"
    assert grown.records_read == 15
    rows = _rows(lk, "web.access")
    assert rows.num_rows == 55
    assert sorted(rows.column("_line").to_pylist()) == list(range(1, 56))
    assert lk.history("web.access")[1].rows_added == 15


def test_a_truncated_file_in_a_batch_commits_nothing_and_names_the_file(lk, tmp_path):
    lines = APACHE.read_text().splitlines(keepends=True)
    lk.ingest_logs(
        "web.access", _write(tmp_path / "first.log", lines[:10]), preset="apache-combined"
    )
    good = _write(tmp_path / "batch" / "good.log", lines[10:20])
    broken = tmp_path / "batch" / "broken.log.gz"
    broken.write_bytes(gzip.compress("".join(lines[20:2000]).encode())[:-200])

    with pytest.raises(SourceUnreadable, match="broken.log.gz"):
        lk.ingest_logs("web.access", str(tmp_path / "batch"), preset="apache-combined")

    assert [v.version for v in lk.history("web.access")] == [0]
    assert _rows(lk, "web.access").num_rows == 10
    failed = [r for r in lk.runs() if r.status == "failed"]
    assert len(failed) == 1 and "broken.log.gz" in failed[0].error
    retry = lk.ingest_logs("web.access", good, preset="apache-combined")
    assert retry.records_read == 10


def test_a_failed_write_on_the_second_encoder_thread_commits_nothing_and_leaves_no_file(
    lk, tmp_path, monkeypatch
):
    """Staged files are encoded on two threads, each file on one of them: a write failing on
    the second fails the ingest with our error, and nothing of it stays or is committed."""
    import pyarrow.parquet as pq

    lk.ingest_logs("web.days", _write(tmp_path / "first.jsonl", [_day_line(0, 0)]))
    # Four days, over the size staged on the calling thread alone: the days' files go to
    # the encoder threads in turn.
    lines = [_day_line(i % 4, i) for i in range(8_000)]
    days = _write(tmp_path / "days.jsonl", sorted(lines))
    real = pq.ParquetWriter.write_table
    failed = []

    def write_table(self, table, *args, **kwargs):
        if threading.current_thread().name == "lake-log-writer-1":
            failed.append(table.num_rows)
            raise OSError(28, "No space left on device")
        return real(self, table, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", write_table)
    staging = Path(tempfile.mkdtemp(prefix="lake-test-", dir=tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(staging))

    with pytest.raises(IngestError, match="Cannot write staged Parquet: .*No space left"):
        lk.ingest_logs("web.days", days)

    assert failed  # the second thread did get a file
    assert _emptied_and_kept(staging)
    assert [v.version for v in lk.history("web.days")] == [0]
    assert _rows(lk, "web.days").num_rows == 1
    [run] = [r for r in lk.runs() if r.status == "failed"]
    assert "No space left on device" in run.error
    monkeypatch.setattr(pq.ParquetWriter, "write_table", real)
    assert lk.ingest_logs("web.days", days).records_read == 8_000


def _day_line(day: int, i: int) -> str:
    ts = f"2026-10-{day + 1:02d}T{i % 24:02d}:{i % 60:02d}:00Z"
    return json.dumps({"ts": ts, "n": i, "path": f"/items/{i % 97}", "pad": "x" * 40}) + "\n"


def test_a_path_that_does_not_exist_creates_nothing(lk, tmp_path):
    with pytest.raises(SourceNotFound, match="nowhere.log"):
        lk.ingest_logs("web.access", str(tmp_path / "nowhere.log"))
    assert lk.tables() == []


def test_new_fields_in_a_later_ingest_evolve_the_table_and_the_drift_ledger(lk, tmp_path, cli):
    first = _write(
        tmp_path / "day1.jsonl",
        [json.dumps({"ts": 1700000000 + i, "user": f"u{i}", "ms": i}) + "\n" for i in range(50)],
    )
    second = _write(
        tmp_path / "day2.jsonl",
        [
            json.dumps({"ts": 1700100000 + i, "user": f"v{i}", "ms": i, "region": "eu"}) + "\n"
            for i in range(30)
        ],
    )
    lk.ingest_logs("app.events", first)
    report = lk.ingest_logs("app.events", second)

    assert report.version == 1
    rows = _rows(lk, "app.events")
    assert rows.num_rows == 80
    assert sorted(r for r in rows.column("region").to_pylist() if r) == ["eu"] * 30
    ledger = cli("schema", "app.events", "--history", "--output", "json").json()["history"]
    region = [c for c in ledger if c["column"] == "region"]
    assert len(region) == 1
    assert region[0]["version"] == 1 and region[0]["change"] == "added"
    assert region[0]["source"] == Path(second).resolve().as_uri() and region[0]["line"] == 1


def test_a_column_another_thread_added_since_is_not_drift_of_this_threads_next_ingest(
    lk, tmp_path, cli
):
    """Another writer's column, added since this thread's last append (the version a
    writer keeps), is found in the table, not recorded as this ingest's drift again (as a
    stage made on what the thread kept, tried once to fill S3's first wait, recorded it)."""

    def day(i: int, **more: object) -> str:
        record = {"ts": 1700000000 + i, "user": f"u{i}", "ms": i, **more}
        return _write(tmp_path / f"day{i}.jsonl", [json.dumps(record) + "\n"])

    lk.ingest_logs("app.events", day(0))
    lk.ingest_logs("app.events", day(1))  # this thread appended version 1 last
    other = threading.Thread(target=lk.ingest_logs, args=("app.events", day(2, region="eu")))
    other.start()
    other.join()
    report = lk.ingest_logs("app.events", day(3, region="us"))

    assert report.version == 3 and report.drift == ()
    ledger = cli("schema", "app.events", "--history", "--output", "json").json()["history"]
    assert [(c["version"], c["change"]) for c in ledger if c["column"] == "region"] == [
        (2, "added")
    ]
    assert sorted(r or "" for r in _rows(lk, "app.events").column("region").to_pylist()) == [
        "",
        "",
        "eu",
        "us",
    ]


def test_a_later_ingest_that_widens_a_column_rewrites_the_old_rows_without_loss(lk, tmp_path, cli):
    ints = _write(
        tmp_path / "a.jsonl", [json.dumps({"n": i, "ctx": {"k": i}}) + "\n" for i in range(3)]
    )
    floats = _write(tmp_path / "b.jsonl", [json.dumps({"n": 2.5, "ctx": {"k": 0.5}}) + "\n"])
    words = _write(tmp_path / "c.jsonl", [json.dumps({"n": "many", "ctx": {"k": 1}}) + "\n"])

    lk.ingest_logs("app.counts", ints)
    widened = lk.ingest_logs("app.counts", floats)
    rows = _rows(lk, "app.counts").sort_by("_raw")
    assert rows.schema.field("n").type == pa.float64()
    assert rows.column("n").to_pylist() == [0.0, 1.0, 2.0, 2.5]
    assert [c["k"] for c in rows.column("ctx").to_pylist()] == [0.0, 1.0, 2.0, 0.5]

    lk.ingest_logs("app.counts", words)
    rows = _rows(lk, "app.counts").sort_by("_raw")
    assert rows.schema.field("n").type == pa.string()
    assert rows.column("n").to_pylist() == ['"many"', "0.0", "1.0", "2.0", "2.5"]
    assert rows.column("_error").null_count == rows.num_rows

    # Time travel still shows each version in its own types.
    first = lk.sql("SELECT n FROM app.counts VERSION AS OF 0 ORDER BY n").table
    assert first.schema.field("n").type == pa.int64() and first.column("n").to_pylist() == [0, 1, 2]
    assert widened.version == 1
    ledger = cli("schema", "app.counts", "--history", "--output", "json").json()["history"]
    changes = {(c["column"], c["change"], c["version"]) for c in ledger}
    assert {("n", "widened", 1), ("ctx.k", "widened", 1), ("n", "conflict", 2)} <= changes


def test_a_type_change_past_line_30000_is_kept_and_shows_in_the_drift_ledger(lk, tmp_path, cli):
    lines = [json.dumps({"id": i, "code": i % 7}) + "\n" for i in range(35_000)]
    lines[30_500] = json.dumps({"id": 30_500, "code": "E42", "extra": {"k": True}}) + "\n"
    log = _write(tmp_path / "big.jsonl", lines)

    report = lk.ingest_logs("app.big", log)

    assert (report.records_read, report.records_failed) == (35_000, 0)
    codes = lk.sql("SELECT code FROM app.big WHERE id IN (0, 30500) ORDER BY id").table.column(
        "code"
    )
    assert codes.to_pylist() == ["0", '"E42"']
    ledger = cli("schema", "app.big", "--history", "--output", "json").json()["history"]
    found = {c["column"]: c for c in ledger}
    assert found["code"]["change"] == "conflict" and found["code"]["line"] == 30_501
    assert found["code"]["new_type"] == "json"
    assert found["extra"]["change"] == "added" and found["extra"]["line"] == 30_501
    assert found["code"]["source"] == Path(log).resolve().as_uri()


# 2**53 + 1: the first integer a double cannot hold (it reads back as 2**53).
_WIDE = 9_007_199_254_740_993


@pytest.mark.parametrize(
    "lines",
    [
        # One chunk, the wide int and the float on neighbouring lines (both readers).
        [{"n": _WIDE}, {"n": 1.5}],
        [{"n": 1.5}, {"n": _WIDE}],
        [{"ctx": {"n": _WIDE}}, {"ctx": {"n": 1.5}}],
        [{"ns": [_WIDE, 2]}, {"ns": [1.5]}],
        # Thousands of lines apart: the int read in an early chunk, the float in a later one.
        [{"n": _WIDE + i} for i in range(6_000)] + [{"n": 0.5}],
    ],
    ids=["int-first", "float-first", "in-struct", "in-list", "chunks-apart"],
)
def test_an_integer_no_double_holds_meeting_a_float_keeps_every_digit(
    lk, tmp_path, monkeypatch, lines
):
    """int and float widen to float only when the float holds every int exactly: an
    integer beyond 2**53 beside a float makes the column json (as one beyond 64 bits does),
    never a double that silently reads 9007199254740992 for 9007199254740993."""
    import ingest.logs.lines
    import ingest.sources

    monkeypatch.setattr(ingest.sources, "READ_BLOCK", 32_768)
    monkeypatch.setattr(ingest.logs.lines, "CHUNK_BYTES", 32_768)
    log = _write(tmp_path / "wide.jsonl", [json.dumps(r) + "\n" for r in lines])

    report = lk.ingest_logs("app.wide", log)

    assert (report.records_read, report.records_failed) == (len(lines), 0)
    rows = _rows(lk, "app.wide").sort_by("_line")
    key = next(iter(lines[0]))
    stored = [{key: _decoded(v)} for v in rows.column(key).to_pylist()]
    assert stored == lines
    assert repr(stored) == repr(lines)  # 1.5 stays a float, every int an int
    if key == "n":  # a new struct or list is one "added" entry in its final type
        drift = [(d["change"], d["new_type"]) for d in report.drift]
        assert drift[-1] == ("conflict", "json"), drift


def test_an_integer_no_double_holds_appended_to_a_float_column_keeps_every_digit(lk, tmp_path, cli):
    """A float column meeting an integer beyond 2**53 in a later ingest becomes json (its
    rows rewritten as their JSON text in the same commit), as in one file: not a double
    that reads 9007199254740992."""
    floats = _write(tmp_path / "a.jsonl", [json.dumps({"n": 2.5}) + "\n"])
    wide = _write(tmp_path / "b.jsonl", [json.dumps({"n": _WIDE}) + "\n"])

    lk.ingest_logs("app.widened", floats)
    lk.ingest_logs("app.widened", wide)

    rows = _rows(lk, "app.widened").sort_by("_source")
    assert [_decoded(v) for v in rows.column("n").to_pylist()] == [2.5, _WIDE]
    ledger = cli("schema", "app.widened", "--history", "--output", "json").json()["history"]
    assert [(c["change"], c["new_type"], c["version"]) for c in ledger] == [
        ("added", "double", 0),
        ("conflict", "json", 1),
    ]


def _decoded(value: object) -> object:
    """A stored value as the JSON it was: a json column's text read back, at any depth."""
    if isinstance(value, str):
        return json.loads(value)
    if isinstance(value, dict):
        return {k: _decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value


def test_ingest_logs_from_the_command_line_reports_counts(cli, tmp_path):
    log = _write(
        tmp_path / "x.log",
        APACHE.read_text().splitlines(keepends=True)[:20] + ["this is not an access log line\n"],
    )
    result = cli(
        "ingest", "logs", "web.access", log, "--preset", "apache-combined", "--output", "json"
    )
    assert result.exit_code == 0, result.stderr
    report = result.json()
    assert (report["records_read"], report["records_parsed"], report["records_failed"]) == (
        21,
        20,
        1,
    )
    assert report["version"] == 0
    table = cli("ingest", "logs", "web.access", log, "--preset", "apache-combined")
    assert "1 file skipped" in table.stdout


def _write(path: Path, lines: list[str]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))
    return str(path)
