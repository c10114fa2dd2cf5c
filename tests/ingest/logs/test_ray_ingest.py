"""`lake ingest logs --engine ray`: the files parsed by Ray tasks, one version committed by the
driver, with exactly the rows, ledger, drift history and report of a local ingest of the same
files in the same order (on the session's in-process Ray, see tests/ray_cluster.py)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import random
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from ingest.exceptions import SourceUnreadable
from ingest.logs.ray_stage import STAGING_FOLDER
from lake.core.names import TableName
from tests.conftest import DATA
from tests.ray_cluster import _children, _listening, _loopback

pytestmark = pytest.mark.xdist_group("ray")

APACHE = DATA / "elastic-logs" / "apache_logs"


def _logs(folder: Path, count: int = 20) -> list[str]:
    """``count`` log files whose types drift from file to file: a column widened from int to
    float (file 3), a new top-level column (5), a new field in an object (8), a conflict
    (11), a line that is not JSON (2), files without an event time (9, 17), Apache text
    files (6, 14) whose own time field the JSON files' choice overrides, a gzip file (13)."""
    folder.mkdir(parents=True, exist_ok=True)
    apache = APACHE.read_text().splitlines(keepends=True)
    paths = []
    for index in range(count):
        path = folder / f"app-{index:02d}.log"
        if index in (6, 14):
            path.write_text("".join(apache[index * 10 : index * 10 + 25]))
            paths.append(str(path))
            continue
        lines = []
        for line in range(40):
            record: dict[str, object] = {
                "ts": f"2026-11-{1 + (index + line) % 4:02d}T{line % 24:02d}:00:00Z",
                "level": ["info", "warn"][line % 2],
                "ms": line,
                "n": index * 100 + line,
                "req": {"path": f"/p/{line % 3}"},
            }
            if index in (9, 17):
                del record["ts"]
            if index == 3 and line >= 25:
                record["ms"] = line + 0.5
            if index >= 5 and line % 3 == 0:
                record["region"] = ["eu", "us"][line % 2]
            if index == 8 and line >= 10:
                record["req"] = {"path": "/q", "bytes": line}
            if index == 11 and line == 30:
                record["level"] = 7
            lines.append(json.dumps(record) + "\n")
        if index == 2:
            lines.insert(12, "this line is not JSON\n")
        data = "".join(lines).encode()
        if index == 13:
            path = path.with_suffix(".log.gz")
            data = gzip.compress(data, mtime=0)
        path.write_bytes(data)
        paths.append(str(path))
    return paths


def _rows(lk, table: str) -> pa.Table:
    info = lk.catalog.get_table(TableName.parse(table))
    rows = pa.table(lk.delta(info).open().to_pyarrow_table())
    rows = rows.drop_columns(["_ingested_at"])
    return rows.sort_by([("_source", "ascending"), ("_line", "ascending")])


def _ledger(lk, table: str) -> list[tuple]:
    info = lk.catalog.get_table(TableName.parse(table))
    return sorted(
        (f.uri, f.sha256, f.start_offset, f.end_offset, f.end_line, f.records, f.version)
        for f in lk.catalog.ingested_files(info)
    )


def _history(cli, table: str) -> list[dict]:
    shown = cli("schema", table, "--history", "--output", "json")
    assert shown.exit_code == 0, shown.stderr
    return shown.json()["history"]


def _report(report) -> dict:
    shown = report.to_json()
    for key in ("table", "run_id", "seconds", "engine"):
        shown.pop(key, None)
    return shown


def _same_as_local(lk, cli, paths: list[str], name: str, **options) -> dict:
    """Ingest ``paths`` locally and with Ray (with the same ``options``) into two tables;
    assert they are the same and return the Ray report's engine part."""
    local = lk.ingest_logs(f"app.{name}_local", paths, **options)
    on_ray = lk.ingest_logs(f"app.{name}_ray", paths, engine="ray", **options)
    assert on_ray.version == local.version == 0
    assert _report(on_ray) == _report(local)
    ours, theirs = _rows(lk, f"app.{name}_ray"), _rows(lk, f"app.{name}_local")
    assert ours.schema == theirs.schema
    assert ours.num_rows == theirs.num_rows == local.records_read
    assert ours.equals(theirs)
    assert _ledger(lk, f"app.{name}_ray") == _ledger(lk, f"app.{name}_local")
    assert _history(cli, f"app.{name}_ray") == _history(cli, f"app.{name}_local")
    info = lk.catalog.get_table(TableName.parse(f"app.{name}_ray"))
    assert [v.version for v in lk.catalog.versions(info)] == [0]
    assert _leftovers(lk, f"app.{name}_ray") == []
    assert on_ray.engine is not None
    return dict(on_ray.engine)


