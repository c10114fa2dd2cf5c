"""A training set's folder on object storage (``--out s3://bucket/prefix``).

The shards are written to a local temporary folder exactly as for a local ``--out`` (same
bytes, same content hash), then uploaded under the prefix; the manifest goes last, to
``PREFIX/.lake/manifest.json``, so a prefix with a manifest always holds the files it lists.
The rules of a local folder hold: a prefix holds one training-set version for good, objects
that are not the lake's are never deleted (their presence refuses the write), and a cache
hit checks every listed object's size and sha256 (reading it back once).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lake.core.objects import delete
from lake.core.storage import Storage
from queries.exceptions import ManifestError, OutputFolderNotEmpty, TrainingSetError
from queries.manifest import LAKE_FOLDER, MANIFEST_PATH, OLD_MANIFEST_NAME, Manifest

if TYPE_CHECKING:
    import pyarrow.fs as pafs

REMOTE_SCHEMES = ("s3://",)
_BLOCK = 8 << 20


def is_remote(location: str | Path) -> bool:
    return isinstance(location, str) and location.startswith(REMOTE_SCHEMES)


@dataclass
class RemoteFolder:
    """``s3://bucket/prefix`` as a training set's folder."""

    location: str
    storage: Storage = field(repr=False)
    fs: pafs.FileSystem = field(init=False, repr=False)
    root: str = field(init=False)

    def __post_init__(self) -> None:
        self.location = self.location.rstrip("/")
        if self.location.count("/") < 3 or not self.location.split("/", 3)[3]:
            raise TrainingSetError(
                f"--out {self.location} names a bucket without a prefix; give a folder in it, "
                f"e.g. {self.location}/training/churn."
            )
        self.fs, self.root = self.storage.filesystem_for(self.location)

    def __str__(self) -> str:
        return self.location

    def __truediv__(self, relative: str) -> str:
        return f"{self.location}/{relative}"

    def _path(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    def _info(self, relative: str) -> Any:
        return self.fs.get_file_info(self._path(relative))

    def read_manifest(self) -> Manifest | None:
        """The manifest under the prefix (or None); one the lake cannot read refuses."""
        from pyarrow.fs import FileType

        for relative in (MANIFEST_PATH, OLD_MANIFEST_NAME):
            if self._info(relative).type != FileType.File:
                continue
            try:
                with self.fs.open_input_stream(self._path(relative)) as stream:
                    data = json.loads(stream.read().decode("utf-8"))
                return Manifest.from_json(data, where=self / relative)
            except (ManifestError, ValueError) as error:
                raise OutputFolderNotEmpty(
                    f"{self.location} holds a manifest the lake cannot read ({error}); remove "
                    f"it or choose another --out."
                ) from error
        return None

    def objects(self) -> dict[str, int]:
        """Every object under the prefix: relative path -> size."""
        from pyarrow.fs import FileSelector, FileType

        selector = FileSelector(self.root, recursive=True, allow_not_found=True)
        return {
            info.path[len(self.root) + 1 :]: info.size
            for info in self.fs.get_file_info(selector)
            if info.type == FileType.File
        }

    def check_foreign(self, previous: Manifest | None) -> None:
        """Refuse a prefix holding objects that are not the previous training set's."""
        ours = {str(f["path"]) for f in previous.files} if previous else set()
        foreign = sorted(
            name
            for name in self.objects()
            if name not in ours
            and name != OLD_MANIFEST_NAME
            and not name.startswith(f"{LAKE_FOLDER}/")
        )
        if foreign:
            shown = ", ".join(foreign[:3]) + (
                f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
            )
            raise OutputFolderNotEmpty(
                f"The output prefix {self.location} holds objects that are not a training "
                f"set's ({shown}); the lake does not delete them: choose an empty or new prefix."
            )

    def intact(self, manifest: Manifest) -> bool:
        """Every listed object is there with its recorded size and sha256."""
        sizes = self.objects()
        if any(sizes.get(str(f["path"])) != int(f["bytes"]) for f in manifest.files):
            return False
        for entry in manifest.files:
            digest = hashlib.sha256()
            with self.fs.open_input_stream(self._path(str(entry["path"]))) as stream:
                while chunk := stream.read(_BLOCK):
                    digest.update(chunk)
            if digest.hexdigest() != entry["sha256"]:
                return False
        return True

    def install(self, staging: Path, previous: Manifest | None, manifest: Manifest) -> None:
        """Upload the staged shards, drop the previous set's other files, manifest last."""
        for relative in (MANIFEST_PATH, OLD_MANIFEST_NAME):
            self._delete(relative)
        new = {str(f["path"]) for f in manifest.files}
        for entry in previous.files if previous else ():
            if str(entry["path"]) not in new:
                self._delete(str(entry["path"]))
        for entry in manifest.files:
            relative = str(entry["path"])
            with (
                open(staging / relative, "rb") as source,
                self.fs.open_output_stream(self._path(relative)) as target,
            ):
                while chunk := source.read(_BLOCK):
                    target.write(chunk)
        text = json.dumps(manifest.to_json(), indent=2, sort_keys=False) + "\n"
        with self.fs.open_output_stream(self._path(MANIFEST_PATH)) as target:
            target.write(text.encode("utf-8"))

    def _delete(self, relative: str) -> None:
        """Remove one of the lake's objects under the prefix (gone already is fine)."""
        delete(self.storage, self / relative)


__all__ = ["RemoteFolder", "is_remote"]
