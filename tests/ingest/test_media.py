"""``ingest.media``'s rules on bytes alone (``describe`` of a file's bytes, no lake): the
Ogg page walk (RFC 3533) that tells an Ogg cut between pages from a whole one; AIFF told by
its bytes. The sounds
are written here by libsndfile; pages are cut, dropped, interleaved and renumbered with
their CRC made again by this file's own (table-driven) CRC-32."""

from __future__ import annotations

import io

import pytest

from ingest.media import describe

_CRC_TABLE = []
for _i in range(256):
    _r = _i << 24
    for _ in range(8):
        _r = ((_r << 1) ^ 0x04C11DB7) if _r & 0x80000000 else _r << 1
    _CRC_TABLE.append(_r & 0xFFFFFFFF)


def _crc(page: bytes) -> int:
    crc = 0
    for byte in page[:22] + bytes(4) + page[26:]:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[(crc >> 24) ^ byte]
    return crc


def _pages(data: bytes) -> list[bytes]:
    pages, at = [], 0
    while at < len(data):
        count = data[at + 26]
        end = at + 27 + count + sum(data[at + 27 : at + 27 + count])
        pages.append(data[at:end])
        at = end
    return pages


def _page(page: bytes, *, serial: int | None = None, sequence: int | None = None) -> bytes:
    """The page with another serial or sequence number, and its CRC made again."""
    out = bytearray(page)
    if serial is not None:
        out[14:18] = serial.to_bytes(4, "little")
    if sequence is not None:
        out[18:22] = sequence.to_bytes(4, "little")
    out[22:26] = _crc(bytes(out)).to_bytes(4, "little")
    return bytes(out)


@pytest.fixture(scope="module")
def vorbis() -> list[bytes]:
    """The pages of 10 s of Ogg Vorbis at 22,050 Hz, mono (two of headers, then audio)."""
    import numpy
    import soundfile

    out = io.BytesIO()
    tone = (numpy.sin(numpy.arange(220_500) / 10.0) * 0.3).astype("float32")
    soundfile.write(out, tone, 22_050, format="OGG", subtype="VORBIS")
    pages = _pages(out.getvalue())
    assert pages[0][5] == 0x02 and pages[-1][5] == 0x04 and len(pages) >= 5
    return pages


def _of(pages: list[bytes], serial: int) -> list[bytes]:
    return [_page(p, serial=serial) for p in pages]


def _described(data: bytes):
    return describe("sound.ogg", io.BytesIO(data))


def test_an_ogg_cut_between_pages_has_no_duration_and_says_which_stream_lacks_its_end(vorbis):
    """libsndfile reads an Ogg cut after a whole page as the audio of the pages there (most
    of the sound, no word of a cut): each stream must end with its end-of-stream page."""
    whole = _described(b"".join(vorbis))
    cut = _described(b"".join(vorbis[:-1]))
    serial = int.from_bytes(vorbis[0][14:18], "little")

    assert (whole.duration_s, whole.error) == (pytest.approx(10.0, abs=0.001), None)
    assert (cut.media_type, cut.duration_s, cut.sample_rate, cut.channels) == (
        "audio/ogg",
        None,
        None,
        None,
    )
    assert cut.error == (
        "no duration/sample rate/channels: the audio is cut short: the file ends, before the "
        f"end-of-stream page of its Ogg stream {serial:#010x} (after its page "
        f"{len(vorbis) - 2})"
    )


def test_an_ogg_cut_inside_a_page_damaged_or_missing_a_page_has_no_duration(vorbis):
    data = b"".join(vorbis)
    middle = len(b"".join(vorbis[:3]))
    flipped = bytearray(data)
    flipped[middle + 40] ^= 0x01

    inside = _described(data[: middle + 40])
    in_header = _described(data[: middle + 10])
    damaged = _described(bytes(flipped))
    missing = _described(b"".join(vorbis[:2] + vorbis[3:]))

    assert "cut short: the file ends inside its Ogg page at byte" in inside.error
    assert f"ends inside the header of a page at byte {middle}" in in_header.error
    assert f"the checksum of its page at byte {middle} is wrong" in damaged.error
    assert "goes from page 1 to page 3" in missing.error
    assert all(
        d.duration_s is None and d.media_type == "audio/ogg"
        for d in (inside, in_header, damaged, missing)
    )


def test_chained_and_multiplexed_ogg_streams_each_need_their_end(vorbis):
    """Chained streams (one after another) and multiplexed ones (their pages interleaved,
    every beginning first) end each with their own end-of-stream page, by serial number."""
    one, two = _of(vorbis, 0x11111111), _of(vorbis, 0x22222222)
    chained = b"".join(one + two)
    chain_cut = b"".join(one + two[:-1])
    pairs = zip(one[1:], two[1:], strict=True)
    interleaved = [one[0], two[0]] + [p for pair in pairs for p in pair]
    multiplexed = b"".join(interleaved)
    one_unended = b"".join(p for p in interleaved if p != one[-1])

    assert _described(chained).error is None
    assert _described(chained + b"\x00" * 100).error is None, "bytes after every end"
    assert "Ogg stream 0x22222222 (after its page" in _described(chain_cut).error
    assert "cut short" not in (_described(multiplexed).error or "")
    unended = _described(one_unended).error
    assert "stream 0x11111111 (after its page" in unended
    assert "0x22222222" not in unended
    stray = b"".join(one + [two[2]])
    assert "a page of stream 0x22222222" in _described(stray).error


def test_aiff_is_told_by_its_bytes_whatever_its_name():
    """An AIFF's bytes were not known: one named .wav (or with no name) was
    ``application/octet-stream``, without its duration, though libsndfile reads it."""
    import numpy
    import soundfile

    out = io.BytesIO()
    soundfile.write(out, numpy.zeros((8000, 2), "float32"), 8000, format="AIFF")
    data = out.getvalue()

    found = {name: describe(name, io.BytesIO(data)) for name in ("clip.wav", "clip", "c.aif")}

    assert {n: (d.media_type, d.media_type_from, d.duration_s) for n, d in found.items()} == {
        "clip.wav": ("audio/x-aiff", "content", 1.0),
        "clip": ("audio/x-aiff", "content", 1.0),
        "c.aif": ("audio/x-aiff", "content", 1.0),
    }
    assert found["clip.wav"].error == "the name says audio/x-wav, the bytes are audio/x-aiff"
    assert found["clip"].error is None
