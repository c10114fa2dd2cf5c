"""What a stored file is: its media type and, for an image, its size in pixels, for audio
its duration, sample rate and channels.

The rules, in this one place (``lake ingest files`` applies them to each stored object):

* ``media_type`` is what the **bytes** are when they start with a signature the lake knows
  (:func:`_sniff`: images, audio, video, archives, PDF). A name whose type is a kind of
  that container keeps its more precise type (``.docx`` is a ZIP, ``.opus`` an Ogg,
  ``.m4a`` an MP4 box). Bytes that are text (UTF-8, or UTF-16 with its mark), HTML/SVG
  markup or a PDF header after other bytes (a ``.md`` may quote one) decide only against a
  name claiming a binary type (a ``.mp3`` holding text is ``text/plain``), or a name that
  says nothing; a ``.csv`` or an XPM keeps its name's type. Else it is the **name's**
  type, unless the name claims a type whose signature the lake knows and the bytes lack
  it (a ``.png`` of other bytes is ``application/octet-stream``). Else what Pillow
  recognises, else ``application/octet-stream``.
* ``media_type_from`` says which: ``content`` (the bytes were checked), ``name`` (only the
  name says so: the lake has no signature for that type, e.g. ``text/csv``), or null
  (nothing told).
* ``width``/``height`` are pixels **as displayed**: an EXIF orientation that turns the
  picture (5-8) swaps the stored width and height, as ``ImageOps.exif_transpose`` and
  browsers do. They are set only when the image is whole: a PNG's chunks all there with
  their checksums, a JPEG's markers walked to its end marker (a trailer after it, such as
  a motion photo's video, is not read), any other format Pillow reads decoded frame by
  frame. A truncated or damaged image, one over Pillow's
  decompression-bomb limit, or a format Pillow here cannot read (HEIC, SVG) has none.
* ``duration_s``, ``sample_rate`` and ``channels`` are read by libsndfile (python-soundfile)
  from the bytes of a file whose ``media_type`` is ``audio/*`` (WAV, FLAC, Ogg Vorbis/Opus,
  MP3, AIFF...; the format is told by the bytes, never the name): ``duration_s`` is its
  frames / its sample rate. They are set only for audio libsndfile reads to the end its
  header gives: its last frame is read (a FLAC cut short fails there, an MP3 whose Xing
  header counts more frames than its bytes hold reads none), and a WAV, RF64 or AIFF whose
  header says more audio than the bytes present (libsndfile then counts the frames present
  and says so only in its log) is cut short too. A damaged file, a format libsndfile lacks
  (AAC/M4A, WebM), a length the header does not give (a streamed FLAC), or no frames at all
  (a header alone, an Ogg cut before its first position) has none. An Ogg holds no length
  in a header: its pages are walked (:func:`_ogg_cut`, RFC 3533), and one cut between
  pages, which libsndfile reads as the audio of its pages up to the last whole one, is cut
  short: a stream (serial) without its end-of-stream page; as is one cut inside a page,
  and one whose page has a wrong checksum or is missing is damaged.
* ``_error`` says why: an image or audio type without its values, or a name that says
  another type than the bytes; null when nothing is doubtful.
"""

from __future__ import annotations

import functools
import io
import mimetypes
import re
import shutil
import tempfile
import warnings
import zlib
from dataclasses import dataclass
from typing import Any, BinaryIO

HEAD = 4096
"""How much of a file's start the signatures look at."""
SPOOL = 32 << 20
"""An image up to this size is read in memory for Pillow; a larger one from a temporary file."""
AUDIO_BLOCK = 1 << 20
"""libsndfile reads audio through a buffer of this size (see :func:`describe`)."""

_COMPRESSED = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "compress": "application/x-compress",
}
"""The media type of the bytes of a file whose name says it is compressed (mimetypes'
encodings)."""


