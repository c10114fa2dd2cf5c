"""S3 requests per user operation on S3 (moto) + PostgreSQL, counted in moto's request log.

    python -m bench.bench_s3_requests [--keys]

One child process makes a table of ten versions (not counted), then runs each operation once
and prints how many requests moto answered for it, by method (``LIST`` is a GET of the
bucket with ``list-type``), and with ``--keys`` every request's method and key (the
warehouse prefix cut, digits of log entries folded). Counts are deterministic for a given
code (moto serves each request; no retry happens on a quiet loopback), so one run is the
figure; a real S3 pays a round trip for each.

Counted (2026-12-07, one run each; main -> this code), requests per operation:

* ``ingest_files`` of five small new files into a new table 42 -> 30: each new object was a
  HEAD, a listing of its key as a folder (pyarrow's ``get_file_info`` of a missing key) and
  its PUT; now a HEAD (``objects.size``) and the PUT. The table's creation, below.
* a new table's first ``ingest_logs`` 28 -> 21: after creating the table the store found
  its commit by loading the log and reading its history (a listing, ``_last_checkpoint``,
  the entry three times); version 0 is now read by its key (one GET).
* ``materialize`` of 11 files 34 -> 23: its locked database checked each file with a HEAD
  for the DESCRIBE and again for the query; it now trusts its cache of lake files as the
  shared trusting database does (it can read nothing else).
* ``optimize`` 55 -> 30: it opened the kept log (moved forward: 14 requests) to learn the
  version, then loaded that version afresh by its number (15), and its record loaded the
  version before once more (15); now one fresh load, and the record takes the compaction's
  base. In this one-process run the next ``vacuum`` then moves the kept log forward
  itself (dry run 59 -> 70; a vacuum in a process of its own is unchanged).
* Unchanged: a plain ``write_table`` 4 (GET of the kept entry and HEAD of the next, the data
  PUT, the entry's put-if-absent); a checkpoint append 55 (a fresh load at its version and
  deltalake's ``create_checkpoint`` reading the segment again: 45 GETs of the ten commit
  entries); ``sql`` of the latest version 38 in a new process (11 range GETs of the
  checkpoint, a HEAD and a GET per data file); ``vacuum`` 59-60 (the kept log, a fresh load
  at the latest version, deltalake's vacuum reading the checkpoint again, two listings of
  the table folder); listing tables 0 (the catalog's).
* Not done, the largest left: a checkpoint written from what the lake holds instead of two
  reads of the log segment (~50 of its 55); vacuum's three loads of one version (the kept
  log must not stand for a version's files, see ``DeltaStore.snapshot``); the three listings
  of ``_delta_log`` (``exists``) a new table's first write makes before its create.
"""

from __future__ import annotations

import collections
import json
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent
# moto colours the lines of 206 and 404 answers: match the request, not the quote before it
LINE = re.compile(rb"(?P<method>GET|PUT|HEAD|POST|DELETE) (?P<path>/\S*) HTTP/1\.1")


def _requests(log: Path, start: int) -> tuple[int, list[tuple[str, str]]]:
    """The requests logged after byte ``start``: the new end and (method, path) pairs."""
    with open(log, "rb") as f:
        f.seek(start)
        data = f.read()
    found = [(m["method"].decode(), m["path"].decode()) for m in LINE.finditer(data)]
    return start + len(data), found


def _shape(method: str, path: str, prefix: str) -> str:
    key, _, query = path.partition("?")
    key = key.replace(prefix, "")
    key = re.sub(r"\d{20}", "N", key)
    key = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "UUID", key)
    if method == "GET" and "list-type" in query:
        listed = re.search(r"prefix=([^&]*)", query)
        after = re.search(r"start-after=([^&]*)", query)
        return f"LIST {listed[1] if listed else ''}" + (" start-after" if after else "")
    if method == "POST" and "delete" in query:
        return f"DELETE-OBJECTS {key}"
    return f"{method} {key}"


def _batch(i: int, rows: int = 100) -> Any:
    import pyarrow as pa

    return pa.table(
        {
            "id": list(range(i * rows, (i + 1) * rows)),
            "label": [f"l{n % 7}" for n in range(rows)],
        }
    )