def _leftovers(lk, table: str) -> list[str]:
    """Files under the table's folder that no version of it and not its log account for."""
    info = lk.catalog.get_table(TableName.parse(table))
    fs, base = lk.storage.filesystem_for(info.location)
    found = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    files = {i.path[len(base.rstrip("/")) + 1 :] for i in found if i.type == pafs.FileType.File}
    store = lk.delta(info)
    used: set[str] = set()
    if store.exists():
        for version in range(store.snapshot().version + 1):
            used |= {f.path for f in store.snapshot(version).files}
    return sorted(f for f in files - used if not f.startswith("_delta_log/"))


@pytest.mark.slow
def test_twenty_files_on_ray_are_one_version_with_the_rows_ledger_and_drift_of_a_local_ingest(
    lk, cli, ray_cluster, tmp_path
):
    paths = _logs(tmp_path / "logs")
    engine = _same_as_local(lk, cli, paths, "twenty")
    first = [t for t in engine["tasks"] if t["step"] == "parse" and t["round"] == 0]
    assert sorted(t["source"] for t in first) == sorted(Path(p).resolve().as_uri() for p in paths)
    assert sum(t["rows"] for t in first) == 18 * 40 + 1 + 2 * 25
    # Only files whose result depends on the files before them are parsed again.
    again = [t["source"].rsplit("/", 1)[1] for t in engine["tasks"] if t["round"] > 0]
    # Files staged in an older schema than the final one are rewritten by tasks too.
    assert [t for t in engine["tasks"] if t["step"] == "conform"]
    assert again and len(again) < 20
    assert "app-03.log" in again  # it widens ms, an int in the files before it
    # Everything Ray started (the workers of this ingest too) listens on loopback only.
    listening = _listening(_children(os.getpid()) | {os.getpid()})
    assert listening and [a for a in listening if not _loopback(a)] == []


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_type_drift_across_files_in_any_order_gives_what_the_local_ingest_gives(
    lk, cli, ray_cluster, tmp_path, seed
):
    paths = _logs(tmp_path / "logs", count=18)
    random.Random(seed).shuffle(paths)
    _same_as_local(lk, cli, paths, f"order{seed}")


@pytest.mark.slow
def test_grown_files_and_a_reparse_on_ray_give_what_they_give_locally(
    lk, cli, ray_cluster, tmp_path
):
    paths = _logs(tmp_path / "logs", count=4)
    for name in ("grow_local", "grow_ray"):
        lk.ingest_logs(f"app.{name}", paths)
    record = {"ts": "2026-11-02T00:00:00Z", "level": "info", "ms": 2.5, "shard": 3}
    with open(paths[1], "a") as grown:  # a widened column, a new one, an unfinished line
        grown.write(json.dumps(record) + "\n" + '{"ts": "2026-11-02T00:00:01Z", "ms": 4')
    steps = [[], ["--reparse"]]
    for step, flags in enumerate(steps):
        if step:
            with open(paths[1], "a") as grown:
                grown.write(', "level": "warn"}\n')
        local = lk.ingest_logs("app.grow_local", paths, reparse=bool(flags))
        shown = cli(
            "ingest", "logs", "app.grow_ray", *paths, *flags, "--engine", "ray", "--output", "json"
        )
        assert shown.exit_code == 0, shown.stderr
        on_ray = shown.json()
        assert len(on_ray["engine"]["tasks"]) >= (4 if flags else 1)
        assert {
            k: v for k, v in on_ray.items() if k not in ("table", "run_id", "seconds", "engine")
        } == _report(local)
        assert _rows(lk, "app.grow_ray").equals(_rows(lk, "app.grow_local"))
        assert _ledger(lk, "app.grow_ray") == _ledger(lk, "app.grow_local")
        assert _history(cli, "app.grow_ray") == _history(cli, "app.grow_local")
        assert _leftovers(lk, "app.grow_ray") == []
    assert [f["status"] for f in on_ray["files"]] == ["reparsed"] * 4


