"""A training set with binary assets: 2,000 files of 64 KB (at scale 1.0), made here.

Ours: ``lk.materialize`` of ``SELECT uri, sha256, size FROM media.files`` into a fresh folder:
the shards, the manifest, and every file localized into ``.assets/`` (hard links: the
warehouse is on the same disk). Baseline: a plain ``cp`` of the same files into a fresh
folder (``cp -r``), in the same run. Neither side's output is removed inside the timing
(deleting a folder of 256 subfolders costs more than making it, and is no part of the work
either side does for a user). Also: ``lake ingest files`` of the same files (sha256,
copy into ``objects/``, one row per file) against the same ``cp``.
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
        return [ingested, localized]
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover
    import sys

    for row in run(float(sys.argv[1]) if len(sys.argv) > 1 else 0.1):
        print(row)
