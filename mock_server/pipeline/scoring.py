"""Frame scores: how well each enrolled voice explains each speech frame, smoothed over time.

All models are scored with one matrix product per GMM (see voiceprint.component_loglik).
Scores are log-likelihoods in nats per frame; only differences between models are used
later, so the recording's loudness, channel and length cancel out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .voiceprint import gmm_loglik


def frame_logliks(frames: np.ndarray, models: Sequence[np.ndarray]) -> np.ndarray:
    """Log-likelihood of every frame (n, dim) under every packed GMM, shape (n, len(models))."""
    if len(frames) == 0:
        return np.zeros((0, len(models)))
    return np.stack([gmm_loglik(frames, m) for m in models], axis=1)


def moving_average(x: np.ndarray, width: int) -> np.ndarray:
    """Centered moving average along axis 0 over `width` rows (shorter at the edges), same shape."""
    n = len(x)
    if width <= 1 or n == 0:
        return x
    c = np.cumsum(np.pad(x, ((1, 0), (0, 0))), axis=0)
    idx = np.arange(n)
    lo = np.clip(idx - width // 2, 0, n)
    hi = np.clip(idx + (width - width // 2), 0, n)
    return (c[hi] - c[lo]) / (hi - lo)[:, None]
