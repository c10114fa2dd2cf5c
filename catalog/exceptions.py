"""Errors of the catalog's registry, lineage and retention (all :class:`LakeError`).

Each keeps the values it is about as attributes and builds its one-sentence message from
them, saying what to do.
"""

from __future__ import annotations

from collections.abc import Sequence

from lake.core.errors import CatalogError, CommitConflict, LakeError, VersionVacuumed


class TrainingSetNotFound(LakeError):
    """No training set of that name (or that version of it) is registered."""

    def __init__(self, name: str, version: int | None = None, *, latest: int | None = None) -> None:
        self.name, self.version, self.latest = name, version, latest
        if version is None:
            message = (
                f"No training set named {name!r} is registered; create it with "
                f"`lake materialize {name} ...`."
            )
        elif latest is None:
            message = (
                f"No training set named {name!r} is registered, so there is no version {version}."
            )
        else:
            message = f"Training set {name!r} has no version {version}; its latest is {latest}."
        super().__init__(message)


class TrainingSetLocationTaken(LakeError):
    """The folder or prefix is where another training-set version is recorded (its files
    may be gone from it or not moved in yet): a model or an audit refers to it there."""

    def __init__(self, location: str, name: str, version: int) -> None:
        self.location, self.name, self.version = location, name, version
        super().__init__(
            f"The output folder {location} is where training set {name}@{version} is "
            f"recorded, and the lake never gives a recorded set's folder to another: write "
            f"to a new folder, or put {name}@{version} back with `lake materialize --from "
            f"{name}@{version} --out {location}`."
        )


class SourceNotFound(LakeError):
    """No recorded source matches what ``lake impact --source`` was given, in any spelling."""

    def __init__(self, given: str, *, tried: tuple[str, ...] = (), nearest: tuple[str, ...] = ()):
        self.given, self.tried, self.nearest = given, tried, nearest
        looked = f" (looked for {', '.join(tried)})" if tried and tried != (given,) else ""
        if nearest:
            hint = f"the nearest known sources are {', '.join(nearest)}"
        else:
            hint = "no recorded source is near it; `lake runs` lists what was ingested"
        super().__init__(
            f"No source the lake recorded matches {given!r}{looked}, so its impact is unknown, "
            f"not empty: {hint}."
        )


class ModelNotFound(LakeError):
    """No model of that name (or that version of it) is registered."""

    def __init__(
        self, name: str, version: str | None = None, *, known: tuple[str, ...] = ()
    ) -> None:
        self.name, self.version, self.known = name, version, known
        if version is None or not known:
            message = (
                f"No model named {name!r} is registered; register it with "
                f"`lake model register {name} --training-set ...`."
            )
        else:
            message = (
                f"Model {name!r} has no version {version!r}; registered versions: "
                f"{', '.join(known[-10:])}."
            )
        super().__init__(message)


class ModelExists(LakeError):
    """That model version is registered already (model versions are immutable)."""

    def __init__(self, name: str, version: str) -> None:
        self.name, self.version = name, version
        super().__init__(
            f"Model {name}@{version} is already registered and model versions never change; "
            f"register a new version (omit --version to get the next one)."
        )


class TagExists(LakeError):
    """The table already has a tag of that name, on another version."""

    def __init__(self, table: str, name: str, version: int) -> None:
        self.table, self.name, self.version = table, name, version
        super().__init__(
            f"Tag {name!r} of {table} already marks version {version}; pass --move to move it, "
            f"or choose another name."
        )


class TagNotFound(LakeError):
    def __init__(self, table: str, name: str) -> None:
        self.table, self.name = table, name
        super().__init__(
            f"{table} has no tag named {name!r}; `lake tag {table} --list` shows its tags."
        )


class PinnedVersionMissing(VersionVacuumed):
    """A version that must stay readable (pinned, or within the retention) already lacks
    data files: vacuum refuses to delete anything until that is understood."""

    def __init__(self, table: str, version: int, reason: str, missing: tuple[str, ...]) -> None:
        self.table, self.version, self.reason, self.missing = table, version, reason, missing
        super().__init__(
            f"Version {version} of {table} ({reason}) is missing {len(missing)} data file(s), "
            f"e.g. {missing[0]}; vacuum deleted nothing. Restore the files from a backup, or "
            f"find what removed them, before vacuuming again."
        )


class VersionNotPinnable(VersionVacuumed):
    """A vacuum that did not keep the version deleted files since it was read: a pin on it
    could hold a version that cannot be read any more."""

    def __init__(self, table: str, version: int, run_id: str, when: str) -> None:
        self.table, self.version, self.run_id = table, version, run_id
        super().__init__(
            f"Version {version} of {table} was not kept by the vacuum of {when} (run {run_id}), "
            f"which deleted files, so it may be unreadable and cannot be pinned; pin a version "
            f"that vacuum keeps (the latest, or one within the retention), then vacuum again."
        )