@pytest.mark.slow
def test_logs_whose_lines_decide_the_date_order_read_on_ray_as_locally_also_grown(
    lk, cli, ray_cluster, tmp_path
):
    """European and US dd/MM/yy-shaped logs (--format auto chooses Spark's preset), one
    settled by its midnight, one of a day (no time, ambiguous), then the first grown: its
    new lines are read on Ray as locally, as auto reads them (not yy/MM/dd: 2008-11-26)."""
    from tests.ingest.logs.test_date_orders import EUROPEAN, LATEST, ONE_DAY, US

    folder = tmp_path / "orders"
    folder.mkdir()
    paths = []
    for name, text in (("eu.log", EUROPEAN), ("us.log", US), ("day.log", ONE_DAY)):
        (folder / name).write_text(text)
        paths.append(str(folder / name))
    _same_as_local(lk, cli, paths, "orders", latest=LATEST)
    with open(paths[0], "a") as grown:
        grown.write("08/11/26 10:00:00 INFO Executor: five\n")
    local = lk.ingest_logs("app.orders_local", paths, latest=LATEST)
    on_ray = lk.ingest_logs("app.orders_ray", paths, engine="ray", latest=LATEST)
    assert _report(on_ray) == _report(local)
    assert _rows(lk, "app.orders_ray").equals(_rows(lk, "app.orders_local"))
    grown_file = next(f for f in local.files if f.uri.endswith("eu.log"))
    assert (grown_file.status, grown_file.time_reasons) == ("appended", {"ambiguous": 1})


@pytest.mark.slow
def test_a_ray_worker_killed_while_staging_is_retried_and_the_ingest_is_unchanged(
    lk, cli, ray_cluster, tmp_path, monkeypatch
):
    paths = _logs(tmp_path / "logs", count=6)
    fired = tmp_path / "failpoint-fired"
    monkeypatch.setenv("LAKE_FAILPOINT", "ray_ingest_task")
    monkeypatch.setenv("LAKE_FAILPOINT_ONCE", str(fired))
    engine = _same_as_local(lk, cli, paths, "killed")
    assert fired.exists()  # a worker process did die at the failpoint
    assert len([t for t in engine["tasks"] if t["step"] == "parse" and t["round"] == 0]) == 6


@pytest.mark.slow
def test_a_failed_ray_ingest_commits_nothing_and_leaves_no_staged_file(
    lk, cli, ray_cluster, tmp_path
):
    paths = _logs(tmp_path / "logs", count=4)
    lk.ingest_logs("app.failing", paths[:2], engine="ray")
    broken = tmp_path / "logs" / "broken.log.gz"
    broken.write_bytes(gzip.compress(Path(paths[3]).read_bytes())[:-20])
    with pytest.raises(SourceUnreadable, match="broken.log.gz"):
        lk.ingest_logs("app.failing", [paths[2], str(broken)], engine="ray")
    info = lk.catalog.get_table(TableName.parse("app.failing"))
    assert [v.version for v in lk.catalog.versions(info)] == [0]
    assert lk.delta(info).snapshot().version == 0
    assert _leftovers(lk, "app.failing") == []


def test_a_ray_ingest_leaves_no_folder_marker_so_a_vacuum_after_it_commits_nothing(
    lk, backend, ray_cluster, tmp_path
):
    paths = _logs(tmp_path / "logs", count=3)
    lk.ingest_logs("app.tidy", paths, engine="ray")
    info = lk.catalog.get_table(TableName.parse("app.tidy"))
    if backend.s3 is not None:  # pyarrow's delete_dir put an empty "folder" object in its place
        assert backend.s3.folder_markers(info.location) == []
    assert _leftovers(lk, "app.tidy") == []

    (report,) = lk.vacuum("app.tidy", retain="0h", apply=True)

    assert report.files == ()
    # deltalake's full vacuum commits what it deletes (a folder object too): nothing here
    assert lk.delta(info).latest_version() == 0


