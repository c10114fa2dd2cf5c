"""The Ray engine of log ingest: ``lake ingest logs ... --engine ray [--ray-address ADDRESS]``.

The files are parsed on a Ray cluster by the local engine's own code (:func:`ingest.logs.stage.
stage_part`, one task per file); everything else stays on the driver, as for a local ingest
(:mod:`ingest.logs.pipeline`): what to read, the one Delta commit and the one catalog record
through ``lake.landing``, the ledger, the drift history and the report. The result is the
local ingest's: the same rows, ledger and drift entries for the same files in the same order.

How an ingest runs:

1. **Parse.** Each task stages its file as Parquet (in the schema its own records need) in a
   temporary folder of its worker, copies it into the run's staging folder in the warehouse
   (``<table>/lake-ray-stage-<run id>/``) and returns what it staged: the file's report, its
   types, its drift history and the event-time keys it used. Every task starts from the state
   the ingest starts in, as if its file came first.
2. **Reconcile.** Local staging carries a state from file to file: the types seen so far
   (drift is found relative to them), the event-time field the first file chose. The driver
   walks the files in order and computes the state each one really starts from
   (:func:`~ingest.logs.stage.reconcile_parts`); a file whose result depends on the
   difference (it widens a column an earlier file had, or it would read its event time from
   another field) is staged again, by a task given that state. Usually only files with type
   drift are; each round settles at least the first of them.
3. **Conform.** Once every file's state is right, the schema the ingest ends in is known: a
   task per file staged in an older one (a column it lacked or held narrower) rewrites those
   files in it (:func:`~ingest.logs.stage.conform_part`), as local staging rewrites the files
   it wrote before a widening.
4. **Join.** The driver copies the staged files to its own staging folder and finds the drift
   (:func:`~ingest.logs.stage.finish_parts`), then removes the warehouse staging folder; the
   pipeline lands the files as one version.

A task whose worker dies is run again by Ray (``max_retries``); a task that fails with one of
the lake's errors (an unreadable file) fails the ingest with that error, and nothing is
committed. Files a dead task or a killed driver left in the staging folder belong to no
version: ``lake vacuum`` deletes them once past the retention, like any file a killed writer
left. One file is one task: a file is never split across tasks (its records' line numbers and
the ledger's byte range come from reading it in order).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.exceptions import RayIngestError
from ingest.logs.stage import (
    PartFile,
    StageContext,
    StagedLogs,
    StagedPart,
    after_parts,
    conform_needed,
    conform_part,
    finish_parts,
    reconcile_parts,
    stage_part,
)
from lake.core.cluster import connect, first_line, import_ray, worker_storage
from lake.core.errors import LakeError, StorageError
from lake.core.failpoints import environment, failpoint
from lake.core.objects import delete_tree
from lake.core.storage import Storage

STAGING_FOLDER = "lake-ray-stage-"
"""Prefix of a run's staging folder in the table's location (not hidden, so vacuum deletes
what a killed run left there)."""
MAX_RETRIES = 3
"""Times Ray runs a task again when its worker process dies."""
Progress = Callable[[int, int, int], None]

log = logging.getLogger("lake")


@dataclass(frozen=True)
class IngestTask:
    """What one Ray task parsed (the bench's work split)."""

    source: str
    round: int
    """0: the first round; 1 and more: staged again from the state the files before left."""
    step: str
    """``parse`` (staging the file) or ``conform`` (rewriting its staged files in the final
    schema)."""
    bytes: int
    rows: int
    files: int
    """Parquet files it staged."""
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "round": self.round,
            "step": self.step,
            "bytes": self.bytes,
            "rows": self.rows,
            "files": self.files,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class RayIngest:
    """What the Ray engine did for one ingest: filled while it runs."""

    tasks: list[IngestTask] = field(default_factory=list)
    seconds_tasks: float = 0.0
    """Parsing on the cluster, every round."""
    seconds_conform: float = 0.0
    """Rewriting staged files in the final schema, on the cluster."""
    seconds_join: float = 0.0
    """Copying the staged files to the driver, rewriting, finding the drift."""

    @property
    def rounds(self) -> int:
        return max((t.round for t in self.tasks if t.step == "parse"), default=0) + 1

    def to_json(self) -> dict[str, Any]:
        return {
            "engine": "ray",
            "rounds": self.rounds,
            "tasks": [t.to_json() for t in self.tasks],
            "seconds_tasks": round(self.seconds_tasks, 3),
            "seconds_conform": round(self.seconds_conform, 3),
            "seconds_join": round(self.seconds_join, 3),
        }


def check_ray(address: str | None = None) -> None:
    """Refuse at once, before anything is created, when Ray is not installed.

    Raises:
        RayIngestError: Ray is missing.
    """
    import_ray(local=(address or os.environ.get("RAY_ADDRESS")) is None, error=RayIngestError)


def stage_logs_on_ray(
    uris: Sequence[str],
    *,
    storage: Storage,
    table_uri: str,
    run_id: str,
    staging_dir: str | os.PathLike[str],
    address: str | None = None,
    options: Mapping[str, Any],
    existing_schema: Any = None,
    resume: Mapping[str, tuple[int, int, str]] | None = None,
    parsers: Mapping[str, Mapping[str, Any]] | None = None,
    reparse: frozenset[str] = frozenset(),
    progress: Progress | None = None,
    expected_bytes: int = 0,
    run: RayIngest | None = None,
) -> StagedLogs:
    """Stage the files ``uris`` (expanded, in order) on Ray into local ``staging_dir``, as
    :func:`ingest.logs.stage.stage_logs` stages them (see the module doc). ``options``: the
    parsing options of ``stage_logs`` (``fmt``, ``pattern``, ``preset``, ``multiline_start``,
    ``time_field``, ``time_format``, ``year``, ``earliest``, ``latest``, ``encoding``);
    ``address``: the cluster (else ``RAY_ADDRESS``, else a local Ray on loopback); ``progress``
    is told of each file staged (``expected_bytes``: the bytes to read); ``run`` is filled
    with the work split.

    Raises:
        RayIngestError: Ray is missing or unreachable, or a task died more than
            :data:`MAX_RETRIES` times.
        SourceUnreadable, LogFormatError...: what staging the files locally raises.
    """
    import pyarrow as pa

    run = run if run is not None else RayIngest()
    if existing_schema is not None and not isinstance(existing_schema, pa.Schema):
        existing_schema = pa.schema(existing_schema)
    address = address or os.environ.get("RAY_ADDRESS") or None
    ray = import_ray(local=address is None, error=RayIngestError)
    staging_uri = storage.join(table_uri, f"{STAGING_FOLDER}{run_id}")
    ingested_at = datetime.now(UTC)
    started_by_us = connect(ray, address, error=RayIngestError)
    env = environment()
    task = ray.remote(num_cpus=1, max_retries=MAX_RETRIES)(_task)
    if env:  # the fault suite's failpoints reach the workers
        task = task.options(runtime_env={"env_vars": env})
    remote = worker_storage(storage)
    expect = getattr(progress, "expect", None)
    if expect is not None:
        expect(len(uris), expected_bytes)

    def submit(index: int, start: StageContext | None, round_: int) -> Any:
        uri = uris[index]
        again = uri in reparse
        return task.remote(
            remote,
            uri,
            staging_uri,
            {
                **options,
                "ingested_at": ingested_at,
                "start": start,
                "existing_schema": existing_schema,
                "resume": None if again else (resume or {}).get(uri),
                "parser": (parsers or {}).get(uri),
                "reparse": again,
            },
            round_,
        )

    try:
        started = time.perf_counter()
        parts: list[StagedPart | None] = [None] * len(uris)
        _gather(ray, {submit(i, None, 0): i for i in range(len(uris))}, parts, run, progress)
        round_ = 0
        while True:
            contexts, redo = reconcile_parts(_done(parts), existing_schema)
            if not redo:
                break
            round_ += 1
            _gather(ray, {submit(i, contexts[i], round_): i for i in redo}, parts, run, None)
        run.seconds_tasks = time.perf_counter() - started
        started = time.perf_counter()
        final = after_parts(_done(parts), contexts)
        stale = [
            i
            for i, part in enumerate(_done(parts))
            if conform_needed(part, final=final, existing_schema=existing_schema)
        ]
        if stale:
            conform = ray.remote(num_cpus=1, max_retries=MAX_RETRIES)(_conform_task)
            pending = {
                conform.remote(remote, staging_uri, parts[i], final, existing_schema): i
                for i in stale
            }
            _gather(ray, pending, parts, run, None)
        run.seconds_conform = time.perf_counter() - started
        started = time.perf_counter()
        local = [_fetch(storage, staging_uri, part, Path(staging_dir)) for part in _done(parts)]
        staged = finish_parts(
            local,
            staging_dir=staging_dir,
            ingested_at=ingested_at,
            existing_schema=existing_schema,
            time_field=options.get("time_field"),
            time_format=options.get("time_format"),
            year=options.get("year"),
            earliest=options.get("earliest"),
            latest=options.get("latest"),
        )
        run.seconds_join = time.perf_counter() - started
        return staged
    finally:
        try:
            _remove(storage, staging_uri)
        finally:
            if started_by_us:
                ray.shutdown()


def _done(parts: Sequence[StagedPart | None]) -> list[StagedPart]:
    done = [p for p in parts if p is not None]
    assert len(done) == len(parts)
    return done


def _gather(
    ray: Any,
    pending: dict[Any, int],
    parts: list[StagedPart | None],
    run: RayIngest,
    progress: Progress | None,
) -> None:
    """Wait for the tasks ``pending`` (ref -> file index), in the order they finish."""
    waiting = list(pending)
    records = done = size = 0
    try:
        while waiting:
            ready, waiting = ray.wait(waiting, num_returns=1)
            try:
                outcome = ray.get(ready[0])
            except Exception as error:  # noqa: BLE001 - a task that died (after Ray's retries)
                raise RayIngestError(
                    f"A Ray task of the ingest failed: {first_line(error)}; nothing was "
                    f"committed, run the ingest again."
                ) from error
            if outcome[0] == "error":
                raise outcome[1]
            _, part, report = outcome
            parts[pending[ready[0]]] = part
            run.tasks.append(report)
            done += 1
            records += part.report.records_read
            size += report.bytes
            if progress is not None:
                progress(done, records, size)
    except BaseException:
        # The other tasks are waited for, never cancelled: a task past its start may still be
        # copying its file into the staging folder (removed before it ends, that folder got
        # the file back: 2 staged files were left in the bucket under load), and Ray 2.60's
        # ``ray.cancel`` of a task whose reply is arriving aborts this process ("Tried to
        # complete task that was not pending", ray-project/ray#54846).
        if waiting:
            ray.wait(waiting, num_returns=len(waiting))
        raise


def _task(
    storage: Storage, uri: str, staging_uri: str, options: dict[str, Any], round_: int
) -> tuple[Any, ...]:
    """One Ray task: stage the file ``uri`` and copy its staged files into ``staging_uri``."""
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="lake-stage-") as folder:
            part = stage_part(
                uri, staging_dir=folder, filesystem_for=storage.filesystem_for, **options
            )
            fs, base = storage.filesystem_for(staging_uri)
            if not storage.is_s3:
                fs.create_dir(base, recursive=True)
            moved = []
            for file in part.files:
                moved.append(replace(file, path=_upload(file.path, fs, base)))
    except LakeError as error:
        return ("error", error)
    except OSError as error:
        return ("error", storage.translate(error, staging_uri))
    failpoint("ray_ingest_task")
    report = part.report
    return (
        "ok",
        replace(part, files=tuple(moved)),
        IngestTask(
            source=uri,
            round=round_,
            step="parse",
            bytes=report.size - report.start_offset,
            rows=part.rows,
            files=len(moved),
            seconds=time.perf_counter() - started,
        ),
    )