class VacuumRefused(LakeError):
    """Vacuum's own plan would delete a file that a kept version needs (a safety check)."""

    def __init__(self, table: str, files: tuple[str, ...]) -> None:
        self.table, self.files = table, files
        super().__init__(
            f"Vacuum of {table} would have deleted {len(files)} file(s) that a pinned or retained "
            f"version still needs (e.g. {files[0]}); nothing was deleted. Report this as a bug."
        )


class RunNotFound(CatalogError):
    """No run with that id is in the catalog."""

    def __init__(self, run_id: str, *, ambiguous: bool = False) -> None:
        self.run_id = run_id
        super().__init__(
            f"Run id {run_id} starts more than one run's id; give more of it "
            f"(`lake runs --output json` lists whole ids)."
            if ambiguous
            else f"Run {run_id!r} is not in the catalog; list runs with `lake runs`."
        )


class RunCursorInvalid(LakeError):
    """A page of runs asked for by a cursor the lake did not hand out, or by two positions."""

    def __init__(self, token: str | None, *, reason: str | None = None) -> None:
        self.token = token
        super().__init__(
            reason
            or f"{token[:80]!r} is not a cursor of the runs' list; take next_cursor or "
            "previous_cursor from a page of runs, or start from the first page without one."
        )


class TokenNotFound(LakeError):
    """No API token with that id, or it is revoked already."""

    def __init__(self, token_id: int) -> None:
        self.token_id = token_id
        super().__init__(
            f"API token {token_id} does not exist or is revoked; list them with `lake token list`."
        )


class LeaseHeld(CommitConflict):
    """Another process holds the exclusive right to this work (see catalog/leases.py)."""


class FileBeingIngested(CommitConflict):
    """Another run took part of a source file an ingest was about to commit, after the
    ingest planned (see ``catalog.ledger.claim_files``): nothing of the ingest is committed."""

    def __init__(
        self,
        uri: str,
        table: str,
        run_id: str,
        *,
        version: int | None = None,
        same_as: str | None = None,
    ) -> None:
        self.uri, self.table, self.run_id, self.version = uri, table, run_id, version
        self.same_as = same_as
        what = uri if same_as is None else f"{uri} has the same content as {same_as}, which"
        if version is None:
            message = (
                f"{what} is being ingested into {table} by run {run_id}; run the ingest again "
                "when it is done to skip what it takes and take what it does not."
            )
        else:
            message = (
                f"{what} was ingested into {table} by run {run_id} (version {version}) while "
                "this ingest read it; run the ingest again to skip what it took and take what "
                "it did not."
            )
        super().__init__(message)


class WatermarkTaken(CommitConflict):
    """Another incremental extract into the table read past the same watermark and has
    committed, or is committing (see ``catalog.ledger.claim_watermark``): nothing of this
    one is committed."""

    def __init__(self, table: str, run_id: str, *, committed: bool) -> None:
        self.table, self.run_id, self.committed = table, run_id, committed
        if committed:
            message = (
                f"The watermark of {table} was moved by run {run_id} while this extract read "
                "the source; run the extract again to take only the rows past it."
            )
        else:
            message = (
                f"{table} is being extracted into by run {run_id} from the same watermark; "
                "run the extract again when it is done to take only the rows past it."
            )
        super().__init__(message)


class ClaimsInDoubt(CommitConflict):
    """A claim in the way of a commit (a range of its files, the rows past its watermark) is
    held by a run whose commit is in doubt: its log entry may still land, with those rows
    (see ``catalog.ledger``). Only ``lake catalog sync TABLE`` lets it go."""

    def __init__(self, table: str, run_id: str, version: int) -> None:
        self.table, self.run_id, self.version = table, run_id, version
        super().__init__(
            f"Run {run_id} may still commit what this write takes from its sources to "
            f"{table} (its commit of version {version} is in doubt); run "
            f"`lake catalog sync {table}` first."
        )


class ClaimsOfEndedRuns(CommitConflict):
    """Claims in the way of a commit (ranges of its files, rows past its watermark) are
    held by runs that ended (or whose process is gone) without recording a commit: whether
    their commit landed only the table's log can tell (``lake.landing.commits`` syncs, then
    lets them go with ``catalog.ledger.abandon_claims``)."""

    def __init__(self, run_ids: Sequence[str]) -> None:
        self.run_ids = tuple(run_ids)
        super().__init__(
            f"Runs {', '.join(self.run_ids)} ended holding claims on the table they wrote; "
            "run the command again."
        )