def test_what_a_killed_ray_ingest_left_in_its_staging_folder_is_deleted_by_vacuum(lk, tmp_path):
    paths = _logs(tmp_path / "logs", count=1)
    lk.ingest_logs("app.orphans", paths)
    info = lk.catalog.get_table(TableName.parse("app.orphans"))
    fs, base = lk.storage.filesystem_for(info.location)
    left = f"{base.rstrip('/')}/{STAGING_FOLDER}dead-run/0123.parquet"
    if not lk.storage.is_s3:
        fs.create_dir(left.rsplit("/", 1)[0], recursive=True)
    with fs.open_output_stream(left) as out:
        out.write(b"PAR1 left by a killed run")
    assert _leftovers(lk, "app.orphans") == [f"{STAGING_FOLDER}dead-run/0123.parquet"]
    (planned,) = lk.vacuum("app.orphans", retain="0h")
    assert [path for path, _ in planned.files] == [f"{STAGING_FOLDER}dead-run/0123.parquet"]
    lk.vacuum("app.orphans", retain="0h", apply=True)
    assert _leftovers(lk, "app.orphans") == []


def test_an_unknown_engine_is_refused_before_anything_is_created(lk, cli, tmp_path):
    paths = _logs(tmp_path / "logs", count=1)
    shown = cli("ingest", "logs", "app.nothing", paths[0], "--engine", "spark")
    assert shown.exit_code == 1
    assert "Unknown engine 'spark'; use one of: local, ray." in shown.stderr
    assert [t.name for t in lk.tables()] == []


def test_without_ray_installed_the_ray_engine_is_refused_in_one_sentence(
    lk, cli, tmp_path, monkeypatch
):
    paths = _logs(tmp_path / "logs", count=1)
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets without the extra
    shown = cli("ingest", "logs", "app.noray", paths[0], "--engine", "ray")
    assert shown.exit_code == 1
    assert "needs Ray, which is not installed; pip install 'lake[ray]'" in shown.stderr
    assert [t.name for t in lk.tables()] == []


@pytest.mark.slow
def test_world_logs_on_ray_give_the_times_reasons_and_rows_of_a_local_ingest(
    lk, cli, ray_cluster, tmp_path
):
    """PostgreSQL's jsonlog in BST (no event time, a reason), Cloud Logging's object times
    (its instants; MongoDB's ``$date`` object a reason), Spring Boot's default layout (its
    own preset) and several loggers' JSON in one file (each record its own time field):
    Ray's tasks read them as the local ingest does."""
    from tests.ingest.logs import test_world_logs as world

    made = [
        world.postgres_jsonlog,
        world.cloud_logging_structured,
        world.spring_boot_log,
        world.collected_json,
    ]
    paths = [str(make(tmp_path)) for make in made]
    _same_as_local(lk, cli, paths, "world")
    rows = _rows(lk, "app.world_ray").to_pylist()
    by_file = [r["_source"].rsplit("/", 1)[1] for r in rows]
    files = {"gcp.json": 4, "node.json": 5, "postgresql.json": 4, "spring.log": 2}
    assert by_file == [name for name, n in files.items() for _ in range(n)]
    timeless = [False] * 3 + [True] + [False] * 4 + [True] * 3 + [False] * 2 + [True] * 2
    assert [r["_event_time"] is None for r in rows] == timeless
    assert rows[3]["_error"].startswith('event time \'{"$date":')  # no instant object
    assert rows[9]["_error"].startswith("event time '2024-07-21 10:00:00.123 BST' gives its zone")


@pytest.mark.slow
def test_nanoseconds_in_text_on_ray_stay_in_their_day_as_locally(lk, cli, ray_cluster, tmp_path):
    path = tmp_path / "otel.json"
    path.write_text('{"timeUnixNano":"1705881599999999999","body":"last of the day"}\n')
    options = {"time_field": "timeUnixNano", "time_format": "epoch_ns"}
    _same_as_local(lk, cli, [str(path)], "nanos", **options)
    (row,) = _rows(lk, "app.nanos_ray").to_pylist()
    assert row["_event_time"].isoformat() == "2024-01-21T23:59:59.999999+00:00"


