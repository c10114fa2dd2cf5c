"""Differential: how a file is cut into chunks never changes what is staged.

JSON chunks are parsed one ahead of the thread that merges their types, with the type hint
known when the parse starts, so a chunk may be read knowing less than the chunks before it
taught. The hint only spares pyarrow its inference; these tests stage one corpus of
real-shaped logs whole (one chunk a file) and in chunks of 32 KiB (hundreds of
chunks, each parsed ahead) and compare everything a user can see: rows, types, drift
entries and the per-file ledger.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from ingest.logs.stage import StagedLogs, stage_logs
from tests.ingest.logs.test_stage import rows

DATA = Path(__file__).resolve().parents[2] / "data"
REAL_JSON = [
    DATA / "elastic-logs" / "nginxplus_json_logs.jsonl",
    DATA / "real-logs" / "go-slog.jsonl",
    DATA / "real-logs" / "go-zap.jsonl",
    DATA / "real-logs" / "java-logstash.jsonl",
    DATA / "real-logs" / "odd-times.jsonl",
    DATA / "odd-bytes" / "notepad-utf8-bom.jsonl",
    DATA / "odd-bytes" / "powershell-utf16le.jsonl",
]


def _drifting(path: Path) -> Path:
    """Nested web logs whose types change well past DuckDB's 20,480-line sample: an int
    column becomes float, a key appears, a string column meets a number (a conflict), a
    nested struct gains a field; with nulls, unicode, a long line and CRLF endings."""
    r = random.Random(18)
    out = []
    for i in range(24_000):
        rec: dict[str, object] = {
            "ts": f"2026-10-{1 + i // 3_000:02d}T{i % 24:02d}:00:00Z",
            "req": {"method": r.choice(["GET", "POST"]), "path": f"/items/{i % 97}"},
            "status": 200 if i % 7 else None,
            "took_ms": i % 1000 if i < 21_000 else (i % 1000) / 7,
            "user": r.choice(["ünïcødé", "用户", "plain", None]),
            "err_code": "E1" if i < 23_000 else 17,
        }
        if i >= 21_500:
            rec["geo_region"] = r.choice(["eu", "us"])
        if i >= 22_000:
            rec["req"]["tls"] = {"version": "1.3", "ok": bool(i % 2)}  # type: ignore[index]
        if i == 22_222:
            rec["note"] = "x" * 300_000
        out.append(json.dumps(rec, ensure_ascii=False))
    path.write_bytes("\r\n".join(out).encode() + b"\r\n")
    return path


def _comparable(staged: StagedLogs) -> tuple[pa.Schema, pa.Table, list, list]:
    table = rows(staged).drop_columns(["_ingested_at"])
    drift = sorted(
        (e.column, e.kind, str(e.old_type), str(e.new_type), e.source, e.line) for e in staged.drift
    )
    ledger = sorted(
        (
            s.uri,
            s.sha256,
            s.start_offset,
            s.bytes_consumed,
            s.lines_consumed,
            s.records_read,
            s.records_failed,
            s.encoding,
            s.line_ending,
            s.records_with_time,
            tuple(sorted(s.time_reasons.items())),
        )
        for s in staged.sources
    )
    return staged.schema, table, drift, ledger


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("corpus")
    files = [shutil.copy(p, folder / p.name) for p in REAL_JSON]
    return [Path(f) for f in files] + [_drifting(folder / "drifting.jsonl")]


@pytest.mark.parametrize("chunk_bytes", [32_768])
def test_small_chunks_parsed_ahead_stage_what_whole_files_stage(
    corpus, tmp_path, monkeypatch, chunk_bytes
):
    import ingest.logs.lines

    paths = [str(p) for p in corpus]
    whole = stage_logs(paths, staging_dir=tmp_path / "whole")
    monkeypatch.setattr(ingest.logs.lines, "CHUNK_BYTES", chunk_bytes)
    chunked = stage_logs(paths, staging_dir=tmp_path / "chunked")
    schema, table, drift, ledger = _comparable(whole)
    schema2, table2, drift2, ledger2 = _comparable(chunked)
    assert schema2 == schema
    assert ledger2 == ledger
    assert drift2 == drift
    assert table2.num_rows == table.num_rows == whole.records_read
    for name in table.column_names:
        assert table2.column(name).to_pylist() == table.column(name).to_pylist(), name
    # The corpus does what it is for: late widening, a conflict, new keys at both levels.
    kinds = {(".".join(c), k, line) for c, k, _, _, _, line in drift}
    assert ("err_code", "conflict", 23_001) in kinds
    assert ("geo_region", "added", 21_501) in kinds
    assert schema.field("took_ms").type == pa.float64()
    assert schema.field("req").type.field("tls").type.field("ok").type == pa.bool_()
