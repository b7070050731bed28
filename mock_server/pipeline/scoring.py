"""Frame scores: how well each enrolled voice explains each speech frame, smoothed over time.

All models are scored with one matrix product per GMM (see voiceprint.component_loglik).
Scores are log-likelihoods in nats per frame; only differences between models are used
later, so the recording's loudness, channel and length cancel out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .voiceprint import _LOG2PI, unpack_gmm


def stacked_gmms(models: Sequence[np.ndarray]) -> tuple[np.ndarray, int]:
    """All packed GMMs as one (2 dim + 1, n_models * K) float32 matrix W, so that
    [x^2, x, 1] @ W are the weighted component log-densities of every model (K = the largest
    component count; missing components get a -inf constant). Returns (W, K)."""
    k = max(len(m) for m in models)
    d = (models[0].shape[1] - 1) // 2
    w = np.zeros((2 * d + 1, len(models) * k), dtype=np.float64)
    w[-1] = -np.inf
    for i, m in enumerate(models):
        log_w, means, var = unpack_gmm(m)
        prec = 1.0 / var
        cols = slice(i * k, i * k + len(m))
        w[:d, cols] = (-0.5 * prec).T
        w[d:2 * d, cols] = (means * prec).T
        w[-1, cols] = log_w - 0.5 * (np.sum(np.log(var), axis=1) + np.sum(means ** 2 * prec, axis=1) + d * _LOG2PI)
    return w.astype(np.float32), k


def frame_logliks(frames: np.ndarray, models: Sequence[np.ndarray], *, block: int = 4096) -> np.ndarray:
    """Log-likelihood of every frame (n, dim) under every packed GMM, shape (n, len(models)) float32.

    One float32 matrix product per block of frames for all models at once; memory is
    O(block * components), whatever the number of frames.
    """
    n = len(frames)
    out = np.zeros((n, len(models)), dtype=np.float32)
    if n == 0 or not models:
        return out
    w, k = stacked_gmms(models)
    d, m = frames.shape[1], len(models)
    # component-major rows: the max/exp/sum over components run over whole (n_models, block) planes
    wt = np.ascontiguousarray(w.reshape(2 * d + 1, m, k).transpose(2, 1, 0).reshape(k * m, 2 * d + 1))
    aug = np.empty((2 * d + 1, min(block, n)), dtype=np.float32)
    for s in range(0, n, block):
        e = min(s + block, n)
        a = aug[:, :e - s]
        np.square(frames[s:e].T, out=a[:d])
        a[d:2 * d] = frames[s:e].T
        a[-1] = 1.0
        comp = (wt @ a).reshape(k, m, e - s)                   # (K, n_models, b)
        top = comp.max(axis=0)
        comp -= top
        np.exp(comp, out=comp)
        out[s:e] = (top + np.log(comp.sum(axis=0))).T
    return out


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
