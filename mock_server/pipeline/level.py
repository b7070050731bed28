"""Level normalisation: the loudness of a recording is not the voice.

webrtcvad's decisions (and, marginally, the MFCC floor `amin`) depend on the absolute level of the
samples, so everything downstream first sees the recording at one fixed speech level: the DC offset
is removed and the samples are scaled so that the loud frames (the level_percentile-th percentile of
30 ms frame RMS, i.e. the speech, not the pauses) sit at level_target_db dBFS. A recording 30 dB quieter
or near full scale therefore gives the same samples up to rounding.
"""

from __future__ import annotations

import numpy as np

from .config import DEFAULT_CONFIG, PipelineConfig

_FRAME_S = 0.03
_TINY = 1e-9          # RMS of digital silence: below 16-bit quantisation (3e-5), nothing to normalise


def frame_levels_db(samples: np.ndarray, frame_len: int) -> np.ndarray:
    """RMS level of consecutive frames in dB re full scale, shape (len // frame_len,) float64."""
    n = len(samples) // frame_len
    x = np.asarray(samples[:n * frame_len], dtype=np.float32).reshape(n, frame_len)
    rms = np.sqrt(np.einsum("ij,ij->i", x, x, dtype=np.float64) / max(frame_len, 1))
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