def _conform_task(
    storage: Storage,
    staging_uri: str,
    part: StagedPart,
    final: StageContext,
    existing_schema: Any,
) -> tuple[Any, ...]:
    """One Ray task: rewrite the staged files of ``part`` that are in an older schema than
    ``final``'s, in the warehouse's staging folder (new names; the old files go with it)."""
    import pyarrow.fs as pafs

    started = time.perf_counter()
    fs, base = storage.filesystem_for(staging_uri)

    def fetch(file: PartFile, folder: Path) -> str:
        target = str(folder / file.path)
        pafs.copy_files(
            f"{base}/{file.path}",
            target,
            source_filesystem=fs,
            destination_filesystem=pafs.LocalFileSystem(),
        )
        return target

    try:
        with tempfile.TemporaryDirectory(prefix="lake-stage-") as folder:
            done = conform_part(
                part,
                final=final,
                staging_dir=folder,
                existing_schema=existing_schema,
                fetch=fetch,
            )
            files = []
            for before, after in zip(part.files, done.files, strict=True):
                if after is before:
                    files.append(after)
                    continue
                files.append(replace(after, path=_upload(after.path, fs, base)))
    except LakeError as error:
        return ("error", error)
    except OSError as error:
        return ("error", storage.translate(error, staging_uri))
    report = part.report
    return (
        "ok",
        replace(part, files=tuple(files)),
        IngestTask(
            source=report.uri,
            round=0,
            step="conform",
            bytes=0,
            rows=part.rows,
            files=sum(1 for a, b in zip(part.files, files, strict=True) if a is not b),
            seconds=time.perf_counter() - started,
        ),
    )


