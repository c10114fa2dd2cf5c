"""``.lake/manifest.json``: what a training-set folder holds and how to make it again.

The manifest lives in the folder's ``.lake/`` subfolder, a name the loaders skip: pandas and
``pyarrow.dataset`` ignore names starting with ``.`` or ``_``, Hugging Face ``datasets``
only those starting with ``.`` (``_lake/`` would break it), so ``pandas.read_parquet(DIR)``
and ``load_dataset("parquet", data_dir=DIR)`` read the training set and nothing else.
polars 2.1 refuses a bare folder holding any file that is not Parquet, hidden or not: give
it ``DIR/*.parquet``. Folders written before that change hold ``DIR/lake-manifest.json``; it
is still read (:func:`find_manifest`), and replaced by ``.lake/manifest.json`` when the lake
next writes that folder.

.. code-block:: json

    {
      "format": "lake-training-set/1",
      "name": "churn",
      "version": 2,
      "sql": "SELECT ... FROM web.access JOIN shop.orders USING (user_id)",
      "order": "ORDER BY all output columns",
      "inputs": [{"table": "web.access", "version": 5,
                  "committed_at": "2026-11-23T19:00:00+00:00"}],
      "references": [{"table": "web.access", "clause": null, "version": 5}],
      "schema": [{"name": "user_id", "type": "int64", "nullable": true}],
      "row_count": 1234,
      "content_hash": "9f2c...",
      "content_hash_scheme": "lake-content-hash/1",
      "files": [{"path": "part-00000.parquet", "rows": 1234, "bytes": 56789, "sha256": "..."}],
      "writer": {"library": "pyarrow 26.0.1", "compression": "zstd", "row_group_rows": 65536, ...},
      "run_id": "...",
      "created_at": "2026-11-23T19:05:00+00:00"
    }

``inputs`` lists every table version the query read (once each); ``references`` says, for
each table named in the SQL, which version its clause resolved to, so a rebuild reads the
same versions even for names without a time-travel clause. ``content_hash`` is defined in
:mod:`queries.content_hash`; ``files`` lets anyone check the folder with ``sha256sum``.

The manifest is written last, atomically (a temporary file renamed into place): a folder
without one is an unfinished write and is never taken for a training set.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from queries.exceptions import ManifestError

LAKE_FOLDER = ".lake"
"""The folder's own subfolder for lake files (manifest, install journal): loaders skip it."""
MANIFEST_NAME = "manifest.json"
MANIFEST_PATH = f"{LAKE_FOLDER}/{MANIFEST_NAME}"
"""Where the manifest is, relative to the training set's folder."""
OLD_MANIFEST_NAME = "lake-manifest.json"
"""Where folders written before ``.lake/`` held it (still read, never written)."""
FORMAT = "lake-training-set/1"


def unlisted(relatives: Iterable[str], manifest: Manifest) -> list[str]:
    """The files among ``relatives`` (paths relative to a set's folder) that loaders of the
    folder read but ``manifest`` does not list: ``pandas.read_parquet(DIR)`` and
    ``pyarrow.dataset`` read every file below it except those under a name starting with
    ``.`` or ``_``. Such a file makes the folder another set than the one recorded."""
    listed = {str(f["path"]) for f in manifest.files}
    return sorted(
        relative
        for relative in relatives
        if relative not in listed
        and relative != OLD_MANIFEST_NAME
        and not any(part.startswith((".", "_")) for part in relative.split("/"))
    )


