"""`lake ingest files`: binary assets stored once by sha256, one row per file; a training
set over them localizes the files it names (both backend pairs). The images are made here
with Pillow, a few pixels each."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest


def _images(folder):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for name, size, colour in (("red.png", (4, 3), "red"), ("blue.png", (2, 5), "blue")):
        Image.new("RGB", size, colour).save(folder / name)
    (folder / "notes.txt").write_text("not an image\n")
    return folder


def test_a_training_set_naming_an_object_the_warehouse_lacks_is_refused(lk, tmp_path):
    import pytest

    from queries.exceptions import TrainingSetError

    _images(tmp_path / "photos")
    lk.ingest_files("media.images", str(tmp_path / "photos"))
    gone = lk.storage.object_uri("ab" * 32)
    sql = f"SELECT uri FROM media.images UNION ALL SELECT '{gone}'"

    with pytest.raises(TrainingSetError, match=f"names {gone}, which is not in the warehouse"):
        lk.materialize("images", sql=sql, out=tmp_path / "set")

    assert lk.training_sets() == []
    assert [p.name for p in (tmp_path / "set").iterdir()] == []


def test_files_are_stored_once_by_content_and_land_as_rows(lk, cli, tmp_path):
    photos = _images(tmp_path / "photos")
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / "red-copy.png").write_bytes((photos / "red.png").read_bytes())

    first = lk.ingest_files("media.images", str(photos))
    second = cli("ingest", "files", "media.images", str(tmp_path / "again"), "--output", "json")

    assert (first.files, first.new_objects, first.version) == (3, 3, 0)
    assert second.exit_code == 0, second.stderr
    assert (second.json()["new_objects"], second.json()["version"]) == (0, 1)  # same bytes
    rows = {
        r["source"].rsplit("/", 1)[1]: r
        for r in lk.sql("SELECT * FROM media.images").table.to_pylist()
    }
    red = (photos / "red.png").read_bytes()
    assert rows["red.png"]["sha256"] == hashlib.sha256(red).hexdigest()
    assert (rows["red.png"]["size"], rows["red.png"]["media_type"]) == (len(red), "image/png")
    assert (rows["red.png"]["width"], rows["red.png"]["height"]) == (4, 3)
    assert (rows["blue.png"]["width"], rows["blue.png"]["height"]) == (2, 5)
    assert (rows["notes.txt"]["media_type"], rows["notes.txt"]["width"]) == ("text/plain", None)
    assert rows["red-copy.png"]["uri"] == rows["red.png"]["uri"]
    sha = rows["red.png"]["sha256"]
    assert rows["red.png"]["uri"].endswith(f"/objects/{sha[:2]}/{sha[2:]}")
    assert all(r["_ingested_at"] is not None for r in rows.values())
    assert [v.version for v in lk.history("media.images")] == [0, 1]
    impact = lk.impact(source=str(photos / "red.png")).to_json()
    assert [(v["table"], v["version"]) for v in impact["table_versions"]] == [
        ("media.images", 0),
        ("media.images", 1),
    ]


def test_a_training_set_over_files_localizes_them_and_rebuilds_them(lk, tmp_path):
    import pandas

    _images(tmp_path / "photos")
    lk.ingest_files("media.images", str(tmp_path / "photos"))
    sql = "SELECT uri, sha256, width, height FROM media.images WHERE media_type = 'image/png'"

    made = lk.materialize("images", sql=sql, out=tmp_path / "set")
    cached = lk.materialize("images", sql=sql, out=tmp_path / "set")
    rebuilt = lk.materialize(from_="images@1", out=tmp_path / "rebuilt")

    manifest = json.loads((tmp_path / "set" / ".lake" / "manifest.json").read_text())
    assets = [f for f in manifest["files"] if f["path"].startswith(".assets/")]
    rows = pandas.read_parquet(tmp_path / "set").to_dict("records")  # assets do not disturb it
    assert sorted(a["sha256"] for a in assets) == sorted(r["sha256"] for r in rows)
    for asset in assets:
        data = (tmp_path / "set" / asset["path"]).read_bytes()
        assert (
            hashlib.sha256(data).hexdigest()
            == asset["sha256"]
            == asset["path"][8:10] + asset["path"][11:]
        )
    assert (made.status, cached.status, rebuilt.status) == ("materialized", "cached", "rebuilt")
    assert rebuilt.files_identical is True
    assert sorted(
        p.name for p in (tmp_path / "rebuilt" / ".assets").rglob("*") if p.is_file()
    ) == sorted(a["path"].rsplit("/", 1)[1] for a in assets)
    assert pq.read_table(tmp_path / "set").num_rows == 2


def test_vacuum_deletes_the_objects_no_kept_version_names_and_keeps_pinned_ones(lk, cli, tmp_path):
    from PIL import Image

    (tmp_path / "k").mkdir()
    (tmp_path / "d").mkdir()
    Image.new("RGB", (3, 3), "green").save(tmp_path / "k" / "keep.png")
    Image.new("RGB", (3, 3), "black").save(tmp_path / "d" / "gone.png")
    kept = lk.ingest_files("media.keep", str(tmp_path / "k")).rows[0]
    dropped = lk.ingest_files("media.gone", str(tmp_path / "d")).rows[0]
    lk.materialize("pinned", sql="SELECT uri FROM media.keep", out=tmp_path / "set")  # pins v0
    for table in ("media.keep", "media.gone"):  # the rows are gone from the latest versions
        empty = lk.sql(f"SELECT * FROM {table} WHERE false").table
        lk.write_table(table, empty, mode="overwrite", kind="files")

    planned = lk.vacuum_objects(retain="0d")
    shown = cli("vacuum", "--objects", "--retain", "0d", "--output", "json")
    applied = lk.vacuum_objects(retain="0d", apply=True)

    assert [u for u, _ in planned.files] == [dropped["uri"]] and not planned.applied
    assert shown.exit_code == 0 and [o["uri"] for o in shown.json()["objects"]["objects"]] == [
        dropped["uri"]
    ]
    assert applied.applied and [u for u, _ in applied.files] == [dropped["uri"]]
    assert lk.vacuum_objects(retain="0d").files == ()
    # the pinned version's object is still there: the training set rebuilds with its asset
    rebuilt = lk.materialize(from_="pinned@1", out=tmp_path / "rebuilt")
    assert rebuilt.files_identical is True
    assert kept["sha256"] in {f.sha256 for f in rebuilt.files}


def test_a_damaged_asset_is_written_again_from_the_warehouse(lk, tmp_path):
    _images(tmp_path / "photos")
    lk.ingest_files("media.images", str(tmp_path / "photos"))
    sql = "SELECT uri FROM media.images WHERE width IS NOT NULL"
    made = lk.materialize(
        "images", sql=sql, out=tmp_path / "set", split="a=0.5,b=0.5", split_key="uri"
    )
    asset = next(f for f in made.files if f.path.startswith(".assets/"))
    (tmp_path / "set" / asset.path).unlink()
    (tmp_path / "set" / asset.path).write_bytes(b"not the image")

    again = lk.materialize(
        "images", sql=sql, out=tmp_path / "set", split="a=0.5,b=0.5", split_key="uri"
    )

    assert (again.status, again.version) == ("copied", 1)
    data = (tmp_path / "set" / asset.path).read_bytes()
    assert hashlib.sha256(data).hexdigest() == asset.sha256


def test_files_under_an_s3_prefix_are_ingested_like_local_ones(backend, s3_server, monkeypatch):
    import io
    import uuid

    from PIL import Image

    import lake
    from tests.backends import unavailable

    if s3_server is None:
        unavailable("the loopback S3 server (moto) could not start")
    for key, value in s3_server.env().items():  # the files' bucket, whatever the warehouse
        monkeypatch.setenv(key, value)
    prefix = f"uploads-{uuid.uuid4().hex[:8]}"
    s3 = s3_server.client()
    image = io.BytesIO()
    Image.new("RGB", (5, 7), "white").save(image, format="PNG")
    s3.put_object(Bucket=s3_server.bucket, Key=f"{prefix}/a.png", Body=image.getvalue())
    s3.put_object(Bucket=s3_server.bucket, Key=f"{prefix}/b.txt", Body=b"hello")

    with lake.connect() as lk:
        report = lk.ingest_files("media.uploads", f"s3://{s3_server.bucket}/{prefix}/")

    rows = {r["source"].rsplit("/", 1)[1]: r for r in report.rows}
    assert sorted(rows) == ["a.png", "b.txt"]
    assert rows["a.png"]["source"] == f"s3://{s3_server.bucket}/{prefix}/a.png"
    assert (rows["a.png"]["width"], rows["a.png"]["height"]) == (5, 7)
    assert rows["b.txt"]["sha256"] == hashlib.sha256(b"hello").hexdigest()


def test_odd_files_land_with_their_exact_paths_and_a_grown_folder_adds_only_new_content(
    lk, tmp_path
):
    """What a user checks after ``lake ingest files``: one row per file found, each source
    naming the file's path byte for byte (``%``, ``#``, ``?``, a newline, bytes that are not
    UTF-8, 80 folders deep), its size and sha256, and each stored object holding exactly the
    bytes its name says. Links are followed (a loop back to a parent walked once, a file
    outside the folder named by the link); hidden entries are skipped. Ingesting the folder
    again after it grew stores only the new and the changed content, and its rows name
    every file with its content now."""
    import os
    from urllib.parse import unquote_to_bytes, urlsplit

    root = tmp_path / "assets"
    deep = root.joinpath(*["d"] * 80)
    deep.mkdir(parents=True)
    (tmp_path / "outside.bin").write_bytes(b"outside the folder")
    contents = {
        root / "empty.bin": b"",
        root / "one.txt": b"same bytes\n",
        root / "two.txt": b"same bytes\n",
        root / "100%25 #1?.bin": b"percent, hash, question mark",
        root / "new\nline.bin": b"a newline in the name",
        deep / "bottom.bin": b"80 folders down",
    }
    contents[Path(os.fsdecode(bytes(root) + b"/caf\xe9.bin"))] = b"latin-1 name"
    for path, data in contents.items():
        path.write_bytes(data)
    (root / ".hidden").write_bytes(b"skipped")
    (root / "loop").symlink_to(root)
    (root / "outside").symlink_to(tmp_path / "outside.bin")
    contents[root / "outside"] = b"outside the folder"

    def landed(version: int) -> dict[bytes, dict]:
        """The rows the ingest that made ``version`` landed (each ingest appends a row per
        file it finds, as README says)."""
        rows = lk.sql(
            f"SELECT * FROM media.odd VERSION AS OF {version} WHERE _ingested_at = "
            f"(SELECT max(_ingested_at) FROM media.odd VERSION AS OF {version})"
        ).table.to_pylist()
        by_path = {unquote_to_bytes(urlsplit(r["source"]).path): r for r in rows}
        assert len(by_path) == len(rows), "one row per file"
        return by_path

    def check(rows: dict[bytes, dict]) -> None:
        assert set(rows) == {os.fsencode(p) for p in contents}
        for path, data in contents.items():
            row = rows[os.fsencode(path)]
            assert (row["size"], row["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
            fs, stored = lk.storage.filesystem_for(row["uri"])
            with fs.open_input_stream(stored) as handle:
                assert hashlib.sha256(handle.read()).hexdigest() == row["sha256"]

    first = lk.ingest_files("media.odd", str(root))
    assert (first.files, first.new_objects) == (len(contents), len(contents) - 1)  # one repeat
    check(landed(0))

    (root / "grown.bin").write_bytes(b"a new file")
    contents[root / "grown.bin"] = b"a new file"
    (root / "one.txt").write_bytes(b"changed bytes\n")
    contents[root / "one.txt"] = b"changed bytes\n"
    second = lk.ingest_files("media.odd", str(root))

    assert (second.files, second.new_objects, second.version) == (len(contents), 2, 1)
    check(landed(1))
    assert (
        landed(0)[os.fsencode(root / "one.txt")]["sha256"]
        == hashlib.sha256(b"same bytes\n").hexdigest()
    )


def test_a_compressed_name_is_its_compressions_media_type_not_the_type_inside(lk, tmp_path):
    """``photo.png.gz`` holds gzip bytes, not a PNG: mimetypes names the type inside
    (``image/png``) and the compression apart, and the row said ``image/png`` for bytes no
    image reader opens (``a.tar.gz`` said ``application/x-tar``, a plain ``.gz`` fell to
    ``application/octet-stream``). A name without compression keeps its type."""
    import bz2
    import gzip

    from PIL import Image

    root = tmp_path / "packed"
    root.mkdir()
    Image.new("RGB", (4, 3), "red").save(root / "plain.png")
    png = (root / "plain.png").read_bytes()
    (root / "photo.png.gz").write_bytes(gzip.compress(png))
    (root / "a.tar.gz").write_bytes(gzip.compress(b"tar bytes"))
    (root / "log.gz").write_bytes(gzip.compress(b"a line\n"))
    (root / "photo.png.bz2").write_bytes(bz2.compress(png))

    lk.ingest_files("media.packed", str(root))

    rows = lk.sql("SELECT source, media_type, width FROM media.packed").table.to_pylist()
    got = {r["source"].rsplit("/", 1)[1]: (r["media_type"], r["width"]) for r in rows}
    assert got == {
        "plain.png": ("image/png", 4),
        "photo.png.gz": ("application/gzip", None),
        "a.tar.gz": ("application/gzip", None),
        "log.gz": ("application/gzip", None),
        "photo.png.bz2": ("application/x-bzip2", None),
    }


def test_the_media_type_of_a_name_does_not_depend_on_the_hosts_mime_types(lk, tmp_path):
    """``mimetypes.guess_type`` reads the machine's ``/etc/mime.types``: the same file got
    one media type where the ingest ran on a host that has the file and another in the
    lake's own image (``python:3.11-slim`` has none; ``.flac`` was ``audio/flac`` on one,
    ``application/octet-stream`` on the other). A host whose table says other things (made
    here with the module's own ``init``) changes no row."""
    import gzip
    import mimetypes

    host = tmp_path / "mime.types"
    host.write_text(
        "text/x-host-md md\naudio/x-host-opus opus\ntext/x-host-csv csv\n"
        "audio/x-host flac\napplication/x-host xyzzy\n"
    )
    root = tmp_path / "media"
    root.mkdir()
    for name in ("a.md", "f.csv"):
        (root / name).write_bytes(b"text that no signature names: " + name.encode())
    (root / "c.xyzzy").write_bytes(bytes(range(256)))  # bytes of no type the lake knows
    (root / "b.flac").write_bytes(b"fLaC" + bytes(60))
    (root / "d.opus").write_bytes(b"OggS" + bytes(60))  # an Ogg: the name says which kind
    (root / "e.webp.gz").write_bytes(gzip.compress(b"not really a webp"))
    mimetypes.init([str(host)])
    try:
        lk.ingest_files("media.typed", str(root))
    finally:
        mimetypes.init()  # the host's own table again, for the rest of the process

    rows = lk.sql("SELECT source, media_type FROM media.typed").table.to_pylist()
    assert {r["source"].rsplit("/", 1)[1]: r["media_type"] for r in rows} == {
        "a.md": "text/markdown",
        "b.flac": "audio/flac",
        "c.xyzzy": "application/octet-stream",
        "d.opus": "audio/opus",
        "e.webp.gz": "application/gzip",
        "f.csv": "text/csv",
    }


def _saved(image, fmt: str, **options) -> bytes:
    import io

    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _landed(lk, table: str) -> dict[str, dict]:
    rows = lk.sql(f"SELECT * FROM {table}").table.to_pylist()
    return {r["source"].rsplit("/", 1)[1]: r for r in rows}


def test_the_media_type_is_what_the_bytes_are_and_a_name_that_says_otherwise_is_recorded(
    lk, tmp_path
):
    """A ``.png`` holding a JPEG was ``image/png``, a ``.jpg`` holding an HTML page
    ``image/jpeg``, a ``.mp3`` holding text ``audio/mpeg``: the name's type, unchecked,
    although the lake could tell. Now the bytes decide where they are recognisable
    (``media_type_from = 'content'``), a name they contradict is said in ``_error``, a name
    the lake cannot check is believed and says so (``'name'``), and a claimed type the bytes
    lack is not kept."""
    import io
    import wave
    import zipfile

    from PIL import Image

    root = tmp_path / "mixed"
    root.mkdir()
    jpeg = _saved(Image.new("RGB", (6, 4), "red"), "JPEG")
    png = _saved(Image.new("RGB", (3, 2), "blue"), "PNG")
    sound = io.BytesIO()
    with wave.open(sound, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000), w.writeframes(bytes(800))
    document = io.BytesIO()
    with zipfile.ZipFile(document, "w") as z:
        z.writestr("word/document.xml", "<w/>")
    for name, data in {
        "photo.png": jpeg,
        "cat.jpg": b"<!DOCTYPE html><html><body>404 Not Found</body></html>",
        "fake.png": b"hello",
        "empty.png": b"",
        "song.mp3": b"not a song",
        "noise.png": bytes(range(256)),
        "junk-first.mp3": b"\x00" * 32 + b"\xff\xfb\x90\x00" + bytes(64),  # MP3s may
        "utf16.txt": "text in UTF-16".encode("utf-16"),
        "old.mov": b"\x00\x00\x00\x08wide\x00\x00\x00\x10mdat" + bytes(32),
        "prefixed.pdf": b"junk before the header\n%PDF-1.4\n",
        "table.csv": b"a,b\n1,2\n",
        "drawing.svg": b'<svg xmlns="http://www.w3.org/2000/svg"/>',
        "cursor.xpm": b'/* XPM */\nstatic char *c[] = {\n"2 1 1 1",\n"a c #ff0000",\n"aa"\n};\n',
        "real.png": png,
        "no-name": png,
        "packed.bin": png,  # .bin: a name that says it does not know
        "notes.txt": b"plain text",
        "clip.wav": sound.getvalue(),
        "report.docx": document.getvalue(),
    }.items():
        (root / name).write_bytes(data)

    lk.ingest_files("media.mixed", str(root))

    rows = _landed(lk, "media.mixed")
    assert {
        n: r["media_type"] for n, r in rows.items() if n.endswith((".png", ".jpg", "song.mp3"))
    } == {
        "photo.png": "image/jpeg",
        "cat.jpg": "text/html",
        "fake.png": "text/plain",
        "empty.png": "application/octet-stream",
        "song.mp3": "text/plain",
        "noise.png": "application/octet-stream",
        "real.png": "image/png",
    }
    got = {
        n: (r["media_type"], r["media_type_from"], r["width"], r["height"], r["_error"])
        for n, r in rows.items()
    }
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert got == {
        "photo.png": (
            "image/jpeg",
            "content",
            6,
            4,
            "the name says image/png, the bytes are image/jpeg",
        ),
        "cat.jpg": (
            "text/html",
            "content",
            None,
            None,
            "the name says image/jpeg, the bytes are text/html",
        ),
        "fake.png": (
            "text/plain",
            "content",
            None,
            None,
            "the name says image/png, the bytes are text/plain",
        ),
        "noise.png": (
            "application/octet-stream",
            None,
            None,
            None,
            "the name says image/png, but the bytes are not image/png",
        ),
        "empty.png": (
            "application/octet-stream",
            None,
            None,
            None,
            "the name says image/png, but the file is empty",
        ),
        "song.mp3": (
            "text/plain",
            "content",
            None,
            None,
            "the name says audio/mpeg, the bytes are text/plain",
        ),
        "junk-first.mp3": (  # a frame header alone: no audio libsndfile reads
            "audio/mpeg",
            "name",
            None,
            None,
            "no duration/sample rate/channels: libsndfile cannot read it as audio: "
            "Format not recognised.",
        ),
        "utf16.txt": ("text/plain", "content", None, None, None),
        "old.mov": ("video/quicktime", "content", None, None, None),
        "prefixed.pdf": ("application/pdf", "content", None, None, None),
        "table.csv": ("text/csv", "name", None, None, None),
        "cursor.xpm": ("image/x-xpixmap", "name", 2, 1, None),
        "drawing.svg": (
            "image/svg+xml",
            "content",
            None,
            None,
            "no width/height: Pillow here cannot open it as image/svg+xml",
        ),  # an image that is text
        "real.png": ("image/png", "content", 3, 2, None),
        "no-name": ("image/png", "content", 3, 2, None),
        "packed.bin": ("image/png", "content", 3, 2, None),
        "notes.txt": ("text/plain", "content", None, None, None),
        "clip.wav": ("audio/x-wav", "content", None, None, None),
        "report.docx": (docx, "content", None, None, None),
    }
    assert lk.sql(
        "SELECT count(*) AS n FROM media.mixed WHERE media_type LIKE 'image/%' AND width IS NULL"
        " AND _error IS NULL"
    ).table.to_pylist() == [{"n": 0}]


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header says ``width`` x ``height`` pixels of one bit, with no pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def test_an_images_width_and_height_are_as_displayed_or_null_with_the_reason(lk, tmp_path):
    """Each image either has its size as a viewer shows it or none and ``_error`` says why.
    Before: a PNG or JPEG cut in half had the size its header promised (nothing decodes
    it); an image over Pillow's decompression-bomb limit, an SVG or a HEIC had no size and
    no reason; a photo whose EXIF turns it a quarter had its stored, not its displayed,
    width; a damaged AVIF failed the whole ingest (Pillow's RuntimeError). Animated GIFs,
    CMYK JPEGs, 16-bit PNGs and AVIF have their size."""
    import os

    from PIL import Image

    root = tmp_path / "images"
    root.mkdir()
    noise = Image.frombytes("RGB", (64, 48), os.urandom(64 * 48 * 3))
    whole_png, whole_jpeg = _saved(noise, "PNG"), _saved(noise, "JPEG", quality=95)
    turned = Image.Exif()
    turned[0x0112] = 6  # "rotate 90 CW to display"
    upright = Image.Exif()
    upright[0x0112] = 1
    photo = Image.new("RGB", (40, 30), "green")
    frames = [Image.frombytes("L", (8, 6), os.urandom(48)) for _ in range(3)]
    animated = _saved(frames[0], "GIF", save_all=True, append_images=frames[1:])
    images = {
        "whole.png": whole_png,
        "cut.png": whole_png[: len(whole_png) // 2],
        "cut.jpg": whole_jpeg[: len(whole_jpeg) // 2],
        "bomb.png": _png_claiming(100_000, 100_000),
        "turned.jpg": _saved(photo, "JPEG", exif=turned),
        "turned.png": _saved(photo, "PNG", exif=turned),
        "turned.webp": _saved(photo, "WEBP", exif=turned),
        "turned.avif": _saved(photo, "AVIF", exif=turned),
        "turned.tif": _saved(photo, "TIFF", tiffinfo={0x0112: 6}),
        "upright.jpg": _saved(photo, "JPEG", exif=upright),
        "animated.gif": animated,
        "cut.gif": animated[: len(animated) - 20],
        "trailer.jpg": whole_jpeg + b"\x00" * 64 + b"a camera's own trailer",
        # a motion photo: a video after the end, whose bytes may hold any marker
        "motion.jpg": whole_jpeg + b"\x00\x00\x00\x18ftypmp42" + b"\xff\xda" * 8 + bytes(32),
        "cmyk.jpg": _saved(Image.new("CMYK", (5, 4)), "JPEG"),
        "deep.png": _saved(Image.new("I;16", (7, 3)), "PNG"),
        "small.avif": _saved(Image.new("RGB", (6, 4)), "AVIF"),
        # its primary item's box renamed: Pillow raised RuntimeError and the ingest failed
        "damaged.avif": _saved(Image.new("RGB", (6, 4)), "AVIF").replace(b"pitm", b"\0itm"),
        "vector.svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
        "phone.heic": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64),
    }
    for name, data in images.items():
        (root / name).write_bytes(data)

    lk.ingest_files("media.sizes", str(root))

    rows = _landed(lk, "media.sizes")
    sizes = {n: (r["width"], r["height"]) for n, r in rows.items()}
    assert sizes == {
        "whole.png": (64, 48),
        "cut.png": (None, None),
        "cut.jpg": (None, None),
        "bomb.png": (None, None),
        "turned.jpg": (30, 40),
        "turned.png": (30, 40),
        "turned.webp": (30, 40),
        "turned.avif": (30, 40),
        "turned.tif": (30, 40),
        "upright.jpg": (40, 30),
        "animated.gif": (8, 6),
        "cut.gif": (None, None),
        "trailer.jpg": (64, 48),
        "motion.jpg": (64, 48),
        "cmyk.jpg": (5, 4),
        "deep.png": (7, 3),
        "small.avif": (6, 4),
        "damaged.avif": (None, None),
        "vector.svg": (None, None),
        "phone.heic": (None, None),
    }
    errors = {n: r["_error"] for n, r in rows.items() if r["_error"]}
    assert sorted(errors) == [
        "bomb.png",
        "cut.gif",
        "cut.jpg",
        "cut.png",
        "damaged.avif",
        "phone.heic",
        "vector.svg",
    ]
    assert "truncated" in errors["cut.png"].lower() and "truncated" in errors["cut.jpg"].lower()
    assert "decompression bomb" in errors["bomb.png"]
    assert errors["vector.svg"] == "no width/height: Pillow here cannot open it as image/svg+xml"
    assert errors["phone.heic"] == "no width/height: Pillow here cannot open it as image/heic"
    assert {r["media_type"] for r in rows.values()} >= {"image/heic", "image/svg+xml"}


def _sound(fmt: str, subtype: str, rate: int, channels: int, frames: int) -> bytes:
    """``frames`` frames of a quiet tone, written by libsndfile (python-soundfile)."""
    import io

    import numpy
    import soundfile

    tone = (numpy.sin(numpy.arange(frames) / 10.0) * 0.3).astype("float32")
    data = numpy.stack([tone] * channels, axis=1)
    out = io.BytesIO()
    soundfile.write(out, data, rate, format=fmt, subtype=subtype)
    return out.getvalue()


# An error in libsndfile's callbacks (a seek past the end of an S3 file) was printed with
# its traceback and the seek taken as done.
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_audio_has_its_duration_sample_rate_and_channels_or_nulls_with_the_reason(
    lk, cli, tmp_path
):
    """Audio had only a ``media_type``: nothing to filter or split a data set by. Now
    ``duration_s`` (frames / rate), ``sample_rate`` and ``channels`` come from the stored
    bytes by libsndfile, whatever the name says; a file cut short, one libsndfile cannot
    read (AAC in MP4) or an empty one has nulls and ``_error`` says why (a WAV cut short
    has no duration of its header's, nor of the bytes present)."""
    root = tmp_path / "sounds"
    root.mkdir()
    made = {  # name: (format, subtype, rate, channels, frames)
        "speech.wav": ("WAV", "PCM_16", 8000, 1, 12_345),
        "studio.wav": ("WAV", "FLOAT", 96_000, 2, 150_000),
        "album.flac": ("FLAC", "PCM_16", 44_100, 2, 66_150),
        "hifi.flac": ("FLAC", "PCM_24", 96_000, 1, 48_001),
        "voice.ogg": ("OGG", "VORBIS", 22_050, 1, 33_075),
        "call.opus": ("OGG", "OPUS", 48_000, 2, 24_000),
        "podcast.mp3": ("MP3", "MPEG_LAYER_III", 16_000, 1, 40_000),
        "music.mp3": ("MP3", "MPEG_LAYER_III", 48_000, 2, 96_000),
    }
    sounds = {name: _sound(*spec) for name, spec in made.items()}
    for name, data in sounds.items():
        (root / name).write_bytes(data)
    flac = sounds["album.flac"]
    (root / "renamed.wav").write_bytes(flac)  # a .wav holding FLAC
    wav = sounds["studio.wav"]
    (root / "cut.wav").write_bytes(wav[: len(wav) // 2])
    (root / "cut.flac").write_bytes(flac[: len(flac) // 2])
    mp3 = sounds["music.mp3"]
    (root / "cut.mp3").write_bytes(mp3[: len(mp3) // 2])
    aiff = _sound("AIFF", "PCM_16", 11_025, 2, 11_025)
    (root / "cut.aiff").write_bytes(aiff[: len(aiff) // 2])
    ogg = sounds["voice.ogg"]
    (root / "cut.ogg").write_bytes(ogg[: ogg.rindex(b"OggS")])  # between pages: all whole
    rf64 = _sound("RF64", "PCM_24", 32_000, 1, 32_000)  # a WAV over 4 GB is RF64
    (root / "cut-rf64.wav").write_bytes(rf64[: len(rf64) // 2])
    # Written to a pipe: its data size is 0xFFFFFFFF (unknown), not a claim of 4 GB.
    speech = sounds["speech.wav"]
    size_at = speech.index(b"data") + 4
    streamed = speech[:size_at] + b"\xff\xff\xff\xff" + speech[size_at + 4 :]
    (root / "streamed.wav").write_bytes(streamed)
    (root / "empty.wav").write_bytes(b"")
    (root / "lone-frame.mp3").write_bytes(b"\xff\xfb\x90\x00" + bytes(300))  # a header only
    (root / "aac.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00" + bytes(64))

    result = cli("ingest", "files", "media.sounds", str(root), "--output", "json")

    assert result.exit_code == 0, result.stderr
    rows = _landed(lk, "media.sounds")
    got = {n: (r["duration_s"], r["sample_rate"], r["channels"]) for n, r in rows.items()}
    for name, (_, _, rate, channels, frames) in made.items():
        assert got[name][0] == pytest.approx(frames / rate, abs=0.0005), name
        assert got[name][1:] == (rate, channels), name
        assert rows[name]["_error"] is None, name
    assert got["renamed.wav"][0] == pytest.approx(66_150 / 44_100, abs=0.0005)
    assert got["renamed.wav"][1:] == (44_100, 2)
    assert rows["renamed.wav"]["media_type"] == "audio/flac"
    assert rows["renamed.wav"]["_error"] == "the name says audio/x-wav, the bytes are audio/flac"
    assert got["streamed.wav"][0] == pytest.approx(12_345 / 8000, abs=0.0005)
    assert got["streamed.wav"][1:] == (8000, 1)
    assert rows["streamed.wav"]["_error"] is None
    cut = ("cut.wav", "cut.flac", "cut.mp3", "cut.aiff", "cut-rf64.wav", "cut.ogg")
    for name in (*cut, "empty.wav", "aac.m4a"):
        assert got[name] == (None, None, None), name
    assert got["lone-frame.mp3"] == (None, None, None)
    assert rows["lone-frame.mp3"]["_error"] == (
        "no duration/sample rate/channels: libsndfile cannot read it as audio: "
        "its decoder found nothing to decode"
    )
    errors = {n: rows[n]["_error"] for n in (*cut, "aac.m4a")}
    assert all(e.startswith("no duration/sample rate/channels: ") for e in errors.values())
    data_at = wav.index(b"data") + 8
    said = int.from_bytes(wav[data_at - 4 : data_at], "little")
    assert (
        f"header says {said} bytes of audio, {len(wav) // 2 - data_at} are there"
        in (errors["cut.wav"])
    )
    assert all("cut short" in errors[n] for n in cut)
    assert "header says 32000 frames" in errors["cut-rf64.wav"]
    assert "before the end-of-stream page of its Ogg stream" in errors["cut.ogg"]
    assert rows["cut.ogg"]["media_type"] == "audio/ogg"
    assert "libsndfile cannot read it as audio" in errors["aac.m4a"]
    assert rows["aac.m4a"]["media_type"] == "audio/mp4"
    assert rows["empty.wav"]["_error"] == "the name says audio/x-wav, but the file is empty"
    shown = {r["source"].rsplit("/", 1)[1]: r for r in result.json()["rows"]}
    assert shown["speech.wav"]["sample_rate"] == 8000  # the CLI's report has them too
    # Not audio: no audio values, and nothing said about them.
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "notes.txt").write_text("not a sound\n")
    lk.ingest_files("media.sounds", str(tmp_path / "more"))
    notes = _landed(lk, "media.sounds")["notes.txt"]
    assert (notes["duration_s"], notes["sample_rate"], notes["channels"], notes["_error"]) == (
        None,
        None,
        None,
        None,
    )


def test_a_files_table_from_before_the_audio_columns_gets_them_on_its_next_ingest(lk, tmp_path):
    """A table landed with the columns of before (no ``duration_s``, ``sample_rate``,
    ``channels``) takes the next ingest: its old rows read null, the new ones have values."""
    import pyarrow as pa

    old = pa.table(
        {
            "uri": ["objects/aa/old"],
            "source": ["file:///old.wav"],
            "sha256": ["aa" * 32],
            "size": pa.array([44], pa.int64()),
            "media_type": ["audio/x-wav"],
            "media_type_from": ["content"],
            "width": pa.array([None], pa.int32()),
            "height": pa.array([None], pa.int32()),
            "_ingested_at": pa.array([None], pa.timestamp("us", tz="UTC")),
            "_error": pa.array([None], pa.string()),
        }
    )
    lk.write_table("media.old", old, kind="files")
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "tone.wav").write_bytes(_sound("WAV", "PCM_16", 16_000, 1, 8_000))

    report = lk.ingest_files("media.old", str(tmp_path / "new"))

    assert report.version == 1
    rows = lk.sql(
        "SELECT source, duration_s, sample_rate, channels FROM media.old ORDER BY source"
    ).table.to_pylist()
    assert [tuple(r.values()) for r in rows] == [
        ("file:///old.wav", None, None, None),
        ((tmp_path / "new" / "tone.wav").as_uri(), 0.5, 16_000, 1),
    ]


def _s3_files(s3_server, monkeypatch, keys: dict[str, bytes]) -> str:
    """``keys`` put under a fresh prefix of the loopback S3's bucket, whatever the
    warehouse; the prefix's ``s3://`` URI."""
    import uuid

    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    prefix = f"uploads-{uuid.uuid4().hex[:8]}"
    s3 = s3_server.client()
    for key, data in keys.items():
        s3.put_object(Bucket=s3_server.bucket, Key=f"{prefix}/{key}", Body=data)
    return f"s3://{s3_server.bucket}/{prefix}"


def test_s3_keys_with_spaces_percents_pluses_and_unicode_are_named_byte_for_byte(
    backend, s3_server, monkeypatch
):
    """Each object's ``source`` is its key as stored, byte for byte: ``a b``, ``a%20b`` and
    ``a+b`` are three objects, and so are ``café`` composed and decomposed; each row has its
    own object's bytes. Given one by one, each key names the same object again. (Checked:
    already so; a guard.)"""
    import lake
    from tests.backends import unavailable

    if s3_server is None:
        unavailable("the loopback S3 server (moto) could not start")
    keys = ["a b.txt", "a%20b.txt", "a+b.txt", "caf\u00e9.txt", "cafe\u0301.txt", "100%.txt"]
    keys += ["q?x#y.txt", "x%2Fy.txt", "dir with space/tab\there.txt"]
    prefix = _s3_files(s3_server, monkeypatch, {k: k.encode() for k in keys})

    with lake.connect() as lk:
        rows = lk.ingest_files("media.keys", f"{prefix}/").rows
        alone = [lk.ingest_files("media.one", f"{prefix}/{k}").rows[0] for k in keys]

    by_source = {r["source"]: r["sha256"] for r in rows}
    expected = {f"{prefix}/{k}": hashlib.sha256(k.encode()).hexdigest() for k in keys}
    assert by_source == expected
    assert {r["source"]: r["sha256"] for r in alone} == expected


def test_an_s3_key_with_a_dot_or_empty_part_is_refused_not_skipped_as_hidden(
    backend, s3_server, monkeypatch
):
    """``./c.txt`` and ``sub/../d.txt`` are keys like any other, not hidden files; no S3
    client here reads them (``Path does not exist``), and the listing skipped them as if
    hidden: the ingest reported every file while leaving these out. It is refused in one
    sentence naming the key; hidden keys (``.cache/x``) are still skipped."""
    import pytest

    import lake
    from ingest.exceptions import SourceUnreadable
    from tests.backends import unavailable

    if s3_server is None:
        unavailable("the loopback S3 server (moto) could not start")
    prefix = _s3_files(
        s3_server,
        monkeypatch,
        {"a.txt": b"a", ".cache/x.txt": b"hidden", "sub/../d.txt": b"dot dot"},
    )

    with lake.connect() as lk:
        with pytest.raises(SourceUnreadable, match=r"'s3://.*/sub/\.\./d\.txt' .*'\.\.' part"):
            lk.ingest_files("media.dots", f"{prefix}/")
        assert lk.tables() == []


def test_a_pipe_is_never_read_skipped_in_a_folder_and_refused_when_named(lk, tmp_path):
    """A named pipe would block its reader until something wrote to it: in a folder it is
    no file to store (skipped, like a socket), named on its own or through a link it is
    refused in one sentence. (Checked: already so; a guard. A file replaced by a pipe after
    the listing is tests/faults/test_ingest_races.py's.)"""
    import os

    import pytest

    from ingest.exceptions import SourceUnreadable

    folder = tmp_path / "assets"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"a")
    os.mkfifo(folder / "pipe")
    (tmp_path / "link").symlink_to(folder / "pipe")

    assert lk.ingest_files("media.piped", str(folder)).files == 1
    for named in (folder / "pipe", tmp_path / "link"):
        with pytest.raises(SourceUnreadable, match="not a regular file"):
            lk.ingest_files("media.piped", str(named))
    assert [v.version for v in lk.history("media.piped")] == [0]


def test_a_text_file_quoting_a_pdf_header_keeps_its_names_type(lk, tmp_path):
    """A PDF may have bytes before its header (within its first 1,024), so '%PDF-' anywhere
    there was taken for the bytes of a PDF, over the name: a .md or a .txt quoting it
    became application/pdf, the name said to contradict the bytes. A header after other
    bytes now decides as text does: against a name claiming a binary type, or no name."""
    root = tmp_path / "docs"
    root.mkdir()
    quoting = b"# PDF files\n\nEvery PDF starts with a header such as `%PDF-1.7`.\n"
    for name, data in {
        "pdf.md": quoting,
        "pdf-notes.txt": quoting,
        "prefixed.pdf": b"junk before the header\n%PDF-1.4\n",
        "unnamed": b"\x00\x01junk\n%PDF-1.4\n",
        "header.pdf": b"%PDF-1.4\n",
        "header.txt": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
    }.items():
        (root / name).write_bytes(data)

    lk.ingest_files("media.docs", str(root))

    got = {n: (r["media_type"], r["_error"]) for n, r in _landed(lk, "media.docs").items()}
    assert got == {
        "pdf.md": ("text/markdown", None),
        "pdf-notes.txt": ("text/plain", None),
        "prefixed.pdf": ("application/pdf", None),
        "unnamed": ("application/pdf", None),
        "header.pdf": ("application/pdf", None),
        "header.txt": (
            "application/pdf",
            "the name says text/plain, the bytes are application/pdf",
        ),
    }


def test_text_that_starts_like_a_quicktime_atom_or_an_id3_tag_is_text(lk, tmp_path):
    """'The free tier...' holds 'free' at bytes 4-8, where an old QuickTime file has its
    first atom's type, and 'ID3 tags...' starts as an MP3's ID3 tag: such text files were
    video/quicktime and audio/mpeg, their names said to contradict the bytes. An atom is
    now taken only among bytes that are not text, an ID3 tag only with its version bytes."""
    root = tmp_path / "texts"
    root.mkdir()
    for name, data in {
        "pricing.md": b"The free tier allows ten queries a day.\n",
        "skip.txt": b"You skip the first line.\n",
        "tags.md": b"ID3 tags: artist, title, album.\n",
        "unnamed": b"The free tier allows ten queries a day.\n",
        "old.mov": b"\x00\x00\x00\x08wide\x00\x00\x00\x10mdat" + bytes(32),
        "tagged.mp3": b"ID3\x04\x00\x00\x00\x00\x00\x0a" + bytes(10) + b"\xff\xfb\x90\x00",
    }.items():
        (root / name).write_bytes(data)

    lk.ingest_files("media.texts", str(root))

    landed = _landed(lk, "media.texts")
    assert {n: r["media_type"] for n, r in landed.items()} == {
        "pricing.md": "text/markdown",
        "skip.txt": "text/plain",
        "tags.md": "text/markdown",
        "unnamed": "text/plain",
        "old.mov": "video/quicktime",
        "tagged.mp3": "audio/mpeg",
    }
    # No name is said to contradict the bytes; the MP3 (a tag and one frame header) has no
    # audio to measure, and says so.
    errors = {n: r["_error"] for n, r in landed.items() if r["_error"] is not None}
    assert list(errors) == ["tagged.mp3"]
    assert errors["tagged.mp3"].startswith("no duration/sample rate/channels: libsndfile")


def _bytes_moved() -> tuple[int, int]:
    """What this process has read and written so far: Linux's counts of the bytes its
    reads returned and its writes took (sockets' sends are not counted)."""
    counts = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return int(counts["rchar"]), int(counts["wchar"])


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux's /proc/self/io")
def test_a_new_file_is_read_once_and_stored_as_its_bytes_whatever_its_size(
    lk, tmp_path, monkeypatch
):
    """Every new file was read twice, hashed and then copied (11 MB of files: 22 MB read).
    It is hashed as it is copied: a small file read whole into memory, one of a read
    block or more streamed through a temporary object that becomes its object (but from
    a disk to S3, where it is read again, as the server's copy costs more). The
    objects, hashes and rows are the bytes'; the same bytes again are one object,
    read once, nothing written; nothing temporary is left."""
    import os

    from pyarrow.fs import FileSelector, FileType

    BLOCK = 2 << 20  # noqa: N806 - the module's read block, made small: the same paths, faster
    monkeypatch.setattr("ingest.files.BLOCK", BLOCK)
    folder = tmp_path / "assets"
    folder.mkdir()
    made = {f"small-{i}.bin": os.urandom(600_000 + i) for i in range(8)}
    made["large.bin"] = os.urandom(2 * BLOCK + 12_345)
    made["block.bin"] = os.urandom(BLOCK)  # exactly one block: the second read finds the end
    for name, data in made.items():
        (folder / name).write_bytes(data)
    (tmp_path / "warm").mkdir()
    (tmp_path / "warm" / "w.bin").write_bytes(b"w")
    lk.ingest_files("media.once", str(tmp_path / "warm"))  # imports, the table made

    before = _bytes_moved()
    report = lk.ingest_files("media.once", str(folder))
    read = _bytes_moved()[0] - before[0]
    again = lk.ingest_files("media.once", str(folder))
    read_again, written_again = (a - b for a, b in zip(_bytes_moved(), before, strict=True))
    read_again -= read

    total = sum(len(d) for d in made.values())
    # From a disk to S3 a large file is hashed, then read again to upload it (no copy made
    # on the server); read twice, every file was 2x. The ingest's own reads: under 2 MB.
    large = sum(len(d) for d in made.values() if len(d) >= BLOCK)
    once = total + (large if lk.storage.is_s3 else 0) + (3 << 20)
    assert report.new_objects == len(made)
    assert read < once, f"{read:,} bytes read for {total:,} bytes of files"
    assert (again.files, again.new_objects) == (len(made), 0)
    assert read_again < total + (3 << 20), f"{read_again:,} bytes read again for {total:,}"
    # Only the first ingest's objects and the two versions' files are written.
    assert written_again < 1.5 * total, f"{written_again:,} bytes written for {total:,}"
    rows = _landed(lk, "media.once")
    fs, root = lk.storage.filesystem_for(lk.storage.objects_root)
    stored = {
        i.path[len(root) + 1 :].replace("/", "")
        for i in fs.get_file_info(FileSelector(root, recursive=True))
        if i.type == FileType.File
    }
    digests = {n: hashlib.sha256(d).hexdigest() for n, d in made.items()}
    assert stored == {*digests.values(), hashlib.sha256(b"w").hexdigest()}, "none temporary"
    for name, data in made.items():
        row = rows[name]
        assert (row["sha256"], row["size"]) == (digests[name], len(data)), name
        assert row["uri"] == lk.storage.object_uri(digests[name])
        with fs.open_input_stream(lk.storage.filesystem_for(row["uri"])[1]) as f:
            assert f.read() == data, name
