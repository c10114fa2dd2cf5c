"""A training set with binary assets: 2,000 files of 64 KB (at scale 1.0), made here.

Ours: ``lk.materialize`` of ``SELECT uri, sha256, size FROM media.files`` into a fresh folder:
the shards, the manifest, and every file localized into ``.assets/`` (hard links: the
warehouse is on the same disk). Baseline: a plain ``cp`` of the same files into a fresh
folder (``cp -r``), in the same run. Neither side's output is removed inside the timing
(deleting a folder of 256 subfolders costs more than making it, and is no part of the work
either side does for a user). Also: ``lake ingest files`` of the same files (sha256,
copy into ``objects/``, one row per file) against the same ``cp``: into a warehouse that
has them (every object there: each file read once, nothing written), and into a fresh one
(every object new: each file read once, hashed as it is copied), with a few large files
too (``LARGE`` each, read through a temporary object).

Each new file was read twice before (hashed, then copied). Measured 2026-12-07 on a
machine whose 2 cores ran a test suite too (load average 16-32), so wall times are noisy:
two rounds, ``before``/``after`` alternating, each in a fresh process and warehouse (SQLite
catalog), then the same folder again into the same table:

* bytes read by the ingest halve: 1,000 x 64 KB 136 -> 67 MB; 4 x 48 MB 404 -> 203 MB.
* local, 1,000 x 64 KB: 4.0 / 7.8 s before, 6.1 / 10.1 s after (again: 2.1 / 3.3, 2.7 /
  5.8); the per-file work alone (read, hash, store, describe; 300 x 64 KB in one process,
  4 rounds) had medians 5.0 s before, 3.5 s after.
* local, 4 x 48 MB: 4.3 / 12.8 s before, 3.3 / 10.7 s after (again: 1.4 / 2.2, 1.9 / 3.5;
  in one process, 4 rounds: medians 2.5 s before, 2.1 s after).
* moto S3, 1,000 x 64 KB: 389 / 533 s before, 141 / 249 s after (each object is no longer
  read back from S3 to describe it: its bytes are in memory); again 98 / 154 -> 37 / 73 s.
* moto S3, 4 x 48 MB: 47 / 37 s before, 58 / 66 s after: slower, as moto makes the
  server-side copy of each temporary object in Python, writing it again; again 2.5 s both.
  From a local disk to S3 a large file is therefore hashed first, then uploaded (two
  local reads, one upload: the ``before`` way, kept for that case only).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.common import compare

FULL_FILES = 2_000
SIZE = 64 << 10
LARGE_FILES = 4
LARGE = 48 << 20


def run(scale: float = 1.0) -> list[dict]:
    import lake

    count = max(int(FULL_FILES * scale), 50)
    root = Path(tempfile.mkdtemp(prefix="lake-bench-assets-"))
    try:
        source = root / "files"
        source.mkdir()
        for i in range(count):
            (source / f"f{i:05d}.bin").write_bytes(os.urandom(SIZE))
        lk = lake.connect(
            warehouse=str(root / "warehouse"), catalog=f"sqlite:///{root / 'catalog.db'}"
        )
        counter = iter(range(1_000_000))
        copies = iter(range(1_000_000))

        def cp() -> None:
            target = root / f"cp-{next(copies)}"
            subprocess.run(["cp", "-r", str(source), str(target)], check=True)

        def ingest() -> None:
            lk.ingest_files(f"media.f{next(counter)}", str(source))

        ingested = compare(
            f"ingest files: {count:,} files of {SIZE >> 10} KB",
            ingest,
            cp,
            repeat=3,
            baseline_name="cp -r of the same files",
            files=count,
        )
        large = root / "large"
        large.mkdir()
        for i in range(LARGE_FILES):
            (large / f"l{i}.bin").write_bytes(os.urandom(max(int(LARGE * scale), 9 << 20)))
        fresh = iter(range(1_000_000))

        def new_objects(folder: Path) -> None:
            at = root / f"fresh-{next(fresh)}"
            with lake.connect(warehouse=str(at), catalog=f"sqlite:///{at}.db") as other:
                other.ingest_files("media.new", str(folder))

        def cp_of(folder: Path) -> None:
            subprocess.run(["cp", "-r", str(folder), str(root / f"cp-{next(copies)}")], check=True)

        stored_new = [
            compare(
                f"ingest files, all new: {label}",
                lambda folder=folder: new_objects(folder),
                lambda folder=folder: cp_of(folder),
                repeat=3,
                baseline_name="cp -r of the same files",
                files=files,
            )
            for label, folder, files in (
                (f"{count:,} files of {SIZE >> 10} KB", source, count),
                (f"{LARGE_FILES} files over the read block", large, LARGE_FILES),
            )
        ]
        sql = "SELECT uri, sha256, size FROM media.f0"

        def ours() -> None:
            i = next(counter)
            lk.materialize(f"assets_{i}", sql=sql, out=root / f"set-{i}")

        localized = compare(
            f"materialize a set naming {count:,} files (localized into .assets/)",
            ours,
            cp,
            repeat=3,
            baseline_name="cp -r of the same files",
            files=count,
        )
        lk.close()
        return [ingested, *stored_new, localized]
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover
    import sys

    for row in run(float(sys.argv[1]) if len(sys.argv) > 1 else 0.1):
        print(row)