def child(log: str, warehouse: str, catalog: str, keys: bool) -> None:
    import lake
    from lake.core import background

    place = Path(tempfile.mkdtemp(prefix="lake-bench-s3req-"))
    prefix = "/" + warehouse.removeprefix("s3://")
    end = Path(log).stat().st_size
    out: dict[str, Any] = {}
    try:
        logs = place / "logs"
        logs.mkdir()
        (logs / "a.jsonl").write_text(
            "".join(
                json.dumps({"ts": f"2026-12-01T00:00:{n % 60:02d}Z", "msg": f"m{n}"}) + "\n"
                for n in range(100)
            )
        )
        files = place / "files"
        files.mkdir()
        for n in range(5):
            (files / f"f{n}.bin").write_bytes(bytes([n]) * 1000)
        with lake.connect(warehouse=warehouse, catalog=catalog, cwd=place) as lk:
            for i in range(9):
                lk.write_table("web.t", _batch(i))
            background.drain()

            def count(name: str, action: Any) -> None:
                nonlocal end
                _, _ = _requests(Path(log), end)
                end = Path(log).stat().st_size
                action()
                background.drain()
                end, found = _requests(Path(log), end)
                methods = collections.Counter(
                    "LIST" if m == "GET" and "list-type" in p else m for m, p in found
                )
                out[name] = {"requests": len(found), **dict(sorted(methods.items()))}
                if keys:
                    out[name]["keys"] = [_shape(m, p, prefix) for m, p in found]

            count(
                "write_table (plain append, version 9)", lambda: lk.write_table("web.t", _batch(9))
            )
            count(
                "write_table (version 10, checkpoint)", lambda: lk.write_table("web.t", _batch(10))
            )
            count("ingest_logs (new table)", lambda: lk.ingest_logs("web.logs", str(logs)))
            (logs / "b.jsonl").write_text((logs / "a.jsonl").read_text())
            count("ingest_logs (append)", lambda: lk.ingest_logs("web.logs", str(logs)))
            count("ingest_files (5 files)", lambda: lk.ingest_files("web.files", str(files)))
            count("sql (latest)", lambda: lk.sql("SELECT count(*) FROM web.t"))
            count(
                "sql (VERSION AS OF 3)",
                lambda: lk.sql("SELECT count(*) FROM web.t VERSION AS OF 3"),
            )
            count(
                "materialize",
                lambda: lk.materialize("ts1", sql="SELECT * FROM web.t", out=str(place / "ts1")),
            )
            count("tables", lambda: lk.table_summaries())
            count("optimize", lambda: lk.optimize("web.t"))
            count("vacuum (dry run)", lambda: lk.vacuum("web.t", retain="0s"))
            count("vacuum (apply)", lambda: lk.vacuum("web.t", retain="0s", apply=True))
        with lake.connect(warehouse=warehouse, catalog=catalog, cwd=place) as lk:
            count("write_table (fresh connection)", lambda: lk.write_table("web.t", _batch(11)))
    finally:
        shutil.rmtree(place, ignore_errors=True)
    print(json.dumps(out), flush=True)


def measure(keys: bool) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    from bench.common import drop_pg_database, moto_s3_server, pg_database, pg_url, process_env

    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "moto.log"
        with moto_s3_server("lake-bench", log) as aws:
            db = pg_database()
            try:
                done = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        str(log),
                        f"s3://lake-bench/{uuid.uuid4().hex[:8]}",
                        pg_url(db),
                        "1" if keys else "",
                    ],
                    env=process_env(**aws),
                    capture_output=True,
                    text=True,
                    check=False,
                )
            finally:
                drop_pg_database(db)
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(scale: float = 0.1) -> list[dict[str, Any]]:
    """``make bench``: requests per operation (no baseline: the counts are the figures)."""
    del scale
    return [
        {"case": f"S3 requests, {name}", "ours_s": 0.0, "baseline_s": 0.0, "ratio": 1.0, **v}
        for name, v in measure(keys=False).items()
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3], sys.argv[4], bool(sys.argv[5]))
    else:
        for name, figures in measure("--keys" in sys.argv[1:]).items():
            keys = figures.pop("keys", None)
            print(f"{name:40} {json.dumps(figures)}")
            for key, n in collections.Counter(keys or []).most_common():
                print(f"    {n:4} {key}")