_LAKE_TYPES = {
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".m4a": "audio/mp4",
    ".webp": "image/webp",
    ".jxl": "image/jxl",
    ".jfif": "image/jpeg",
    ".mkv": "video/x-matroska",
    ".md": "text/markdown",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".7z": "application/x-7z-compressed",
    ".zst": "application/zstd",
}
"""Types Python's own table lacks, for common media and documents (as Debian's mime.types
spells them)."""


def _media_types() -> mimetypes.MimeTypes:
    """Python's own table of types and the lake's few more, never the host's: the module's
    ``guess_type`` reads the machine's ``/etc/mime.types`` (and others), so the same file got
    ``audio/flac`` on one host and ``application/octet-stream`` in the lake's own image
    (``python:3.11-slim`` has none), ``.opus`` ``audio/ogg`` on one and ``audio/opus`` on
    another: a table's ``media_type`` would depend on where each ingest ran."""
    types = mimetypes.MimeTypes(filenames=())  # reads no file of the machine's
    for extension, media_type in _LAKE_TYPES.items():
        types.add_type(media_type, extension)
    return types


_TYPES = _media_types()


def name_media_type(path: str) -> str | None:
    """The media type the file's name says. A compressed name (``photo.png.gz``,
    ``a.tar.gz``, ``b.svgz``) is its compression's type: mimetypes names the type of the
    content *inside* and the compression apart, and the stored bytes are the compressed
    ones (Pillow cannot read them as an image either)."""
    media_type, encoding = _TYPES.guess_type(path)
    if encoding is None:
        return media_type
    return _COMPRESSED.get(encoding, "application/octet-stream")


# ---------------------------------------------------------------------------------------
# Signatures

_ZIP_KINDS = frozenset(
    {
        "application/zip",
        "application/java-archive",
        "application/epub+zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "application/vnd.android.package-archive",
    }
)
_OGG_KINDS = frozenset({"audio/ogg", "audio/opus", "audio/vorbis", "video/ogg", "application/ogg"})
_ISO_MEDIA_KINDS = frozenset(
    {
        "video/mp4",
        "audio/mp4",
        "video/quicktime",
        "audio/3gpp",
        "video/3gpp",
        "audio/3gpp2",
        "video/3gpp2",
        "image/heic",
        "image/heif",
        "image/avif",
        "audio/aac",
    }
)
_MATROSKA_KINDS = frozenset({"video/x-matroska", "video/webm", "audio/webm", "audio/x-matroska"})
_ID3_KINDS = frozenset({"audio/mpeg", "audio/flac", "audio/aac", "audio/x-aiff"})
"""An ID3 tag may lead an MP3, and (against the standards, but written) a FLAC or AAC."""


@dataclass(frozen=True)
class _Sniffed:
    media_type: str
    kinds: frozenset[str] = frozenset()
    """Names' types that are this container too: such a name's type is kept."""
    weak: bool = False
    """Bytes that many formats may start with (text, markup): they decide only against a
    name claiming a binary type (:func:`_binary`), or when the name says nothing."""


