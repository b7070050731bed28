"""The model of voices in general: a universal background model (UBM), MAP adaptation, scoring, S-norm.

Standard GMM-UBM speaker recognition (Reynolds, Quatieri & Dunn 2000, "Speaker verification using adapted
Gaussian mixture models", DSP 10) with the usual fast approximations:
  * top-C scoring: each frame is explained only by its TOP_C most likely UBM Gaussians (same paper, sec. 4.2),
    so a frame costs one UBM evaluation whatever the number of voices;
  * Baum-Welch statistics in the UBM's whitened space: for a group of frames, N_c = sum_t g_tc and
    F_c = sum_t g_tc (x_t - mu_c) / sigma_c (g: the top-C posteriors); they add up over frames, so a
    speaker's enrollments, a turn's blocks, etc. combine exactly by summing;
  * MAP adaptation of the means with relevance factor r (config.relevance; Reynolds 2000, eq. 14): a speaker is the
    offset e_c = F_c / (N_c + r) of its adapted means from the UBM's, in units of the UBM's std. deviation;
  * linear scoring (Glembek et al. 2009, "Comparison of scoring methods used in speaker recognition with joint
    factor analysis", ICASSP): the log-likelihood ratio of frames under the adapted model against the UBM,
    with the UBM's posteriors held fixed, is sum_c (e_c . F_c - 0.5 N_c |e_c|^2), reported per frame (nats);
  * S-norm (Kenny 2010, "Bayesian speaker verification with heavy-tailed priors", Odyssey): a score minus
    its mean, over its standard deviation, against a fixed set of background voices from both sides
    (Z: the speaker against background test segments; T: the test segment against background speakers),
    averaged. The background voices are fixed in the model file, so the scale of a score means the same
    for every speaker and channel, and no voice of the account takes part.
The model file is made by scripts/train_voice_model.py from ../shared/speech-background (121 voices).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

COMPONENTS = 128       # Gaussians in the UBM (the prototype: 64-128 work, 128 slightly better)
TOP_C = 5              # Gaussians per frame kept for scoring, Reynolds et al. 2000 (their value)
MODEL_FILE = Path(__file__).resolve().parent / "models" / "voices.npz"
_LOG2PI = float(np.log(2.0 * np.pi))


class VoiceModel:
    """A UBM (weights (C,), means (C, D), variances (C, D)) plus fixed background voices for S-norm:
    tnorm_counts (B, C) and tnorm_stats (B, C, D), statistics of background speakers (MAP-adapted on use, with
    the relevance asked for); znorm_counts (Z, C) and znorm_stats (Z, C, D), statistics of background test
    segments (all absent while training)."""

    def __init__(self, weights, means, variances, tnorm_counts=None, tnorm_stats=None, znorm_counts=None,
                 znorm_stats=None):
        self.weights = np.asarray(weights, dtype=np.float32)
        self.means = np.asarray(means, dtype=np.float32)
        self.variances = np.asarray(variances, dtype=np.float32)
        self.components, self.dim = self.means.shape
        self.inv_sd = (1.0 / np.sqrt(self.variances)).astype(np.float32)
        prec = 1.0 / self.variances.astype(np.float64)
        w = np.empty((2 * self.dim + 1, self.components))
        w[:self.dim] = (-0.5 * prec).T
        w[self.dim:2 * self.dim] = (self.means * prec).T
        w[-1] = (np.log(self.weights) - 0.5 * (np.log(self.variances).sum(1) + (self.means ** 2 * prec).sum(1)
                                                + self.dim * _LOG2PI))
        self._w = w.astype(np.float32)                        # [x^2, x, 1] @ _w = log w_c N(x | c)
        flat = self.components * self.dim
        self.tnorm_counts = None if tnorm_counts is None else np.asarray(tnorm_counts, np.float32)
        self.tnorm_stats = None if tnorm_stats is None else np.asarray(tnorm_stats, np.float32)
        self._tnorm: dict[float, tuple[np.ndarray, np.ndarray]] = {}
        self.znorm_counts = None if znorm_counts is None else np.asarray(znorm_counts, np.float32)
        self.znorm_stats = None if znorm_stats is None else np.asarray(znorm_stats, np.float32).reshape(-1, flat)

    @classmethod
    def from_arrays(cls, weights, means, variances) -> "VoiceModel":
        return cls(weights, means, variances)

    # ---- frames -> statistics ---------------------------------------------------------------

    def top_posteriors(self, x: np.ndarray, *, block: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """For frames x (T, D): the TOP_C best UBM Gaussians per frame (T, TOP_C) int64 and their posteriors
        renormalised over those (T, TOP_C) float32."""
        t = len(x)
        k = min(TOP_C, self.components)
        idx = np.empty((t, k), dtype=np.int64)
        post = np.empty((t, k), dtype=np.float32)
        for s in range(0, t, block):
            xb = np.asarray(x[s:s + block], dtype=np.float32)
            ll = np.square(xb) @ self._w[:self.dim] + xb @ self._w[self.dim:2 * self.dim] + self._w[-1]
            top, v = _top_k(ll, k)
            v = np.exp(v - v.max(axis=1, keepdims=True))
            idx[s:s + block] = top
            post[s:s + block] = v / v.sum(axis=1, keepdims=True)
        return idx, post

    def stats(self, x: np.ndarray, groups: np.ndarray | None = None, n_groups: int = 1):
        """Whitened Baum-Welch statistics of frames x (T, D).

        groups: (T,) group index in [0, n_groups) per frame, or None for one group. Returns N (n_groups, C)
        and F (n_groups, C, D) float32; with groups None, N (C,) and F (C, D).
        """
        single = groups is None
        if single:
            groups = np.zeros(len(x), dtype=np.int64)
        x = np.asarray(x, dtype=np.float32)
        idx, post = self.top_posteriors(x)
        n, f = self.accumulate(x, idx, post, groups, n_groups)
        return (n[0], f[0]) if single else (n, f)

    def accumulate(self, x: np.ndarray, idx: np.ndarray, post: np.ndarray, groups: np.ndarray, n_groups: int):
        """Whitened statistics N (n_groups, C), F (n_groups, C, D) float32 of frames x (T, D) with their top-C
        Gaussians idx and posteriors post (T, TOP_C) (top_posteriors), per group (groups: (T,) in [0, n_groups))."""
        c, d = self.components, self.dim
        n = np.zeros((n_groups * c,), dtype=np.float32)
        f = np.zeros((n_groups * c, d), dtype=np.float32)
        if len(x):
            k = idx.shape[1]
            flat = (np.asarray(groups, dtype=np.int64)[:, None] * c + idx).ravel()    # (T * TOP_C,)
            order = np.argsort(flat, kind="stable")                                # same (group, Gaussian) together
            keys = flat[order]
            first = np.flatnonzero(np.diff(np.concatenate([[-1], keys])) != 0)
            used = keys[first]
            p = post.ravel()[order]
            n[used] = np.add.reduceat(p, first)
            weighted = x[order // k]
            weighted *= p[:, None]                                                 # posterior-weighted frames
            # centre on the UBM means and whiten, only where a Gaussian was used: sum_t g_tc (x_t - mu_c) / sigma_c
            comp = used % c
            f[used] = (np.add.reduceat(weighted, first, axis=0) - n[used, None] * self.means[comp]) * self.inv_sd[comp]
        return n.reshape(n_groups, c), f.reshape(n_groups, c, d)

    # ---- statistics -> speakers and scores ----------------------------------------------------

    @staticmethod
    def map_offsets(n: np.ndarray, f: np.ndarray, relevance: float) -> np.ndarray:
        """MAP-adapted mean offsets e = F / (N + r), shape like f ((C, D) or (G, C, D)), whitened units."""
        return (f / (n[..., None] + np.float32(relevance))).astype(np.float32)

    def background_speakers(self, relevance: float) -> tuple[np.ndarray, np.ndarray]:
        """The background speakers' MAP offsets, flattened (B, C * D), and |e_c|^2 (B, C); computed once per r."""
        got = self._tnorm.get(relevance)
        if got is None:
            e = self.map_offsets(self.tnorm_counts, self.tnorm_stats, relevance)
            got = (np.ascontiguousarray(e.reshape(len(e), -1)), np.square(e).sum(axis=2))
            self._tnorm[relevance] = got
        return got

    @staticmethod
    def llr(offsets: np.ndarray, n: np.ndarray, f: np.ndarray) -> np.ndarray:
        """Linear-scoring log-likelihood ratio per frame: models offsets (M, C, D) against frame groups
        with statistics n (G, C), f (G, C, D); shape (G, M) float32, nats per frame (0 for empty groups)."""
        m = offsets.reshape(len(offsets), -1)
        q = np.square(offsets).sum(axis=2)                                   # (M, C)
        total = np.maximum(n.sum(axis=1), 1e-6)[:, None]
        return ((f.reshape(len(f), -1) @ m.T - 0.5 * (n @ q.T)) / total).astype(np.float32)

    def tnorm_scores(self, n: np.ndarray, f: np.ndarray, relevance: float, models: slice = slice(None)) -> np.ndarray:
        """Scores of frame groups (n (G, C), f (G, C, D)) against the fixed background speakers, (G, B)."""
        m, q = self.background_speakers(relevance)
        m, q = m[models], q[models]
        total = np.maximum(n.sum(axis=1), 1e-6)[:, None]
        return ((f.reshape(len(f), -1) @ m.T - 0.5 * (n @ q.T)) / total).astype(np.float32)

    def znorm(self, offsets: np.ndarray, top: int = 0) -> tuple[float, float]:
        """Mean and standard deviation of a speaker's (offsets (C, D)) scores on the background test segments;
        with top > 0 only on the `top` highest (adaptive S-norm, see top_stats)."""
        s = self.llr(offsets[None], self.znorm_counts, self.znorm_stats.reshape(-1, self.components, self.dim))
        mean, std = top_stats(s.T, top)
        return float(mean[0]), float(std[0])


