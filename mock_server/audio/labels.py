"""The ``encoding`` field: what clients call their audio, matched loosely, and the one case where it decides.

The vendor "takes all audio types ffmpeg supports" (its 2020 concepts page), so a label only matters for
headerless data, whose bytes cannot say what they are: LINEAR16, MULAW, ALAW and the raw PCM sample formats
FFmpeg names (S16LE, U8, F32BE, ...). For anything else the bytes are probed and the label is a hint for error
messages only. Clients name formats as their tools do (docs/vendor-docs-2020.md, "What real clients send"): the
Node SDK labels every ``.wav`` ``MULAW``; the Python SDK passes pymediainfo's names (``Wave``, ``MPEG Audio``,
``MPEG-4``); so names are compared without case, spaces, dashes, dots and underscores.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from mock_server import errors


@dataclass(frozen=True)
class RawFormat:
    """A headerless sample format: numpy dtype of one sample and how to map it to [-1, 1)."""

    name: str          # canonical label, e.g. "LINEAR16", "MULAW", "S24BE"
    dtype: str         # numpy dtype string of one stored sample ("u1" for the G.711 laws, "V3" for 24-bit)
    offset: float      # subtracted before scaling (unsigned formats are centred on it)
    scale: float       # divides the (offset) integer value; 1.0 for floats

    @property
    def width(self) -> int:
        """Bytes per sample."""
        return int(self.dtype[-1]) if self.dtype[-1].isdigit() else 1


def _pcm(name: str, kind: str, bits: int, endian: str) -> RawFormat:
    width = bits // 8
    if kind == "f":
        return RawFormat(name, f"{endian}f{width}", 0.0, 1.0)
    if bits == 24:
        return RawFormat(name, f"{endian}V3", 2.0**23 if kind == "u" else 0.0, 2.0**23)
    offset = 2.0 ** (bits - 1) if kind == "u" else 0.0
    return RawFormat(name, f"{endian}{'u' if kind == 'u' else 'i'}{width}", offset, 2.0 ** (bits - 1))


# FFmpeg's raw sample format names (its s16le, u8, f32be... demuxers), which the vendor's docs list as "PCM
# (signed/unsigned, 8/16/32/64 bit, big/little endian)".
RAW_FORMATS: dict[str, RawFormat] = {
    "LINEAR16": _pcm("LINEAR16", "s", 16, "<"),
    "MULAW": RawFormat("MULAW", "u1", 0.0, 1.0),   # G.711, expanded by a table (see pcm.py)
    "ALAW": RawFormat("ALAW", "u1", 0.0, 1.0),
}
for _kind, _bits in (("s", 8), ("u", 8), ("s", 16), ("u", 16), ("s", 24), ("u", 24), ("s", 32), ("u", 32),
                     ("f", 32), ("f", 64)):
    for _suffix, _endian in (("LE", "<"), ("BE", ">")) if _bits > 8 else (("", "<"),):
        _name = f"{_kind.upper()}{_bits}{_suffix}"
        RAW_FORMATS[_name] = _pcm(_name, _kind, _bits, _endian)

# Loose spellings (after _key) of the headerless formats.
_RAW_ALIASES = {
    "LINEAR16": "LINEAR16", "PCM": "LINEAR16", "RAW": "LINEAR16", "LPCM": "LINEAR16", "PCM16": "LINEAR16",
    "PCMS16LE": "LINEAR16", "S16LE": "LINEAR16", "SIGNED16BITPCM": "LINEAR16",
    "MULAW": "MULAW", "ULAW": "MULAW", "PCMMULAW": "MULAW", "PCMU": "MULAW", "G711U": "MULAW", "G711ULAW": "MULAW",
    "G711MULAW": "MULAW", "MULAW8": "MULAW",
    "ALAW": "ALAW", "PCMALAW": "ALAW", "PCMA": "ALAW", "G711A": "ALAW", "G711ALAW": "ALAW",
}

# Loose spellings of containers and codecs, to the name error messages use. The label never changes how such
# bytes are read (the header decides); an unknown label is fine when the bytes carry a header.
_CONTAINER_ALIASES = {
    "WAV": "WAV", "WAVE": "WAV", "RIFF": "WAV", "WAVEFORM": "WAV", "RF64": "WAV", "W64": "WAV",
    "MP3": "MP3", "MPEG": "MP3", "MPEGAUDIO": "MP3", "MPA": "MP3", "MPGA": "MP3", "MPEG3": "MP3", "MPEGLAYER3": "MP3",
    "MP4": "MP4", "MPEG4": "MP4", "M4A": "MP4", "AAC": "AAC", "ADTS": "AAC", "MOV": "MP4", "QUICKTIME": "MP4",
    "3GP": "MP4", "3GPP": "MP4", "ALAC": "MP4", "M4B": "MP4",
    "FLAC": "FLAC", "OGG": "OGG", "OGA": "OGG", "OGGVORBIS": "OGG", "OGGOPUS": "OGG", "VORBIS": "OGG", "OPUS": "OPUS",
    "WEBM": "WEBM", "MATROSKA": "WEBM", "MKV": "WEBM", "MKA": "WEBM",
    "AMR": "AMR", "AMRNB": "AMR", "AMRWB": "AMR", "WMA": "WMA", "WMV": "WMA", "ASF": "WMA", "WINDOWSMEDIA": "WMA",
    "AIFF": "AIFF", "AIF": "AIFF", "AIFC": "AIFF", "AU": "AU", "SND": "AU", "CAF": "CAF", "AC3": "AC3", "EAC3": "AC3",
    "WAVPACK": "WAVPACK", "WV": "WAVPACK", "APE": "APE", "MONKEYSAUDIO": "APE", "AVI": "AVI", "FLV": "FLV",
    "MPEGTS": "MPEG-TS", "TS": "MPEG-TS", "SPEEX": "OGG", "GSM": "GSM", "WEBMOPUS": "WEBM",
}

# What clients are told the mock reads (openapi examples, error messages); every name FFmpeg reads is accepted.
SUPPORTED_ENCODINGS = ("WAV", "FLAC", "MP3", "OGG", "OPUS", "MP4", "M4A", "AAC", "WEBM", "AMR", "WMA",
                       "LINEAR16", "MULAW", "ALAW")
HEADERLESS_HINT = "LINEAR16, MULAW or ALAW (or a raw PCM format such as S16LE, U8, S32BE, F32LE)"


def _key(name: str) -> str:
    """``'MPEG Audio'``, ``'mpeg-audio'`` and ``'MPEG_AUDIO'`` all become ``'MPEGAUDIO'``."""
    return re.sub(r"[\s\-_./]+", "", name).upper()


def normalise_encoding(encoding: str | None) -> str | None:
    """The canonical name of an ``encoding`` field; None (or blank) means "detect from the bytes".

    Returns a key of RAW_FORMATS for headerless formats, a container name ("WAV", "MP4", ...) for known
    containers, or the label itself (stripped) when unknown: unknown labels are judged once the bytes are seen
    (decode.py). Raises errors.UnsupportedEncoding only for a label that is no name at all (control characters,
    absurd length).
    """
    if encoding is None or not encoding.strip():
        return None
    text = encoding.strip()
    if len(text) > 64 or any(unicodedata.category(c) == "Cc" for c in text):
        raise errors.UnsupportedEncoding(
            f"encoding {text[:64]!r} is not a format name; use one of {', '.join(SUPPORTED_ENCODINGS)} or leave "
            "it out to have the format detected from the bytes.")
    key = _key(text)
    if key in _RAW_ALIASES:
        return _RAW_ALIASES[key]
    if key.startswith("PCM") and key[3:] in RAW_FORMATS:  # FFmpeg codec names: pcm_s16be, pcm_f32le, ...
        return key[3:]
    if key in RAW_FORMATS:
        return key
    return _CONTAINER_ALIASES.get(key, text)


def raw_format(label: str | None) -> RawFormat | None:
    """The headerless format a normalised label names, or None for containers, unknown labels and no label."""
    return RAW_FORMATS.get(label) if label else None


def is_known(label: str) -> bool:
    """Whether a normalised label is a format this module knows by name (headerless or container)."""
    return label in RAW_FORMATS or label in _CONTAINER_ALIASES.values()