def _iso_media(head: bytes) -> _Sniffed | None:
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot") and not _text(head):
        # QuickTime before ftyp existed. Its atom types are words: 'The free tier...' holds
        # one at the same place; an atom's size and contents are not text.
        return _Sniffed("video/quicktime", _ISO_MEDIA_KINDS)
    if head[4:8] != b"ftyp":
        return None
    brand = head[8:12]
    if brand in (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"):
        return _Sniffed("image/heic", _ISO_MEDIA_KINDS)
    if brand in (b"mif1", b"msf1"):
        return _Sniffed("image/heif", _ISO_MEDIA_KINDS)
    if brand in (b"avif", b"avis"):
        return _Sniffed("image/avif", _ISO_MEDIA_KINDS)
    if brand in (b"M4A ", b"M4B "):
        return _Sniffed("audio/mp4", _ISO_MEDIA_KINDS)
    if brand == b"qt  ":
        return _Sniffed("video/quicktime", _ISO_MEDIA_KINDS)
    return _Sniffed("video/mp4", _ISO_MEDIA_KINDS)


def _riff(head: bytes) -> _Sniffed | None:
    if head[:4] not in (b"RIFF", b"RF64", b"BW64"):  # the last two: WAVs over 4 GB
        return None
    form = head[8:12]
    return {
        b"WEBP": _Sniffed("image/webp"),
        b"WAVE": _Sniffed("audio/x-wav", frozenset({"audio/x-wav", "audio/wav", "audio/vnd.wave"})),
        b"AVI ": _Sniffed("video/x-msvideo"),
    }.get(form)


def _aiff(head: bytes) -> _Sniffed | None:
    # An IFF file: 'FORM', its size, its form ('AIFC' compressed, Apple's '.aifc').
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return _Sniffed("audio/x-aiff", frozenset({"audio/x-aiff", "audio/aiff"}))
    return None


def _mpeg_audio(head: bytes) -> _Sniffed | None:
    if head[:3] == b"ID3" and head[3:4] in (b"\x02", b"\x03", b"\x04"):  # its version, 2.2-2.4
        return _Sniffed("audio/mpeg", _ID3_KINDS)
    # A frame header: 11 sync bits, a version other than "reserved", layer III or II (layer
    # I's bits are those of a UTF-16 byte-order mark), a bitrate other than "bad".
    if len(head) >= 3 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        version, layer, bitrate = (head[1] >> 3) & 3, (head[1] >> 1) & 3, head[2] >> 4
        if version != 1 and layer in (1, 2) and bitrate != 15:
            return _Sniffed("audio/mpeg", frozenset({"audio/mpeg", "audio/aac"}))
    return None


def _bmp(head: bytes) -> _Sniffed | None:
    # "BM" alone starts words of text: the DIB header's own size must be one of the known.
    dib = int.from_bytes(head[14:18], "little")
    ok = head[:2] == b"BM" and dib in (12, 16, 40, 52, 56, 64, 108, 124)
    return _Sniffed("image/bmp") if ok else None


def _markup(head: bytes) -> _Sniffed | None:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html")):
        return _Sniffed("text/html", weak=True)
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return _Sniffed("image/svg+xml", weak=True)
    return None


def _pdf(head: bytes) -> _Sniffed | None:
    if head.startswith(b"%PDF-"):
        return _Sniffed("application/pdf")
    # The standard allows bytes before the header, within its first 1,024; a header there
    # is as weak as text: a .md or .txt quoting '%PDF-1.7' near its start is no PDF.
    return _Sniffed("application/pdf", weak=True) if b"%PDF-" in head[:1024] else None


_CONTROL = frozenset(range(32)) - {9, 10, 12, 13, 27}


def _text(head: bytes) -> _Sniffed | None:
    """UTF-8 (or UTF-16 with its byte-order mark) without control characters."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            body = head[: len(head) // 2 * 2].decode("utf-16")
        except UnicodeDecodeError:
            return None
        return None if any(ord(c) in _CONTROL for c in body) else _Sniffed("text/plain", weak=True)
    body = head.removeprefix(b"\xef\xbb\xbf")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(body) - 3 or len(head) < HEAD:  # else only a character cut by HEAD
            return None
        body = body[: e.start]
    if not body or _CONTROL.intersection(body):
        return None
    return _Sniffed("text/plain", weak=True)


# Kept by hand, not taken from a library (compared 2026-12-07 on the kinds of bytes the
# tests hold): filetype 1.2.0 (MIT, last release 2022) knows no RF64, MP3 without ID3,
# old QuickTime, JPEG XL, text, HTML, SVG or a PDF after junk, and calls text starting 'BM' a
# BMP; puremagic 1.30 (MIT; its 2.x needs Python 3.12) calls 'The free tier...' QuickTime
# and AVIF MP4, misses M4A, MP3 frames and JPEG XL, and took 7 ms a file (ours 0.05 ms,
# filetype's 0.34 ms). Neither knows a container's family, which keeps a name's type.
_PREFIXES: tuple[tuple[bytes, _Sniffed], ...] = (
    (b"\x89PNG\r\n\x1a\n", _Sniffed("image/png")),
    (b"\xff\xd8\xff", _Sniffed("image/jpeg")),
    (b"GIF87a", _Sniffed("image/gif")),
    (b"GIF89a", _Sniffed("image/gif")),
    (b"II*\x00", _Sniffed("image/tiff")),
    (b"MM\x00*", _Sniffed("image/tiff")),
    (b"\xff\x0a", _Sniffed("image/jxl")),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", _Sniffed("image/jxl")),
    (b"PK\x03\x04", _Sniffed("application/zip", _ZIP_KINDS)),
    (b"PK\x05\x06", _Sniffed("application/zip", _ZIP_KINDS)),
    (b"\x1f\x8b", _Sniffed("application/gzip")),
    (b"\xfd7zXZ\x00", _Sniffed("application/x-xz")),
    (b"(\xb5/\xfd", _Sniffed("application/zstd")),
    (b"7z\xbc\xaf\x27\x1c", _Sniffed("application/x-7z-compressed")),
    (b"fLaC", _Sniffed("audio/flac")),
    (b"OggS", _Sniffed("audio/ogg", _OGG_KINDS)),
    (b"\x1aE\xdf\xa3", _Sniffed("video/x-matroska", _MATROSKA_KINDS)),
)


def _sniff(head: bytes) -> _Sniffed | None:
    for prefix, sniffed in _PREFIXES:
        if head.startswith(prefix):
            return sniffed
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] in _BZIP2_BLOCKS:
        return _Sniffed("application/x-bzip2")
    for sniff in (_iso_media, _riff, _aiff, _mpeg_audio, _bmp, _pdf, _markup, _text):
        if found := sniff(head):
            return found
    return None


_BZIP2_BLOCKS = (b"\x31\x41\x59\x26\x53\x59", b"\x17\x72\x45\x38\x50\x90")

_CHECKED = frozenset(
    [s.media_type for _, s in _PREFIXES]
    + ["application/x-bzip2", "image/heic", "image/heif", "image/avif", "audio/mp4"]
    + ["video/quicktime", "video/mp4", "image/webp", "audio/x-wav", "video/x-msvideo"]
    + ["image/bmp", "application/pdf", "audio/x-aiff"]
    + sorted(_ZIP_KINDS | _OGG_KINDS | _MATROSKA_KINDS)
)
"""Types whose bytes the lake knows: a name claiming one of them is believed only when the
bytes agree. Not MP3 (a frame may follow any junk), HTML or SVG (they may start with a
comment or anything): their names are not contradicted by bytes that do not start so."""


def _binary(claimed: str) -> bool:
    """Whether text bytes contradict the name's type (an image may be text: XPM, SVG)."""
    return claimed in _CHECKED or claimed.startswith(("audio/", "video/"))


# ---------------------------------------------------------------------------------------
# The rule


@dataclass(frozen=True)
class Described:
    """What :func:`describe` found of one file: its columns ``media_type``,
    ``media_type_from``, ``width``, ``height``, ``duration_s``, ``sample_rate``,
    ``channels`` and ``_error``."""

    media_type: str
    media_type_from: str | None
    width: int | None
    height: int | None
    error: str | None
    duration_s: float | None = None
    sample_rate: int | None = None
    channels: int | None = None


def describe(name: str, handle: BinaryIO) -> Described:
    """The media type of the file named ``name`` whose bytes ``handle`` reads (seekable,
    at its start), and its size when it is an image (see the module's rules)."""
    head = handle.read(HEAD)
    claimed = name_media_type(name)
    if claimed == "application/octet-stream":  # a name (.bin) that says it does not know
        claimed = None
    sniffed = _sniff(head)
    notes: list[str] = []
    media_type: str | None
    if sniffed is not None and sniffed.weak and claimed is not None and not _binary(claimed):
        media_type, source = claimed, "content" if claimed == sniffed.media_type else "name"
    elif sniffed is not None:
        precise = claimed is not None and claimed in sniffed.kinds
        media_type, source = (claimed if precise else sniffed.media_type), "content"
        if claimed is not None and media_type != claimed:
            notes.append(f"the name says {claimed}, the bytes are {sniffed.media_type}")
    elif claimed is not None and claimed in _CHECKED:
        media_type, source = None, None
        bytes_are = "the file is empty" if not head else f"the bytes are not {claimed}"
        notes.append(f"the name says {claimed}, but {bytes_are}")
    else:
        media_type, source = claimed, "name" if claimed else None

    width = height = None
    if (media_type is None and _pillow_knows(head)) or (media_type or "").startswith("image/"):
        handle.seek(0)
        # Pillow is given a Python file: it tries its readers in turn, and one (IM, before
        # WebP's) reads lines, another seeks past the end, which pyarrow's files refuse (a
        # WebP had no width).
        with tempfile.SpooledTemporaryFile(max_size=SPOOL) as copy:
            shutil.copyfileobj(handle, copy, 1 << 20)
            copy.seek(0)
            width, height, pillow_type, why = _image(copy, media_type)
        if media_type is None and pillow_type is not None:
            media_type, source = pillow_type, "content"
        elif media_type is not None and why:
            notes.append(f"no width/height: {why}")
    sound = _Sound(None, None, None, None)
    if (media_type or "").startswith("audio/"):
        handle.seek(0)
        # libsndfile reads in small pieces (an MP3's frames are scanned to count them: 50,000
        # reads for 11 MB), each a request on S3: read through a buffer, in blocks.
        buffered = io.BufferedReader(_AnySeek(handle), AUDIO_BLOCK)
        try:
            cut = _ogg_cut(buffered) if head.startswith(b"OggS") else None
            buffered.seek(0)
            sound = _no_sound(cut) if cut else _sound(buffered)
        finally:
            buffered.detach()  # the caller closes its handle
        if sound.why:
            notes.append(f"no duration/sample rate/channels: {sound.why}")
    return Described(
        media_type or "application/octet-stream",
        source,
        width,
        height,
        "; ".join(notes) or None,
        sound.duration_s,
        sound.sample_rate,
        sound.channels,
    )


def _pillow_knows(head: bytes) -> bool:
    """Whether Pillow takes a file of no known type for an image by its first bytes: only
    then is the whole file given to it (a copy, see :func:`describe`)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(head)):
                return True
    except Exception:  # noqa: BLE001 - whatever a reader raises on bytes it does not know
        return False


_TURNED = frozenset({5, 6, 7, 8})
"""EXIF orientations that turn the picture a quarter: its displayed width is its stored height."""


def _image(
    handle: BinaryIO, media_type: str | None
) -> tuple[int | None, int | None, str | None, str | None]:
    """(width, height, Pillow's media type, why there is no size) of an image Pillow reads."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Over the limit Pillow only warns (an error over twice it): both are refused,
            # as decoding such an image is what the limit guards against.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(handle) as image:
                pillow_type = Image.MIME.get(image.format or "")
                width, height = image.size
                try:
                    orientation = _orientation(image)
                    _check_whole(image, handle)
                except Exception as e:  # noqa: BLE001 - see below
                    return None, None, pillow_type, f"the image is not whole ({e})"
    except UnidentifiedImageError:
        # Pillow's own message names the handle (an address), not the file: said here. Not
        # told apart: a format it has no reader for (HEIC, SVG) and a damaged file.
        return None, None, None, f"Pillow here cannot open it as {media_type}"
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        return None, None, None, str(e)
    except Exception as e:  # noqa: BLE001
        # Pillow's readers meet damaged bytes with whatever they raise (IndexError in a GIF,
        # TypeError in a TIFF, RuntimeError in an AVIF): one damaged file failed the ingest.
        return None, None, None, f"the image is not whole ({type(e).__name__}: {e})"
    if orientation in _TURNED:
        width, height = height, width
    return width, height, pillow_type, None


def _orientation(image: Any) -> int | None:
    """The EXIF orientation, without decoding: Pillow's ``getexif`` of a PNG decodes the
    whole image when no eXIf chunk came before the pixels (the standard's place for it)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "Corrupt EXIF data", on stderr
            if image.format == "TIFF":
                return None  # Pillow's TIFF reader turns the picture itself: size as displayed
            if image.format != "PNG":
                return image.getexif().get(0x0112)
            exif = Image.Exif()
            if raw := image.info.get("exif"):
                exif.load(raw)
            return exif.get(0x0112)
    except Exception:  # noqa: BLE001 - a damaged EXIF block says no orientation, as to a viewer
        return None


def _check_whole(image: Any, handle: BinaryIO) -> None:
    """Raises when the image is cut short or damaged, as cheaply as the format allows: a
    PNG's chunks are read to its end with their checksums, none inflated (``verify``, 4 ms
    for 8 MB where decoding took 90); a JPEG's markers are walked to its end marker (2-11 ms
    for a 12-megapixel photo, where decoding it even at 1/8 scale took 120); any other
    format has every frame decoded."""
    if image.format == "PNG":
        image.verify()
    elif image.format in ("JPEG", "MPO"):
        if not _jpeg_ends(handle):
            raise OSError("image file is truncated: its markers end before its end marker")
    else:
        for frame in range(getattr(image, "n_frames", 1)):
            image.seek(frame)
            image.load()


def _jpeg_ends(handle: BinaryIO) -> bool:
    """Whether the JPEG's markers, walked from its start, reach its end-of-image marker:
    each segment skipped by its length, each scan's data read up to the next marker (in it
    a 0xFF byte is followed only by 0x00 or a restart marker). What follows the end (a
    camera's trailer, a motion photo's video, whose bytes hold anything) is not read."""
    handle.seek(0)
    if handle.read(2) != b"\xff\xd8":
        return False
    while True:
        marker = handle.read(2)
        while marker[:1] == b"\xff" and marker[1:] == b"\xff":  # fill bytes before a marker
            marker = b"\xff" + handle.read(1)
        if len(marker) < 2 or marker[0] != 0xFF:
            return False
        kind = marker[1]
        if kind == 0xD9:
            return True
        if 0xD0 <= kind <= 0xD7 or kind == 0x01:  # no length
            continue
        length = handle.read(2)
        if len(length) < 2 or int.from_bytes(length, "big") < 2:
            return False
        skipped = int.from_bytes(length, "big") - 2
        if len(handle.read(skipped)) < skipped:
            return False
        if kind == 0xDA and not _past_scan(handle):
            return False


def _past_scan(handle: BinaryIO) -> bool:
    """Reads a scan's data and leaves the handle at the marker after it; False at the end
    of the file (the scan is cut short)."""
    while block := handle.read(1 << 16):
        at = block.find(b"\xff")
        while at >= 0:
            if at + 1 == len(block):
                more = handle.read(1)
                if not more:
                    return False
                block += more
            following = block[at + 1]
            if following != 0x00 and not 0xD0 <= following <= 0xD7:
                handle.seek(at - len(block), 1)  # back to the marker's 0xFF
                return True
            at = block.find(b"\xff", at + 2)
    return False


# ---------------------------------------------------------------------------------------
# Audio


@dataclass(frozen=True)
class _Sound:
    duration_s: float | None
    sample_rate: int | None
    channels: int | None
    why: str | None
    """Why there are no values; None when there are."""


_UNKNOWN_LENGTH = (1 << 63) - 1
"""libsndfile's frame count (``SF_COUNT_MAX``) for a stream whose header does not give its
length (a FLAC written to a pipe)."""
_CUT_DATA = re.compile(r"^\s*(data|SSND) : (\d+) \(should be (\d+)\)$", re.MULTILINE)
"""libsndfile's log line for a WAV's (``data``) or AIFF's (``SSND``) audio chunk whose size
is more than the bytes present; it then counts the frames present, silently."""
_CUT_FRAMES = re.compile(
    r"Calculated frame count (\d+) does not match value from '\w+' chunk of (\d+)"
)
"""libsndfile's log line for an RF64 (a WAV over 4 GB) whose ``ds64`` chunk counts more
frames than the bytes present hold."""
_STREAMED = 0xFFFFFFFF
"""The data size a WAV written to a pipe keeps (its length was not known): not a cut."""


class _AnySeek(io.RawIOBase):
    """``handle`` as a file that may be positioned past its end (reads there find nothing),
    as libsndfile does on a cut file: pyarrow's S3 files refuse it, and the error, raised in
    libsndfile's callback, was printed with its traceback and the seek taken as done."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._size = handle.seek(0, io.SEEK_END)
        self._at = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._at

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        at = offset + {io.SEEK_SET: 0, io.SEEK_CUR: self._at, io.SEEK_END: self._size}[whence]
        if at < 0:
            raise OSError(f"cannot seek to {at}")
        self._at = at
        return at

    def readinto(self, buffer: Any) -> int:
        if self._at >= self._size:
            return 0
        self._handle.seek(self._at)
        data = self._handle.read(min(len(buffer), self._size - self._at))
        buffer[: len(data)] = data
        self._at += len(data)
        return len(data)


