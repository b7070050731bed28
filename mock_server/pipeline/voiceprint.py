"""Voiceprints: the speech frames of an enrollment, and a diagonal GMM per speaker.

enrollment_voiceprint keeps the raw speaker-feature frames of the speech in one recording
(shape (n_frames, dim), float32). speaker_voiceprint pools a speaker's enrollments and fits a
diagonal-covariance Gaussian mixture to them, packed as one float32 array of shape
(K, 1 + 2 * dim): column 0 the log weight, then the K means, then the K variances. More
enrollments mean more frames and therefore more (and better estimated) components.
Training is deterministic: evenly spaced frames seed k-means, then a few EM iterations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from .config import DEFAULT_CONFIG, PipelineConfig
from .errors import NoSpeechError
from .features import speaker_features
from .speech import speech_mask
from .threads import single_threaded_blas

_LOG2PI = float(np.log(2.0 * np.pi))


def speech_frame_mask(n_frames: int, samples: np.ndarray, config: PipelineConfig) -> np.ndarray:
    """Map the VAD speech mask onto feature frames (frame t is centered at t * hop)."""
    mask, step = speech_mask(samples, config)
    centers = np.arange(n_frames) * (config.hop_length / config.sample_rate)
    idx = np.minimum((centers / step).astype(np.int64), max(len(mask) - 1, 0))
    return mask[idx] if len(mask) else np.zeros(n_frames, dtype=bool)


def enrollment_voiceprint(samples: np.ndarray, *, config: PipelineConfig = DEFAULT_CONFIG) -> np.ndarray:
    """Speech feature frames of one enrollment recording, shape (n, dim) float32.

    Raises NoSpeechError when less than config.min_enroll_speech seconds of speech are found.
    """
    single_threaded_blas()
    feats = speaker_features(samples, config)
    frames = feats[speech_frame_mask(len(feats), samples, config)]
    seconds = len(frames) * config.hop_length / config.sample_rate
    if seconds < config.min_enroll_speech:
        raise NoSpeechError(
            f"no usable speech found ({seconds:.2f} s detected, need {config.min_enroll_speech:.2f} s): "
            "record at least a few seconds of one person talking, close to the microphone, "
            "with little background noise")
    return np.ascontiguousarray(frames, dtype=np.float32)


# ---- diagonal GMM -----------------------------------------------------------------------

def pack_gmm(log_w: np.ndarray, means: np.ndarray, var: np.ndarray) -> np.ndarray:
    return np.concatenate([log_w[:, None], means, var], axis=1).astype(np.float32)


def unpack_gmm(gmm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = (gmm.shape[1] - 1) // 2
    return gmm[:, 0].astype(np.float64), gmm[:, 1:1 + d].astype(np.float64), gmm[:, 1 + d:].astype(np.float64)


def component_loglik(x: np.ndarray, log_w: np.ndarray, means: np.ndarray, var: np.ndarray) -> np.ndarray:
    """log(w_k N(x_t | mu_k, diag var_k)), shape (T, K); two matrix products, no loop."""
    prec = 1.0 / var
    const = log_w - 0.5 * (np.sum(np.log(var), axis=1) + np.sum(means ** 2 * prec, axis=1) + x.shape[1] * _LOG2PI)
    return (x ** 2) @ (-0.5 * prec).T + x @ (means * prec).T + const


def logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    m = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(a - m), axis=axis))


def gmm_loglik(x: np.ndarray, gmm: np.ndarray) -> np.ndarray:
    """Per-frame log-likelihood of frames x (T, dim) under a packed GMM, shape (T,).

    Evaluated in float32 (twice as fast; scores are averaged over many frames afterwards).
    """
    log_w, means, var = (a.astype(np.float32) for a in unpack_gmm(gmm))
    return logsumexp(component_loglik(np.asarray(x, dtype=np.float32), log_w, means, var), axis=1)


def fit_gmm(x: np.ndarray, config: PipelineConfig = DEFAULT_CONFIG) -> np.ndarray:
    """Fit a diagonal GMM to frames x (n, dim); returns the packed (K, 1 + 2 dim) array."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    k = int(max(1, min(config.gmm_components, n // config.frames_per_component)))
    floor = np.maximum(x.var(axis=0), 1e-6) * config.var_floor
    means = x[np.linspace(0, n - 1, k).astype(np.int64)].copy()   # deterministic seeds
    for _ in range(4):                                            # a few k-means steps
        d = (x ** 2).sum(1)[:, None] - 2 * x @ means.T + (means ** 2).sum(1)[None, :]
        lab = np.argmin(d, axis=1)
        counts = np.bincount(lab, minlength=k)
        sums = np.zeros_like(means)
        np.add.at(sums, lab, x)
        means = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], means)
    var = np.tile(np.maximum(x.var(axis=0), floor), (k, 1))
    log_w = np.full(k, -np.log(k))
    for _ in range(config.gmm_iterations):                        # EM
        ll = component_loglik(x, log_w, means, var)
        post = np.exp(ll - logsumexp(ll, axis=1)[:, None])
        nk = post.sum(axis=0) + 1e-9
        means = (post.T @ x) / nk[:, None]
        var = np.maximum((post.T @ (x ** 2)) / nk[:, None] - means ** 2, floor)
        log_w = np.log(nk / n)
    return pack_gmm(log_w, means, var)


def clip_background(frames: np.ndarray, config: PipelineConfig = DEFAULT_CONFIG) -> np.ndarray:
    """A broad model of a recording's own speech, packed like a voiceprint: the competitor when one speaker
    is requested and the account has no other voice to compare against.

    With no competitor every voice would be the requested speaker. A single diagonal Gaussian of the very
    frames being judged fits any voice in them moderately well but none as well as that voice's own GMM,
    so the margin rule in decision.py then keeps the enrolled voice and turns strangers into "unknown";
    being fitted per request, it calibrates itself to the channel. frames: (n, dim).
    """
    k = config.clip_background_components
    return fit_gmm(frames, replace(config, gmm_components=k, frames_per_component=max(1, len(frames) // k)))


def speaker_voiceprint(enrollments: Sequence[np.ndarray], *, config: PipelineConfig = DEFAULT_CONFIG) -> np.ndarray:
    """Combine a speaker's enrollment voiceprints into one GMM, shape (K, 1 + 2 dim) float32."""
    single_threaded_blas()
    frames = [np.asarray(e, dtype=np.float32) for e in enrollments if len(e)]
    if not frames:
        raise NoSpeechError("no enrollment with usable speech: enroll a recording of the speaker talking")
    x = np.concatenate(frames, axis=0)
    if len(x) > config.max_voiceprint_frames:                     # deterministic decimation
        x = x[np.linspace(0, len(x) - 1, config.max_voiceprint_frames).astype(np.int64)]
    return fit_gmm(x, config)
