"""Finding log files and reading their bytes: globs, folders, links, compression, resume."""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path

import pyarrow.fs as pafs
import pytest
import zstandard

import ingest.sources
from ingest.exceptions import SourceNotFound, SourceUnreadable
from ingest.sources import ContentReader, SourceFile, expand_paths


def read_all(src: SourceFile, **kw) -> tuple[bytes, ContentReader]:
    reader = ContentReader(src, **kw)
    return b"".join(reader.blocks()), reader


def one(path: Path) -> SourceFile:
    [src] = expand_paths([str(path)])
    return src


def test_a_folder_is_walked_recursively_in_order_skipping_hidden_entries(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / ".git").mkdir()
    for p in ["a.log", "b/c.log", ".hidden.log", ".git/x.log"]:
        (tmp_path / p).write_text("x\n")
    found = expand_paths([str(tmp_path)])
    assert [f.path for f in found] == [str(tmp_path / "a.log"), str(tmp_path / "b" / "c.log")]
    assert found[0].uri == (tmp_path / "a.log").as_uri()


def test_file_uris_from_expand_paths_expand_to_the_same_file(tmp_path):
    path = tmp_path / "with space%.log"
    path.write_text("x\n")
    [src] = expand_paths([str(path)])
    assert "%20" in src.uri
    assert expand_paths([src.uri]) == [src]


def test_globs_match_files_and_the_same_file_is_listed_once(tmp_path):
    for p in ["x1.log", "x2.log", "y.txt"]:
        (tmp_path / p).write_text("x\n")
    found = expand_paths([str(tmp_path / "x*.log"), str(tmp_path / "x1.log")])
    assert [Path(f.path).name for f in found] == ["x1.log", "x2.log"]


def test_a_missing_path_raises_source_not_found_naming_it(tmp_path):
    with pytest.raises(SourceNotFound, match="nope.log"):
        expand_paths([str(tmp_path / "nope.log")])
    with pytest.raises(SourceNotFound, match=r"\*.zzz"):
        expand_paths([str(tmp_path / "*.zzz")])


