"""What audio bytes say about themselves: a container's magic number, and a short description for error messages.

Only *strong* signatures count (several fixed bytes at a fixed place), because these are what overrule a
headerless label: 16-bit PCM often starts ``FF FF`` (a quiet negative sample), which is also an MPEG frame sync,
so one frame sync is reported (``describe``) but never makes headerless data a container. Three frames chained at
the lengths their headers give (MPEG audio or ADTS, from the first byte) are strong: that is what FFmpeg's mp3
and aac probes count, and 15+ bits of each later header must fall at an exact place. Sources: the formats'
specifications (RIFF/WAVE, RF64 EBU 3306, FLAC, Ogg RFC 3533, ID3v2, AIFF, Sun AU, CAF, EBML RFC 8794,
ISO/IEC 14496-12 ``ftyp``, ASF, AMR RFC 4867 section 5, ISO/IEC 11172-3 and 13818-3 frame headers, ISO/IEC
13818-7 ADTS) and FFmpeg's probes for the rest.
"""
from __future__ import annotations

import string

# (offset, magic, second check (offset, magic) or None, name)
_SIGNATURES: tuple[tuple[int, bytes, tuple[int, bytes] | None, str], ...] = (
    (0, b"RIFF", (8, b"WAVE"), "WAV"),
    (0, b"RIFX", (8, b"WAVE"), "WAV"),
    (0, b"RF64", (8, b"WAVE"), "WAV"),
    (0, b"BW64", (8, b"WAVE"), "WAV"),
    (0, b"riff\x2e\x91\xcf\x11", None, "WAV"),  # Sony Wave64
    (0, b"RIFF", (8, b"AVI "), "AVI"),
    (0, b"fLaC", None, "FLAC"),
    (0, b"OggS\x00", None, "OGG"),
    (0, b"ID3", None, "ID3-tagged audio (MP3 or AAC)"),
    (0, b"FORM", (8, b"AIFF"), "AIFF"),
    (0, b"FORM", (8, b"AIFC"), "AIFF"),
    (0, b".snd", None, "AU"),
    (0, b"caff", None, "CAF"),
    (0, b"\x1a\x45\xdf\xa3", None, "Matroska/WebM"),
    (4, b"ftyp", None, "MP4/M4A"),
    (4, b"moov", None, "QuickTime"),
    (4, b"mdat", None, "QuickTime"),
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", None, "ASF (WMA)"),
    (0, b"#!AMR", None, "AMR"),
    (0, b"MAC ", None, "Monkey's Audio"),
    (0, b"wvpk", None, "WavPack"),
    (0, b"MPCK", None, "Musepack"),
    (0, b"TTA1", None, "TTA"),
    (0, b"tBaK", None, "TAK"),
    (0, b"ajkg", None, "Shorten"),
    (0, b"FLV\x01", None, "FLV"),
    (0, b"\x00\x00\x01\xba", None, "MPEG program stream"),
    (0, b"NIST_1A", None, "NIST SPHERE"),
    (0, b"Creative Voice File", None, "VOC"),
    (0, b".RMF", None, "RealMedia"),
    (0, b"DSD ", None, "DSF"),
)

# Containers libsndfile reads, and reads faster than FFmpeg does (measured on the fixtures: 1.2-5x).
SNDFILE_CONTAINERS = frozenset({"WAV", "FLAC", "OGG", "AIFF", "AU", "CAF", "ID3-tagged audio (MP3 or AAC)",
                                "MPEG audio frames"})


def container(data: bytes) -> str | None:
    """The container a strong signature names ("WAV", "MP4/M4A", ..., or chained MPEG audio or ADTS frames), or
    None for data without one."""
    for offset, magic, second, name in _SIGNATURES:
        if data[offset:offset + len(magic)] == magic and (
                second is None or data[second[0]:second[0] + len(second[1])] == second[1]):
            return name
    return _chained_frames(data)


