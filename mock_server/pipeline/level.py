"""Level normalisation: the loudness of a recording is not the voice.

webrtcvad's decisions (and, marginally, the MFCC floor `amin`) depend on the absolute level of the
samples, so everything downstream first sees the recording at one fixed speech level: the DC offset
is removed and the samples are scaled so that the loud frames (the level_percentile-th percentile of
30 ms frame RMS, i.e. the speech, not the pauses) sit at level_target_db dBFS. A recording 30 dB quieter
or near full scale therefore gives the same samples up to rounding.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .config import DEFAULT_CONFIG, PipelineConfig

_FRAME_S = 0.03
_TINY = 1e-9          # RMS of digital silence: below 16-bit quantisation (3e-5), nothing to normalise


MAINS_HZ = (50.0, 60.0)   # mains hum, the two standard frequencies
_CHUNK_FRAMES = 2048      # frames fitted at a time: the float64 copy stays a few MB for any length


@lru_cache(maxsize=8)
def _hum_basis(frame_len: int, sample_rate: int) -> np.ndarray:
    """An orthonormal basis (frame_len, 6) float64 of what a frame of hum looks like: a constant, a linear trend
    and sinusoids at MAINS_HZ."""
    t = np.arange(frame_len) / sample_rate
    columns = [np.ones(frame_len), t - t.mean()]
    columns += [f(2 * np.pi * hz * t) for hz in MAINS_HZ for f in (np.cos, np.sin)]
    return np.linalg.qr(np.stack(columns, axis=1))[0]


def frame_levels_db(samples: np.ndarray, frame_len: int, sample_rate: int = 0) -> np.ndarray:
    """RMS level of consecutive frames in dB re full scale, shape (len // frame_len,) float64.

    Given the samples' sample_rate, without hum: each frame's least-squares fit by a constant, a linear trend and
    50 and 60 Hz sinusoids is taken out first. That removes mains hum at either frequency (+-0.5 Hz) by > 45 dB,
    DC and slow drift entirely, 80 Hz by 8 dB, 100 Hz by 1.5 dB and 150 Hz and up by < 0.5 dB, the same in every
    frame (no filter reaching across frames, so no transient at the ends); figures for 30 ms frames (shorter ones
    take more off the voice: 16 dB off 150 Hz with 10 ms). Frames shorter than the fit's 6 terms: everything counts.
    """
    n = len(samples) // frame_len
    x = np.asarray(samples[:n * frame_len], dtype=np.float32).reshape(n, frame_len)
    energy = np.einsum("ij,ij->i", x, x, dtype=np.float64)
    if n and sample_rate and frame_len > 6:
        basis = _hum_basis(frame_len, sample_rate)
        # in float64: for a frame that is all hum the fit's energy equals the frame's, and float32's rounding left
        # -94 dB or 0 of a pure DC frame depending on which kernel OpenBLAS picked for the CPU (AVX-512 or not)
        for lo in range(0, n, _CHUNK_FRAMES):
            fit = x[lo:lo + _CHUNK_FRAMES].astype(np.float64) @ basis
            energy[lo:lo + _CHUNK_FRAMES] -= np.einsum("ij,ij->i", fit, fit)
        energy = np.maximum(energy, 0.0)
    rms = np.sqrt(energy / max(frame_len, 1))
    return 20.0 * np.log10(np.maximum(rms, _TINY))


def normalise_level(samples: np.ndarray, config: PipelineConfig = DEFAULT_CONFIG, *,
                    overwrite: bool = False) -> np.ndarray:
    """samples (n,) float32 without DC and scaled so its speech level is config.level_target_db dBFS.

    A recording with no frame above digital silence is returned unscaled (minus DC). Returns a new
    float32 array and leaves the input alone, unless overwrite=True allows working in the input itself when it
    is a writeable float32 array (a caller that owns it: 38 MB less for 10 minutes of audio).
    """
    x = np.asarray(samples, dtype=np.float32) if overwrite else None
    if x is None or not x.flags.writeable:
        x = np.array(samples, dtype=np.float32)          # the one copy; everything below works in place
    if len(x) == 0:
        return x
    x -= np.float32(x.mean(dtype=np.float64))
    frame_len = max(1, int(config.sample_rate * _FRAME_S))
    level = frame_levels_db(x, frame_len) if len(x) >= frame_len else frame_levels_db(x, len(x))
    top = int(round(config.level_top_seconds / _FRAME_S))
    ordered = np.sort(level)
    loud = float(ordered[len(ordered) - top] if len(ordered) >= 2 * top else np.median(ordered))
    if loud <= 20.0 * np.log10(_TINY) + 1.0:
        return x
    x *= np.float32(10.0 ** ((config.level_target_db - loud) / 20.0))
    return x