def _sound(handle: io.BufferedReader) -> _Sound:
    """Duration, sample rate and channels of the audio ``handle`` reads (seekable, at its
    start), by libsndfile, which reads through the handle only what it needs: the header
    and the end to check the last frame is there (in blocks of :data:`AUDIO_BLOCK`: 2 MB of
    a 115 MB WAV, 1 MB of a 95 MB FLAC, 1.2 MB of a 9 MB Ogg), or an MP3's every frame
    header, to count them (the whole file, 0.06 s for ten minutes)."""
    import soundfile

    try:
        sound = soundfile.SoundFile(handle)
    except Exception as e:  # noqa: BLE001 - one damaged file must not fail the ingest
        # soundfile's own message names the handle (an address), not the file.
        return _no_sound(f"libsndfile cannot read it as audio: {_reason(e)}")
    with sound:
        frames, rate, channels = sound.frames, sound.samplerate, sound.channels
        kind = f"{sound.format} ({sound.subtype})"
        if frames == _UNKNOWN_LENGTH:
            return _no_sound(f"its {kind} header does not give its length")
        if frames <= 0:
            return _no_sound(f"libsndfile finds no audio frames in this {kind}")
        log = sound.extra_info
        cut = _CUT_DATA.search(log)
        if cut and int(cut[2]) != _STREAMED:
            return _no_sound(
                f"the audio is cut short: its {kind} header says {cut[2]} bytes of audio, "
                f"{cut[3]} are there"
            )
        cut = _CUT_FRAMES.search(log)
        if cut and int(cut[1]) < int(cut[2]):
            return _no_sound(
                f"the audio is cut short: its {kind} header says {cut[2]} frames, "
                f"{cut[1]} are there"
            )
        try:
            sound.seek(frames - 1)
            last = len(sound.read(1, dtype="float32"))
        except Exception as e:  # noqa: BLE001 - libsndfile's error for a cut FLAC, or other
            return _no_sound(
                f"the audio is cut short or damaged: its {kind} header says {frames} frames, "
                f"reading the last failed ({_reason(e)})"
            )
        if last != 1:
            return _no_sound(
                f"the audio is cut short: its {kind} header says {frames} frames, "
                "the last is not there"
            )
    return _Sound(frames / rate, rate, channels, None)


