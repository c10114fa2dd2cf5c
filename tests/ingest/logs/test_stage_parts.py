"""Staging files apart (what the Ray engine does, here without Ray): each file staged on its own
with ``stage_part``, the parts reconciled in file order and joined with ``finish_parts`` give
what ``stage_logs`` gives for the same files in the same order: schema, rows, drift, reports."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.logs.stage import (
    StagedLogs,
    after_parts,
    conform_needed,
    conform_part,
    finish_parts,
    reconcile_parts,
    stage_logs,
    stage_part,
)
from tests.ingest.logs.test_stage import APACHE, rows


def _json(path: Path, records: list[dict], *, extra: list[str] = ()) -> str:
    lines = [json.dumps(r) + "\n" for r in records]
    for position, line in enumerate(extra):
        lines.insert(3 + position, line)
    path.write_text("".join(lines))
    return path.resolve().as_uri()


def _files(folder: Path) -> list[str]:
    """Files whose staging depends on the files before them: widening, a conflict, new
    columns and nested fields, event times under two keys and none, text with its own
    time, invalid UTF-8, an empty file."""
    folder.mkdir()
    day = "2026-11-0{}T10:00:00Z"
    uris = [
        _json(folder / "a.jsonl", [{"ts": day.format(1 + i % 3), "n": i} for i in range(30)]),
        _json(
            folder / "b.jsonl",
            [{"ts": day.format(2), "n": i + (0.5 if i > 12 else 0)} for i in range(30)],
        ),
        _json(
            folder / "c.jsonl",
            [{"time": day.format(3), "n": i, "ctx": {"k": i}} for i in range(20)],
        ),
        _json(folder / "d.jsonl", [{"n": i, "ctx": {"k": i, "j": "x"}} for i in range(20)]),
        _json(
            folder / "e.jsonl",
            [{"ts": day.format(4), "n": "many" if i == 15 else i} for i in range(20)],
            extra=["not json\n"],
        ),
        _json(folder / "f.jsonl", [{"ts": day.format(5), "new": [1, 2]} for _ in range(10)]),
    ]
    text = folder / "g.log"
    text.write_text("".join(APACHE.read_text().splitlines(keepends=True)[:15]))
    uris.append(text.resolve().as_uri())
    bad = folder / "h.jsonl"
    bad.write_bytes(b'{"ts": "2026-11-06T10:00:00Z", "n": 1}\n{"n": "\xff\xfe"}\n')
    uris.append(bad.resolve().as_uri())
    empty = folder / "i.jsonl"
    empty.write_text("")
    uris.append(empty.resolve().as_uri())
    return uris


def _by_parts(
    uris: list[str], folder: Path, *, conform: bool = True, **options
) -> tuple[StagedLogs, int]:
    """The Ray engine's steps, in this process: stage apart, reconcile, stage again, rewrite
    the parts in the final schema (``conform``; else the join does it), join."""
    at = datetime.now(UTC)
    parts = [
        stage_part(u, staging_dir=folder / f"p{i}", ingested_at=at, **options)
        for i, u in enumerate(uris)
    ]
    rounds = 1
    while True:
        contexts, redo = reconcile_parts(parts, options.get("existing_schema"))
        if not redo:
            break
        rounds += 1
        for i in redo:
            parts[i] = stage_part(
                uris[i],
                staging_dir=folder / f"p{i}-{rounds}",
                ingested_at=at,
                start=contexts[i],
                **options,
            )
    if conform:
        final = after_parts(parts, contexts)
        parts = [
            conform_part(
                p,
                final=final,
                staging_dir=folder / f"c{i}",
                existing_schema=options.get("existing_schema"),
            )
            for i, p in enumerate(parts)
        ]
        assert not any(
            conform_needed(p, final=final, existing_schema=options.get("existing_schema"))
            for p in parts
        )
    joined = finish_parts(
        parts,
        staging_dir=folder / "joined",
        ingested_at=at,
        existing_schema=options.get("existing_schema"),
    )
    return joined, rounds


def _same(staged: StagedLogs, joined: StagedLogs) -> None:
    assert joined.schema == staged.schema
    ours, theirs = rows(joined), rows(staged)
    assert ours.drop_columns(["_ingested_at"]).equals(theirs.drop_columns(["_ingested_at"]))
    assert joined.drift == staged.drift
    assert joined.sources == staged.sources
    assert joined.time_field == staged.time_field


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_files_staged_apart_and_joined_in_any_order_are_what_staging_them_together_gives(
    tmp_path, seed
):
    uris = _files(tmp_path / "logs")
    if seed:
        random.Random(seed).shuffle(uris)
    staged = stage_logs(uris, staging_dir=tmp_path / "together")
    joined, rounds = _by_parts(uris, tmp_path / "apart", conform=seed % 2 == 0)
    _same(staged, joined)
    assert rounds <= len(uris)


def test_files_staged_apart_into_an_existing_table_keep_its_types_and_layout(tmp_path):
    uris = _files(tmp_path / "logs")
    first = stage_logs(uris[:2], staging_dir=tmp_path / "first")
    later = list(reversed(uris[2:]))
    staged = stage_logs(later, staging_dir=tmp_path / "together", existing_schema=first.schema)
    joined, _ = _by_parts(later, tmp_path / "apart", existing_schema=first.schema)
    _same(staged, joined)
    assert "_event_time" in joined.schema.names


def test_a_part_that_only_repeats_the_types_before_it_is_not_staged_again(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    uris = [
        _json(folder / f"{n}.jsonl", [{"ts": "2026-11-01T00:00:00Z", "n": i} for i in range(9)])
        for n in range(3)
    ]
    uris.append(_json(folder / "wide.jsonl", [{"n": 0.5}, {"n": 1}]))
    parts = [
        stage_part(u, staging_dir=tmp_path / str(i), ingested_at=datetime.now(UTC))
        for i, u in enumerate(uris)
    ]
    contexts, redo = reconcile_parts(parts, None)
    assert redo == [3]  # it widens n, an int in the files before it
    assert contexts[3].time_keys == ("ts",)
    assert dict(contexts[3].types.fields)["n"] == dict(parts[0].own.fields)["n"]
    with pytest.raises(ValueError, match=r"parts \[3\] were staged from another context"):
        finish_parts(parts, staging_dir=tmp_path / "joined", ingested_at=datetime.now(UTC))


def test_a_file_without_event_times_after_a_text_file_with_them_gets_a_null_time_as_locally(
    tmp_path,
):
    # The text file's preset has a time but sets no JSON key: only has_time carries over.
    uris = _files(tmp_path / "logs")
    ordered = [uris[6], uris[3], uris[8]]  # Apache text, JSON without a time, an empty file
    staged = stage_logs(ordered, staging_dir=tmp_path / "together")
    joined, rounds = _by_parts(ordered, tmp_path / "apart")
    _same(staged, joined)
    assert rounds == 2
    assert [s.records_with_time for s in joined.sources][1:] == [0, 0]