@pytest.mark.slow
def test_cri_logs_on_ray_join_partial_lines_and_keep_nanoseconds_as_locally(
    lk, cli, ray_cluster, tmp_path
):
    from tests.ingest.logs import test_container_logs as cri

    first = cri._cri_file(tmp_path)
    (tmp_path / "crlf").mkdir()
    second = cri._cri_file(tmp_path / "crlf", ending=b"\r\n", bom=True)
    _same_as_local(lk, cli, [str(first), str(second)], "cri")
    rows = _rows(lk, "app.cri_ray").to_pylist()
    assert [r["_line"] for r in rows] == [e[0] for e in cri.EXPECTED] * 2
    assert [r["message"] for r in rows][:2] == ["GET /healthz 200", cri.A + cri.B + " tail"]
    assert [r["time_nanos"] for r in rows] == [e[2] for e in cri.EXPECTED] * 2


@pytest.mark.slow
def test_docker_json_files_on_ray_join_split_lines_as_locally(lk, cli, ray_cluster, tmp_path):
    from tests.ingest.logs import test_container_logs as cri

    first = cri._docker_file(tmp_path)
    (tmp_path / "crlf").mkdir()
    second = cri._docker_file(tmp_path / "crlf", ending="\r\n", bom=True)
    _same_as_local(lk, cli, [str(first), str(second)], "docker")
    rows = _rows(lk, "app.docker_ray").to_pylist()
    assert [(r["_line"], r["log"], r["_error"]) for r in rows] == [
        (e[0], e[1], e[4]) for e in cri.DOCKER_EXPECTED
    ] * 2


@pytest.mark.slow
def test_a_grown_file_auto_read_with_a_start_given_reads_on_with_its_preset_on_ray(
    lk, ray_cluster, tmp_path
):
    """Before (as locally): the new lines landed as plain text, every column null."""
    lines = [
        b"2023-11-14 22:13:20,323 INFO [main] com.x.Foo: started\n",
        b"2023-11-14 22:13:21,000 ERROR [main] com.x.Foo: boom\n",
        b"\tat com.x.Foo.run(Foo.java:42)\n",
    ]
    options = {"multiline_start": r"^\d{4}-\d{2}-\d{2} ", "engine": "ray"}
    path = tmp_path / "service.log"
    path.write_bytes(lines[0])
    lk.ingest_logs("app.start_ray", str(path), **options)
    path.write_bytes(b"".join(lines))

    grown = lk.ingest_logs("app.start_ray", str(path), **options)

    assert (grown.files[0].status, grown.files[0].parser) == ("appended", "log4j")
    rows = _rows(lk, "app.start_ray").to_pylist()
    assert [(r["level"], r["_line"], r["_error"]) for r in rows] == [
        ("INFO", 1, None),
        ("ERROR", 2, None),
    ]


@pytest.mark.parametrize("backend", ["local-sqlite"], indirect=True)
def test_a_copied_syslog_file_on_ray_is_refused_by_name_as_locally(
    lk, backend, ray_cluster, tmp_path
):
    """The refusal of a year-less file whose mtime is a copy's crosses from the Ray task
    with its values (the message names that file, not the other) and commits nothing."""
    from ingest.exceptions import YearUnsure

    logs = tmp_path / "logs"
    logs.mkdir()
    written = logs / "auth.log"
    written.write_text("Dec  3 10:00:01 web1 sshd[811]: Accepted publickey for deploy\n")
    at = dt.datetime(2024, 12, 3, 10, 0, 2, tzinfo=dt.UTC).timestamp()
    os.utime(written, (at, at))
    copied = logs / "auth.log.1"
    copied.write_text("Nov 20 08:00:00 web1 sshd[700]: Accepted publickey for deploy\n")
    at = dt.datetime(2025, 3, 1, tzinfo=dt.UTC).timestamp()
    os.utime(copied, (at, at))
    with pytest.raises(YearUnsure) as refused:
        lk.ingest_logs("sys.copied", str(logs), preset="syslog", engine="ray")
    assert refused.value.uri == f"file://{copied}"
    assert "'Nov 20 08:00:00' (read as 2024), is 100 days before" in str(refused.value)
    info = lk.catalog.get_table(TableName.parse("sys.copied"))
    assert list(lk.catalog.versions(info)) == []
