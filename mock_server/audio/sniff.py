"""What audio bytes say about themselves: a container's magic number, and a short description for error messages.

Only *strong* signatures count (several fixed bytes at a fixed place), because these are what overrule a
headerless label: 16-bit PCM often starts ``FF FF`` (a quiet negative sample), which is also an MPEG frame sync,
so frame syncs are reported (``describe``) but never make headerless data a container. Sources: the formats'
specifications (RIFF/WAVE, RF64 EBU 3306, FLAC, Ogg RFC 3533, ID3v2, AIFF, Sun AU, CAF, EBML RFC 8794,
ISO/IEC 14496-12 ``ftyp``, ASF, AMR RFC 4867 section 5) and FFmpeg's probes for the rest.
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
    """The container a strong signature names ("WAV", "MP4/M4A", ...), or None for data without one."""
    for offset, magic, second, name in _SIGNATURES:
        if data[offset:offset + len(magic)] == magic and (
                second is None or data[second[0]:second[0] + len(second[1])] == second[1]):
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
