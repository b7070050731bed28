"""Headerless samples: raw PCM in every width FFmpeg names, G.711 mu-law and A-law, and the store's 16-bit PCM.

Decoded with numpy rather than FFmpeg's raw demuxers: a reshape and one scale is all raw PCM needs, and the
G.711 expansion is a 256-entry table built from ITU-T G.711 (the same values as FFmpeg's pcm_mulaw/pcm_alaw
decoders, which tests/test_audio_formats.py checks).
"""
from __future__ import annotations

import numpy as np

from mock_server import errors

from .labels import RawFormat
from .limits import DecodeLimits

MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 4000, 384000  # webrtcvad and sane audio live here; outside is a caller mistake


def _mulaw_table() -> np.ndarray:
    """G.711 mu-law byte -> linear 16-bit value (range +-32124), as float32 in [-1, 1)."""
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    magnitude = ((((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 0x07)) - 0x84
    return (np.where(u & 0x80, -magnitude, magnitude) / 32768.0).astype(np.float32)


def _alaw_table() -> np.ndarray:
    """G.711 A-law byte -> linear 16-bit value (range +-32256), as float32 in [-1, 1)."""
    a = np.arange(256, dtype=np.int32) ^ 0x55
    mantissa, exponent = (a & 0x0F) << 4, (a >> 4) & 0x07
    magnitude = np.where(exponent == 0, mantissa + 8, (mantissa + 0x108) << np.maximum(exponent - 1, 0))
    return (np.where(a & 0x80, magnitude, -magnitude) / 32768.0).astype(np.float32)


_G711 = {"MULAW": _mulaw_table(), "ALAW": _alaw_table()}


def bounded(samples: np.ndarray) -> np.ndarray:
    """Float32 samples made finite (NaN/inf become 0) and clipped to [-1, 1], in place where they are writable.
    Float sources may hold anything; done before resampling, since a 3e38 overflows the filter into inf and NaN
    around it."""
    if not np.isfinite(samples).all():  # the check is a fraction of nan_to_num's cost
        samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(samples, -1.0, 1.0, out=samples if samples.flags.writeable else None)


def rate_in_range(sample_rate: int) -> bool:
    return MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE


def shown_rate(sample_rate: int | float) -> str:
    """A rate as the client wrote it, shortened when absurdly long (1e300 sent as a 301-digit integer)."""
    text = repr(sample_rate)
    return text if len(text) <= 15 else f"{text[:6]}... ({len(text)} characters)"


def check_rate(sample_rate: int, *, shown: str | None = None) -> None:
    """Raise errors.InvalidParameter for a sampleRate outside MIN_SAMPLE_RATE..MAX_SAMPLE_RATE: headerless audio
    is read at the rate given (``shown``: the rate as the client wrote it, for the message)."""
    if not rate_in_range(sample_rate):
        raise errors.InvalidParameter(
            f"sampleRate {shown or shown_rate(sample_rate)} is out of range; headerless audio is read at the rate "
            f"given: send the rate it was recorded at, between {MIN_SAMPLE_RATE} and {MAX_SAMPLE_RATE} Hz.")


def decode_headerless(data: bytes, fmt: RawFormat, sample_rate: int | None,
                      limits: DecodeLimits) -> tuple[np.ndarray, int, bool]:
    """Mono headerless bytes to (float32 samples in [-1, 1], rate, whether they were 16-bit PCM).

    ``sample_rate`` is required: headerless bytes carry none (errors.MissingParameter, 400). A trailing partial
    sample is dropped (a clip cut mid-sample is still audio). Too long: errors.AudioTooLong (413).
    """
    if sample_rate is None:
        raise errors.MissingParameter(
            f"sampleRate is required with encoding {fmt.name} (headerless audio carries no rate); send the rate "
            "the audio was recorded at, e.g. 8000 for telephone mu-law or 16000.")
    check_rate(sample_rate)
    frames = len(data) // fmt.width
    limits.check(frames, sample_rate, 1)
    data = data[:frames * fmt.width]
    if fmt.name in _G711:
        return _G711[fmt.name][np.frombuffer(data, dtype=np.uint8)], sample_rate, False
    if fmt.dtype.endswith("V3"):  # 24-bit: widen each sample to 32 bits, then scale as 24-bit
        b = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        hi, mid, lo = (b[:, 0], b[:, 1], b[:, 2]) if fmt.dtype[0] == ">" else (b[:, 2], b[:, 1], b[:, 0])
        values = (hi << 16) | (mid << 8) | lo
        if fmt.offset == 0.0:
            values = np.where(values & 0x800000, values - (1 << 24), values)
        samples = ((values - fmt.offset) / fmt.scale).astype(np.float32)
        return samples, sample_rate, False
    values = np.frombuffer(data, dtype=fmt.dtype)
    if fmt.dtype.lstrip("<>") == "i2" and fmt.dtype[0] != ">":
        return values.astype(np.float32) / np.float32(32768.0), sample_rate, True
    samples = values.astype(np.float64)
    if fmt.offset:
        samples -= fmt.offset
    if fmt.scale != 1.0:
        samples /= fmt.scale
    return samples.astype(np.float32), sample_rate, False


def encode_pcm16(samples: np.ndarray) -> bytes:
    """Float samples [shape=(n,)] to 16-bit little-endian PCM bytes: how enrollment audio is kept so voiceprints
    can be recomputed."""
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def decode_pcm16(data: bytes) -> np.ndarray:
    """The inverse of encode_pcm16: float32 samples [shape=(len(data) // 2,)]."""
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