@dataclass(frozen=True)
class Manifest:
    name: str
    version: int
    sql: str
    order: str
    inputs: tuple[Mapping[str, Any], ...]
    references: tuple[Mapping[str, Any], ...]
    schema: tuple[Mapping[str, Any], ...]
    row_count: int
    content_hash: str
    content_hash_scheme: str
    files: tuple[Mapping[str, Any], ...]
    writer: Mapping[str, Any]
    run_id: str | None
    created_at: str
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = {
            "format": FORMAT,
            "name": self.name,
            "version": self.version,
            "sql": self.sql,
            "order": self.order,
            "inputs": [dict(i) for i in self.inputs],
            "references": [dict(r) for r in self.references],
            "schema": [dict(s) for s in self.schema],
            "row_count": self.row_count,
            "content_hash": self.content_hash,
            "content_hash_scheme": self.content_hash_scheme,
            "files": [dict(f) for f in self.files],
            "writer": dict(self.writer),
            "run_id": self.run_id,
            "created_at": self.created_at,
        }
        data.update(self.extra)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, where: str) -> Manifest:
        """Raises: ManifestError naming the missing or malformed field."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise ManifestError(
                f"{where} is not a lake training-set manifest (its format is "
                f"{data.get('format') if isinstance(data, Mapping) else type(data).__name__!r}, "
                f"expected {FORMAT!r})."
            )
        known = {
            "format",
            "name",
            "version",
            "sql",
            "order",
            "inputs",
            "references",
            "schema",
            "row_count",
            "content_hash",
            "content_hash_scheme",
            "files",
            "writer",
            "run_id",
            "created_at",
        }
        try:
            return cls(
                name=str(data["name"]),
                version=int(data["version"]),
                sql=str(data["sql"]),
                order=str(data.get("order", "")),
                inputs=tuple(_entries(data["inputs"], ("table", "version"), "inputs", where)),
                references=tuple(data.get("references") or ()),
                schema=tuple(data["schema"]),
                row_count=int(data["row_count"]),
                content_hash=str(data["content_hash"]),
                content_hash_scheme=str(data["content_hash_scheme"]),
                files=tuple(_entries(data["files"], ("path", "bytes", "sha256"), "files", where)),
                writer=dict(data.get("writer") or {}),
                run_id=data.get("run_id"),
                created_at=str(data.get("created_at", "")),
                extra={k: v for k, v in data.items() if k not in known},
            )
        except KeyError as error:
            raise ManifestError(
                f"{where} has no {error.args[0]!r} field; it is damaged or not from this lake."
            ) from error
        except (TypeError, ValueError) as error:
            raise ManifestError(
                f"{where} has a malformed field ({error}); it is damaged."
            ) from error

    @property
    def pinned_versions(self) -> dict[str, int]:
        """Table -> version for the references without a time-travel clause."""
        return {str(r["table"]): int(r["version"]) for r in self.references if not r.get("clause")}


def read_manifest(path: Path) -> Manifest:
    """Raises: ManifestError (missing, unreadable, not JSON, not a manifest)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise ManifestError(
            f"No manifest at {path}; give a training set's folder or its {MANIFEST_PATH}."
        ) from error
    except OSError as error:
        raise ManifestError(f"Cannot read the manifest {path}: {error.strerror}.") from error
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ManifestError(
            f"{path} is not valid JSON (line {getattr(error, 'lineno', '?')}); it is damaged."
        ) from error
    return Manifest.from_json(data, where=str(path))


def find_manifest(folder: Path) -> Path | None:
    """The manifest of the training set in ``folder`` (``.lake/manifest.json``, or the
    ``lake-manifest.json`` of a folder written before it), or None."""
    for candidate in (folder / MANIFEST_PATH, folder / OLD_MANIFEST_NAME):
        if candidate.is_file():
            return candidate
    return None


def manifest_in(source: Path) -> Path:
    """The manifest a ``--from`` path names: a manifest file, or a training set's folder."""
    if source.is_dir():
        return find_manifest(source) or source / MANIFEST_PATH
    return source


def write_manifest(folder: Path, manifest: Manifest) -> Path:
    """Write ``folder/.lake/manifest.json`` atomically (and drop a ``lake-manifest.json``
    written before ``.lake/`` existed, so the folder holds one manifest)."""
    (folder / LAKE_FOLDER).mkdir(exist_ok=True)
    target = folder / MANIFEST_PATH
    temporary = folder / LAKE_FOLDER / f".{MANIFEST_NAME}.tmp"
    temporary.write_text(
        json.dumps(manifest.to_json(), indent=2, sort_keys=False) + "\n", encoding="utf-8"
    )
    os.replace(temporary, target)
    (folder / OLD_MANIFEST_NAME).unlink(missing_ok=True)
    return target


def _entries(value: Any, required: Sequence[str], what: str, where: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        raise ManifestError(f"{where}: {what!r} is not a list; the manifest is damaged.")
    for index, entry in enumerate(value):
        if not isinstance(entry, Mapping) or any(key not in entry for key in required):
            raise ManifestError(
                f"{where}: entry {index} of {what!r} lacks one of {', '.join(required)}; "
                f"the manifest is damaged."
            )
    return value
