"""Audio bytes to mono float32 samples at the pipeline's rate, whatever the container, label and sampleRate.

Which reader, in order:
1. a strong container signature (sniff.py) always wins: a WAV labelled ``LINEAR16`` at 16000, or ``MULAW`` at 8000
   (the vendor's Node SDK labels every ``.wav`` so), is read as the WAV it is, at its header's rate;
2. otherwise a headerless label (LINEAR16, MULAW, ALAW, raw PCM: labels.py) decides, with ``sampleRate``;
3. otherwise the bytes are probed: libsndfile first for the containers it reads faster (sndfile.py), FFmpeg for
   everything else and for what libsndfile fails on (ffmpeg.py).
Every failure is a 400 naming what was seen (sniff.describe); too long is a 413 (limits.py).
"""
from __future__ import annotations

import numpy as np
import soxr

from mock_server.core import errors

from . import limits as limits_module
from . import sniff
from .ffmpeg import NotOpened, decode_ffmpeg
from .labels import HEADERLESS_HINT, SUPPORTED_ENCODINGS, is_known, raw_format
from .limits import DecodeLimits
from .pcm import decode_headerless
from .sndfile import SndfileFailed, decode_sndfile


def decode_audio(data: bytes, *, encoding: str | None, sample_rate: int | None, target_rate: int,
                 max_seconds: float, max_samples: int | None = None) -> np.ndarray:
    """Decode audio bytes to mono float32 in [-1, 1] at ``target_rate`` Hz.

    ``encoding``: a label from labels.normalise_encoding (None: detect). ``sample_rate``: Hz, used for headerless
    data only. ``max_seconds``: --max-audio-seconds. ``max_samples``: decoded samples (frames x channels) allowed,
    default limits.MAX_DECODED_SAMPLES.
    Returns samples: np.ndarray [shape=(n,), dtype=float32], C-contiguous. NaN/inf samples become 0; multichannel
    audio is averaged to mono.
    Raises errors.UndecodableAudio / UnsupportedEncoding / MissingParameter / InvalidParameter / EmptyAudio (400),
    errors.AudioTooLong (413).
    """
    limits = DecodeLimits(max_seconds, limits_module.MAX_DECODED_SAMPLES if max_samples is None else max_samples)
    header = sniff.container(data)
    raw = raw_format(encoding)
    if header is None and raw is not None:
        samples, rate, from_pcm16 = decode_headerless(data, raw, sample_rate, limits)
    else:
        samples, rate, from_pcm16 = _decode_container(data, encoding, header, limits, target_rate)
    if samples.size == 0:
        raise errors.EmptyAudio(f"the audio holds no samples ({sniff.describe(data)}); send a recording with sound "
                                "in it.")
    # 16-bit PCM scaled by 1/32768 is finite and inside [-1, 1) already: both passes below are for float sources
    # and resampling overshoot.
    if not from_pcm16 and not np.isfinite(samples).all():  # the check is a fraction of nan_to_num's cost
        samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
    if rate != target_rate:
        samples = soxr.resample(samples, rate, target_rate, quality="HQ").astype(np.float32, copy=False)
    if rate != target_rate or not from_pcm16:
        np.clip(samples, -1.0, 1.0, out=samples)  # float WAVs may exceed full scale; resampling may overshoot
    return np.ascontiguousarray(samples, dtype=np.float32)


def _decode_container(data: bytes, encoding: str | None, header: str | None, limits: DecodeLimits,
                      target_rate: int) -> tuple[np.ndarray, int, bool]:
    """(samples, their rate, whether 16-bit PCM) from bytes that should carry their own format."""
    guess = header or sniff.frame_sync(data)
    seen = sniff.describe(data)
    if guess in sniff.SNDFILE_CONTAINERS:
        try:
            return decode_sndfile(data, limits)
        except SndfileFailed:
            pass  # FFmpeg reads more (and says why when it cannot either)
    try:
        return decode_ffmpeg(data, limits, target_rate, seen=seen), target_rate, False
    except errors.UndecodableAudio as exc:
        if header is not None or not isinstance(exc, NotOpened):
            raise  # a container's own failure: a hint about headerless labels would mislead
        if encoding is not None and not is_known(encoding):
            raise errors.UnsupportedEncoding(
                f"{exc.message} The encoding {encoding!r} names no format this server knows: for headerless "
                f"samples send encoding {HEADERLESS_HINT} with their sampleRate; for a file, any of "
                f"{', '.join(SUPPORTED_ENCODINGS[:11])} (or no encoding at all).") from None
        hint = (f" They were labelled {encoding}." if encoding is not None else
                f" If they are headerless samples, send encoding {HEADERLESS_HINT} with their sampleRate.")
        raise errors.UndecodableAudio(exc.message + hint) from None