def test_symlink_loops_do_not_hang_and_a_looping_file_link_is_an_error(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.log").write_text("x\n")
    os.symlink(tmp_path, tmp_path / "d" / "up")  # a folder link to its own parent
    assert [Path(f.path).name for f in expand_paths([str(tmp_path / "d")])] == ["a.log"]
    os.symlink(tmp_path / "self", tmp_path / "self")
    with pytest.raises(SourceUnreadable, match="self"):
        expand_paths([str(tmp_path / "self")])


def test_remote_uris_go_through_the_callers_filesystem(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.jsonl").write_bytes(b'{"a":1}\n')
    calls = []

    def filesystem_for(uri: str):
        calls.append(uri)
        return pafs.LocalFileSystem(), str(tmp_path) + "/" + uri.split("://", 1)[1]

    [src] = expand_paths(["mem://logs"], filesystem_for=filesystem_for)
    assert calls == ["mem://logs"]
    assert src.uri.startswith("mem://") and src.uri.endswith("logs/a.jsonl")
    assert read_all(src)[0] == b'{"a":1}\n'


def test_compression_is_detected_by_magic_bytes_not_extension(tmp_path):
    text = b"line one\nline two\n" * 1000
    (tmp_path / "plain.gz").write_bytes(text)  # misleading extension
    (tmp_path / "packed.log").write_bytes(gzip.compress(text))
    (tmp_path / "packed.bin").write_bytes(zstandard.ZstdCompressor().compress(text))
    for name, kind in [("plain.gz", "none"), ("packed.log", "gzip"), ("packed.bin", "zstd")]:
        content, reader = read_all(one(tmp_path / name))
        assert content == text
        assert reader.compression == kind
        stored = (tmp_path / name).read_bytes()
        assert reader.sha256 == hashlib.sha256(stored).hexdigest()


def test_concatenated_gzip_members_and_zstd_frames_are_all_read(tmp_path):
    (tmp_path / "m.gz").write_bytes(gzip.compress(b"a\n") + gzip.compress(b"b\n"))
    c = zstandard.ZstdCompressor()
    (tmp_path / "m.zst").write_bytes(c.compress(b"a\n") + c.compress(b"b\n"))
    assert read_all(one(tmp_path / "m.gz"))[0] == b"a\nb\n"
    assert read_all(one(tmp_path / "m.zst"))[0] == b"a\nb\n"


@pytest.mark.parametrize("kind", ["gz", "zst"])
def test_truncated_compressed_files_raise_source_unreadable_naming_the_file(tmp_path, kind):
    text = os.urandom(50_000).hex().encode()
    data = gzip.compress(text) if kind == "gz" else zstandard.ZstdCompressor().compress(text)
    path = tmp_path / f"cut.{kind}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceUnreadable, match=f"cut.{kind}.*truncated"):
        read_all(one(path))


def test_corrupt_gzip_raises_source_unreadable(tmp_path):
    path = tmp_path / "bad.gz"
    path.write_bytes(b"\x1f\x8b" + b"\x00garbage" * 10)
    with pytest.raises(SourceUnreadable, match="bad.gz"):
        read_all(one(path))


def test_resume_reads_only_bytes_after_a_matching_prefix(tmp_path):
    path = tmp_path / "app.log"
    path.write_bytes(b"one\ntwo\n")
    _, first = read_all(one(path))
    path.write_bytes(b"one\ntwo\nthree\n")
    content, again = read_all(one(path), resume_offset=8, resume_sha256=first.sha256)
    assert content == b"three\n"
    assert (again.start_offset, again.restarted) == (8, False)
    assert again.sha256 == hashlib.sha256(b"one\ntwo\nthree\n").hexdigest()


def test_resume_restarts_from_zero_when_the_prefix_changed(tmp_path):
    path = tmp_path / "app.log"
    path.write_bytes(b"one\ntwo\n")
    _, first = read_all(one(path))
    path.write_bytes(b"ONE\ntwo\nthree\n")  # rotated / rewritten
    content, again = read_all(one(path), resume_offset=8, resume_sha256=first.sha256)
    assert content == b"ONE\ntwo\nthree\n"
    assert (again.start_offset, again.restarted) == (0, True)


def test_a_gzip_file_grown_by_a_new_member_resumes_at_the_member(tmp_path):
    path = tmp_path / "app.log.gz"
    path.write_bytes(gzip.compress(b"one\n"))
    _, first = read_all(one(path))
    size = path.stat().st_size
    with open(path, "ab") as f:
        f.write(gzip.compress(b"two\n"))
    content, again = read_all(one(path), resume_offset=size, resume_sha256=first.sha256)
    assert content == b"two\n"


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_decompression_is_bounded_whatever_the_ratio(tmp_path, kind):
    # A bomb: 256 MiB of one byte, a few hundred KB stored. Measured before: the whole read
    # block was inflated at once (a 2.3 MB gzip that expands to 1.5 GiB took 5.6 GB).
    size = 256 << 20
    path = tmp_path / f"bomb.{kind}"
    if kind == "gzip":
        raw = zlib.compressobj(1, zlib.DEFLATED, 31)
        with open(path, "wb") as f:
            block = b"A" * (16 << 20)
            for _ in range(size // len(block)):
                f.write(raw.compress(block))
            f.write(raw.flush())
    else:
        path.write_bytes(zstandard.ZstdCompressor().compress(b"A" * size))
    reader = ContentReader(one(path))
    total, largest = 0, 0
    for block in reader.blocks():
        total += len(block)
        largest = max(largest, len(block))
    assert total == size
    assert largest <= (ingest.sources.MAX_INFLATE if kind == "gzip" else 40 << 20)


def test_bzip2_streams_are_read_one_after_another_and_bounded(tmp_path):
    import bz2

    path = tmp_path / "app.log.bz2"
    path.write_bytes(bz2.compress(b"one\ntwo\n") + bz2.compress(b"A" * (64 << 20) + b"\n"))
    reader = ContentReader(one(path))
    blocks = list(reader.blocks())
    assert b"".join(blocks) == b"one\ntwo\n" + b"A" * (64 << 20) + b"\n"
    assert max(len(b) for b in blocks) <= ingest.sources.MAX_INFLATE
    assert reader.compression == "bzip2"


def test_text_that_starts_like_bzip2_is_text(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"BZh9 is how bzip2 files start\n")
    content, reader = read_all(one(path))
    assert content == path.read_bytes() and reader.compression == "none"


def test_a_corrupt_bzip2_file_is_one_sentence(tmp_path):
    import bz2

    path = tmp_path / "bad.log.bz2"
    data = bytearray(bz2.compress(b"hello\n" * 1000))
    data[40] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(SourceUnreadable, match=r"^Cannot decompress .* \(bzip2\): .*corrupt\.$"):
        read_all(one(path))
