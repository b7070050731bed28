"""The model of voices in general: a universal background model (UBM), MAP adaptation, scoring, S-norm.

Standard GMM-UBM speaker recognition (Reynolds, Quatieri & Dunn 2000, "Speaker verification using adapted
Gaussian mixture models", DSP 10) with the usual fast approximations:
  * top-C scoring: each frame is explained only by its TOP_C most likely UBM Gaussians (same paper, sec. 4.2),
    so a frame costs one UBM evaluation whatever the number of voices;
  * Baum-Welch statistics in the UBM's whitened space: for a group of frames, N_c = sum_t g_tc and
    F_c = sum_t g_tc (x_t - mu_c) / sigma_c (g: the top-C posteriors); they add up over frames, so a
    speaker's enrollments, a turn's blocks, etc. combine exactly by summing;
  * a speaker is the offset e_c of its adapted means from the UBM's, in units of the UBM's std. deviation, found
    in two steps (the "eigenvoice MAP + MAP" of Kenny, Boulianne & Dumouchel 2005, "Eigenvoice modeling with
    sparse training data", IEEE TSAP 13(3)): first the most likely point s = m + V y of the EIGENVOICES-dimensional
    subspace in which the background voices vary most (V: their principal axes, scaled to their spread; y ~ N(0, I)
    a priori), which a few seconds of speech pin down; then classical MAP adaptation (relevance factor r,
    config.relevance; Reynolds 2000, eq. 14) of what the subspace does not explain:
    e_c = s_c + (F_c - N_c s_c) / (N_c + r). Short enrollments gain most: a 6 s enrollment moves every Gaussian
    along the directions real voices differ in, where plain MAP leaves most Gaussians at the UBM. V here is not
    Kenny's EM-trained matrix but its usual cheap stand-in: the principal axes of the background voices' MAP
    offsets (relevance EIGENVOICE_RELEVANCE). The offsets used are the average (EIGENVOICE_WEIGHT) of these and
    of plain MAP, e_c = F_c / (N_c + r), which keeps unlike voices further apart;
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

from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from .npy import load_npz

COMPONENTS = 128       # Gaussians in the UBM (the prototype: 64-128 work, 128 slightly better)
TOP_C = 5              # Gaussians per frame kept for scoring, Reynolds et al. 2000 (their value)
EIGENVOICES = 40       # rank of the eigenvoice subspace (0 = plain MAP). Chosen on half B of the dev set's speaker
                       # split (scripts/pipeline_eval.py --halves, IER half A / half B, accept_threshold 1.25):
                       # 20 -> 0.061 / 0.080, 30 -> 0.062 / 0.070, 40 -> 0.048 / 0.066, 50 -> 0.042 / 0.077;
                       # plain MAP (threshold 1.0) 0.062 / 0.091
EIGENVOICE_WEIGHT = 0.5    # a speaker's offsets: this share of the eigenvoice model, the rest plain MAP. The
                           # eigenvoice prior pulls unlike voices together (strangers then score higher: the
                           # espeak-ng stranger of fixtures/ was named alice at weight 1); half and half keeps
                           # plain MAP's separation. Half A / half B: weight 1 0.054 / 0.066, 0.7 0.057 / 0.066,
                           # 0.5 0.058 / 0.064 (accept_threshold 1.5)
EIGENVOICE_RELEVANCE = 4.0  # MAP relevance of the background voices' offsets the subspace is fitted to (their
                            # whole utterances: ~12 s each, so little shrinkage)
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

    @cached_property
    def eigenvoices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The subspace speakers are placed in first (see the module doc): (m (C, D) the background voices' mean
        offset, V (C, D, K) their K = EIGENVOICES principal axes scaled by the standard deviation along each, and
        V_c^T V_c (C, K, K)), float32; None without background voices (while training) or with EIGENVOICES = 0.

        Computed at its first use in a process (the first enroll or identify: ~20 ms, an eigendecomposition of the
        background voices' B x B Gram matrix) from the model file's background-voice statistics, so it needs no
        field of its own in the file."""
        if self.tnorm_counts is None or EIGENVOICES == 0:
            return None
        b = len(self.tnorm_counts)
        offsets = plain_map(self.tnorm_counts, self.tnorm_stats.reshape(b, self.components, self.dim),
                            EIGENVOICE_RELEVANCE).reshape(b, -1)
        mean = offsets.mean(axis=0)
        centred = offsets - mean                                             # (B, C * D) float32
        values, vectors = np.linalg.eigh((centred @ centred.T).astype(np.float64))   # ascending eigenvalues
        k = min(EIGENVOICES, b - 1)
        vectors = vectors[:, ::-1][:, :k].astype(np.float32)
        # principal axis a_k = X^T u_k / sqrt(lambda_k), spread sqrt(lambda_k / B): V = X^T u / sqrt(B)
        v = (centred.T @ vectors / np.float32(np.sqrt(b))).reshape(self.components, self.dim, k)
        return mean.reshape(self.components, self.dim), v, np.einsum("cdk,cdl->ckl", v, v)

    def map_offsets(self, n: np.ndarray, f: np.ndarray, relevance: float, *, chunk: int = 16) -> np.ndarray:
        """Speaker mean offsets from statistics n ((C,) or (G, C)) and f ((C, D) or (G, C, D)): eigenvoice MAP, then
        MAP (relevance r) of the rest, averaged with plain MAP (module doc); shape like f, float32, whitened units.
        Without eigenvoices (while training) plain MAP, e = F / (N + r). Groups are done `chunk` at a time, so
        the 169 background voices need a few MB, not tens."""
        ev = self.eigenvoices
        if ev is None:
            return plain_map(n, f, relevance)
        mean, v, vv = ev
        n_all = np.asarray(n, dtype=np.float32).reshape(-1, self.components)
        f_all = np.asarray(f, dtype=np.float32).reshape(-1, self.components, self.dim)
        out = np.empty(f_all.shape, dtype=np.float32)
        for g0 in range(0, len(n_all), chunk):
            n2, f2 = n_all[g0:g0 + chunk, :, None], f_all[g0:g0 + chunk]
            precision = np.eye(v.shape[2]) + np.einsum("gc,ckl->gkl", n2[..., 0], vv)  # posterior precision of y
            y = np.linalg.solve(precision, np.einsum("cdk,gcd->gk", v, f2 - n2 * mean)[..., None])[..., 0]
            s = mean + np.einsum("cdk,gk->gcd", v, y.astype(np.float32))           # the point in the subspace
            eigen_map = s + (f2 - n2 * s) / (n2 + np.float32(relevance))
            out[g0:g0 + chunk] = (EIGENVOICE_WEIGHT * eigen_map
                                  + (1.0 - EIGENVOICE_WEIGHT) * plain_map(n2[..., 0], f2, relevance))
        return out.reshape(np.shape(f))

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
    z = load_npz(MODEL_FILE)
    return VoiceModel(z["weights"], z["means"], z["variances"], z["tnorm_counts"], z["tnorm_stats"],
                      z["znorm_counts"], z["znorm_stats"])


def plain_map(n: np.ndarray, f: np.ndarray, relevance: float) -> np.ndarray:
    """Classical MAP mean offsets e = F / (N + r) (Reynolds et al. 2000, eq. 14) of statistics n ((C,) or (G, C))
    and f (same with a trailing D), float32, whitened units."""
    return (f / (n[..., None] + np.float32(relevance))).astype(np.float32)


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