def top_stats(scores: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (floored at 1e-3) along axis 1 of scores (G, B), over the `top` highest of each
    row when 0 < top < B: adaptive score normalisation (Sturim & Reynolds 2005, "Speaker adaptive cohort selection
    for Tnorm"; Matejka et al. 2017), so only the background voices that resemble the speaker or the test set the
    scale, whatever kinds of voices the background holds. Returns two (G,) float32 arrays."""
    if 0 < top < scores.shape[1]:
        scores = np.partition(scores, scores.shape[1] - top, axis=1)[:, -top:]
    return scores.mean(axis=1).astype(np.float32), np.maximum(scores.std(axis=1), 1e-3).astype(np.float32)


@lru_cache(maxsize=1)
def voice_model() -> VoiceModel:
    """The committed model (MODEL_FILE), loaded once per process (~10 ms)."""
    with np.load(MODEL_FILE, allow_pickle=False) as z:
        return VoiceModel(z["weights"], z["means"], z["variances"], z["tnorm_counts"], z["tnorm_stats"],
                          z["znorm_counts"], z["znorm_stats"])


def _top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices (T, k) int64 of the k largest entries of every row of scores (T, C), best first, and
    those entries (T, k). Destroys scores.

    k rounds of argmax: for k much smaller than C this is ~6x faster than np.argpartition, which pays a
    per-row selection overhead on rows this short; ties go to the lower index, as argmax does.
    """
    rows = np.arange(len(scores))
    top = np.empty((len(scores), k), dtype=np.int64)
    values = np.empty((len(scores), k), dtype=scores.dtype)
    for j in range(k):
        best = scores.argmax(axis=1)
        top[:, j] = best
        values[:, j] = scores[rows, best]
        scores[rows, best] = -np.inf
    return top, values