def _upload(path: str, fs: Any, base: str) -> str:
    """Copy a file a task staged on its node into the run's staging folder of the warehouse
    (``base`` on ``fs``, a pyarrow file system); the name it got there."""
    import pyarrow.fs as pafs

    name = f"{uuid.uuid4().hex}.parquet"
    pafs.copy_files(
        path, f"{base}/{name}", source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs
    )
    return name


def _fetch(storage: Storage, staging_uri: str, part: StagedPart, folder: Path) -> StagedPart:
    """``part`` with its files copied from the warehouse's staging folder to ``folder``."""
    import pyarrow.fs as pafs

    fs, base = storage.filesystem_for(staging_uri)
    local = []
    for file in part.files:
        target = folder / f"ray-{file.path}"
        try:
            pafs.copy_files(
                f"{base}/{file.path}",
                str(target),
                source_filesystem=fs,
                destination_filesystem=pafs.LocalFileSystem(),
            )
        except OSError as error:
            raise storage.translate(error, staging_uri) from error
        local.append(replace(file, path=str(target)))
    return replace(part, files=tuple(local))


def _remove(storage: Storage, staging_uri: str) -> None:
    """Remove the run's staging folder from the warehouse (whatever a task left there). A
    failure only logs: what stays there belongs to no version, and vacuum deletes it."""
    try:
        delete_tree(storage, staging_uri)
    except StorageError as error:
        log.warning("Could not remove %s: %s", staging_uri, error)