def wav_data_chunk(data: bytes) -> tuple[int, int] | None:
    """Where a RIFF/WAVE's samples start in these bytes and the size its ``data`` chunk gives them, or None when
    the bytes are no little-endian RIFF/WAVE or hold no ``data`` chunk header."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    at = 12
    while at + 8 <= len(data):
        size = int.from_bytes(data[at + 4:at + 8], "little")
        if data[at:at + 4] == b"data":
            return at + 8, size
        at += 8 + size + (size & 1)  # chunks are padded to an even length
    return None


# kbit/s by bitrate index: MPEG-1 layers I, II, III, then MPEG-2/2.5 layer I, and layers II and III
_BITRATES = ((0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
             (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
             (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
             (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
             (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160))
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}  # by version bits
CHAINED_FRAMES = 3


def _mpeg_frame(data: bytes, at: int) -> tuple[int, tuple[int, int, int]] | None:
    """(length in bytes, (version, layer, rate index)) of an MPEG audio frame header at ``at``, or None."""
    h = data[at:at + 4]
    if len(h) < 4 or h[0] != 0xFF or h[1] & 0xE0 != 0xE0:
        return None
    version, layer, bitrate, rate = (h[1] >> 3) & 3, (h[1] >> 1) & 3, h[2] >> 4, (h[2] >> 2) & 3
    if version == 1 or layer == 0 or bitrate in (0, 15) or rate == 3:
        return None
    table = (3 - layer) if version == 3 else (3 if layer == 3 else 4)
    kbps, hz, padding = _BITRATES[table][bitrate], _MPEG_RATES[version][rate], (h[2] >> 1) & 1
    if layer == 3:   # layer I: 4-byte slots
        length = (12 * kbps * 1000 // hz + padding) * 4
    else:            # MPEG-2/2.5 layer III frames hold half the samples of MPEG-1's
        length = (72 if layer == 1 and version != 3 else 144) * kbps * 1000 // hz + padding
    return length, (version, layer, rate)


def _adts_frame(data: bytes, at: int) -> tuple[int, tuple[int, int, int]] | None:
    """(length in bytes, (profile, rate index, channels)) of an ADTS frame header at ``at``, or None."""
    h = data[at:at + 7]
    if len(h) < 7 or h[0] != 0xFF or h[1] & 0xF6 != 0xF0:
        return None
    rate, length = (h[2] >> 2) & 0x0F, ((h[3] & 3) << 11) | (h[4] << 3) | (h[5] >> 5)
    if rate > 12 or length < 7:
        return None
    return length, (h[2] >> 6, rate, ((h[2] & 1) << 2) | (h[3] >> 6))


def _chained_frames(data: bytes) -> str | None:
    """"MPEG audio frames" or "ADTS (AAC) frames" when CHAINED_FRAMES frames of one kind follow each other from
    the first byte, each where the previous header's length puts it; else None."""
    for name, frame in (("MPEG audio frames", _mpeg_frame), ("ADTS (AAC) frames", _adts_frame)):
        at, kind = 0, None
        for _ in range(CHAINED_FRAMES):
            found = frame(data, at)
            if found is None or (kind is not None and found[1] != kind):
                break
            at, kind = at + found[0], found[1]
        else:
            return name
    return None


def frame_sync(data: bytes) -> str | None:
    """A weak guess from a leading MPEG audio or ADTS (AAC) frame header; never overrules a headerless label."""
    if len(data) < 4 or data[0] != 0xFF or data[1] & 0xE0 != 0xE0:
        return None
    if data[1] & 0xF6 == 0xF0:  # 12 sync bits, layer 00: ADTS
        return "ADTS (AAC) frames"
    layer, bitrate = (data[1] >> 1) & 3, data[2] >> 4
    return "MPEG audio frames" if layer and bitrate not in (0, 15) else None


_PRINTABLE = set(string.printable.encode()) - set(b"\x0b\x0c")
TEXT_PROBE_BYTES = 1024


def is_text(data: bytes) -> bool:
    """Whether the bytes start as text, not samples: their first TEXT_PROBE_BYTES are UTF-8 of printable
    characters, with spaces or line breaks, and at least a third letters (an HTML error page, a JSON answer, a
    README). Audio bytes fail it: 16-bit samples put zero or control bytes in every few bytes, and the one
    8-bit run that is printable (A-law near silence: 'U', 'T', 'W') has no spaces."""
    head = data[:TEXT_PROBE_BYTES]
    for cut in range(4):   # the cut may split a multi-byte character
        try:
            text = head[:len(head) - cut].decode("utf-8")
            break
        except UnicodeDecodeError:
            continue
    else:
        return False
    return (len(text) >= 16 and all(c.isprintable() or c in "\t\r\n" for c in text)
            and any(c in " \n" for c in text) and 3 * sum(c.isalpha() for c in text) >= len(text))


def describe(data: bytes) -> str:
    """What the bytes look like, for a 400's message: size, a recognised signature or text, and the first bytes.

    E.g. ``"2048 bytes starting 52 49 46 46 10 00 00 00 (a WAV header)"`` or ``"120 bytes of text ('<!DOCTYPE
    html>...')"`` (a url that answered with an error page). Deterministic for the same bytes.
    """
    size = f"{len(data)} byte{'s' if len(data) != 1 else ''}"
    head = data[:64]
    if head and all(b in _PRINTABLE for b in head) and sum(b in b"\t\r\n" for b in head) < len(head):
        text = head.decode("ascii").strip()
        return f"{size} of text ({text[:40]!r}{'...' if len(text) > 40 else ''})"
    first = " ".join(f"{b:02x}" for b in data[:8])
    named = container(data) or frame_sync(data)
    return f"{size} starting {first}" + (f" (a {named} header)" if named else "")