_OGG_HEADER = 27
"""The fixed part of an Ogg page's header (RFC 3533 section 6), before its segment table."""
_OGG_BOS, _OGG_EOS = 0x02, 0x04
_BIT_REVERSED = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


@functools.lru_cache(maxsize=256)
def _crc_of_zeros(length: int) -> int:
    return zlib.crc32(bytes(length))


def _ogg_crc(page: bytes) -> int:
    """The Ogg CRC-32 of ``page`` (its CRC field zeroed): polynomial 0x04C11DB7, unreflected,
    initial value and final xor 0. zlib computes the reflected one, with initial value and
    final xor 0xFFFFFFFF: given the page's bits reversed, and its initial value undone by
    the CRC of as many zeros (a CRC is linear), it is this one with its bits reversed (pure
    Python ran at 1 MB/s)."""
    reflected = zlib.crc32(page.translate(_BIT_REVERSED)) ^ _crc_of_zeros(len(page))
    return int(f"{reflected:032b}"[::-1], 2)


def _ogg_cut(handle: BinaryIO) -> str | None:
    """Why the Ogg file ``handle`` reads is not whole, or None: its pages walked from its
    start (RFC 3533): each starts with ``OggS`` and version 0, holds as many bytes as its
    segment table says and its CRC; each logical stream (by serial number: chained one after
    another, or multiplexed) starts with a page flagged beginning-of-stream, numbers its
    pages one after another, and ends with a page flagged end-of-stream (0x04). A file cut
    exactly between pages has whole pages only: the streams left without their last page
    tell it. Bytes after every stream ended are not audio and not read. The whole file is
    read (the CRCs are of every byte; from S3 too, where libsndfile read about an eighth):
    9.8 MB of pages in 0.13-0.16 s, measured with both cores busy with other work."""
    handle.seek(0)
    open_streams: dict[int, int] = {}  # serial: the number of its last page
    at = page_number = 0
    while True:
        header = handle.read(_OGG_HEADER)
        if page_number and not open_streams and header[:4] != b"OggS":
            return None  # every stream ended: the end, or bytes that are no page, not read
        if not header:
            return _ogg_unended(open_streams, "ends")
        if header[:4] != b"OggS":
            return f"the Ogg file is damaged: no page starts at byte {at}"
        if len(header) < _OGG_HEADER:
            return _ogg_unended(open_streams, f"ends inside the header of a page at byte {at}")
        if header[4] != 0:
            return f"the Ogg file is damaged: the page at byte {at} is of version {header[4]}"
        flags = header[5]
        serial = int.from_bytes(header[14:18], "little")
        sequence = int.from_bytes(header[18:22], "little")
        table = handle.read(header[26])
        body = handle.read(sum(table)) if len(table) == header[26] else b""
        if len(table) < header[26] or len(body) < sum(table):
            return (
                f"the audio is cut short: the file ends inside its Ogg page at byte {at} "
                f"(stream {serial:#010x})"
            )
        page = header[:22] + b"\0\0\0\0" + header[26:] + table + body
        if _ogg_crc(page) != int.from_bytes(header[22:26], "little"):
            return f"the Ogg file is damaged: the checksum of its page at byte {at} is wrong"
        if serial not in open_streams:
            if not flags & _OGG_BOS:
                return (
                    f"the Ogg file is damaged: a page of stream {serial:#010x} at byte {at} "
                    "is not of a stream begun (no beginning-of-stream page before it)"
                )
        elif sequence != open_streams[serial] + 1:
            return (
                f"the Ogg file is damaged: stream {serial:#010x} goes from page "
                f"{open_streams[serial]} to page {sequence} at byte {at} (pages are missing)"
            )
        open_streams[serial] = sequence
        if flags & _OGG_EOS:
            del open_streams[serial]
        at += _OGG_HEADER + len(table) + len(body)
        page_number += 1


def _ogg_unended(open_streams: dict[int, int], how: str) -> str:
    streams = ", ".join(f"{s:#010x} (after its page {n})" for s, n in open_streams.items())
    return (
        f"the audio is cut short: the file {how}, before the end-of-stream page of its Ogg "
        f"stream {streams}"
    )


_BAD_FILE = 7
"""libsndfile's ``SFE_BAD_FILE``, which an MP3 decoder that finds no frame to start on also
returns: its text ("File does not exist or is not a regular file") is false of an object
read through its handle."""


def _reason(e: Exception) -> str:
    import soundfile

    if isinstance(e, soundfile.LibsndfileError):
        return "its decoder found nothing to decode" if e.code == _BAD_FILE else e.error_string
    return f"{type(e).__name__}: {e}"


def _no_sound(why: str) -> _Sound:
    return _Sound(None, None, None, why)


__all__ = ["HEAD", "Described", "describe", "name_media_type"]
