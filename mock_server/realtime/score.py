"""identification_score: how sure the mock is of one streamed answer, a number in [0, 1].

The vendor's docs name the field and nothing else; this is the mock's definition (README, "Realtime (gRPC)").

For a turn answered as speaker k, with the turn's speech frames scored under every voiceprint compared
(the requested speakers and the account's other complete voices, as identify does):

    margin = mean log-likelihood per frame under k  -  the same under the best other voiceprint   (nats/frame)
    score  = margin+ / (margin+ + tau)        tau = pipeline min_margin (0.3 nats/frame), margin+ = max(margin, 0)

so a turn exactly at the pipeline's absolute acceptance floor scores 0.5, a voice that fits its voiceprint
clearly better than any other approaches 1, and one that fits another voice as well scores 0. An "unknown" turn
gets the complement computed for the best-fitting requested speaker (1 - score): high when no requested voice
stands out. With one voiceprint and no other voice to compare, the competitor is a Gaussian fitted to the
turn's own speech, as the pipeline does (voiceprint.clip_background).

Uses the pipeline's feature and scoring stages (not part of its stable public contract in pipeline/__init__.py):
if those move, only this module follows.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mock_server.pipeline import DEFAULT_CONFIG
from mock_server.pipeline.features import speaker_features
from mock_server.pipeline.scoring import frame_logliks
from mock_server.pipeline.voiceprint import clip_background, speech_frame_mask

UNKNOWN = "unknown"
MIN_FRAMES = 10     # fewer speech frames than this (0.1 s) carry no evidence: score 0


def identification_score(samples: np.ndarray, speaker_id: str, voiceprints: Mapping[str, np.ndarray],
                         cohort: Mapping[str, np.ndarray] | None = None) -> float:
    """The score of answering ``speaker_id`` for ``samples`` (one turn's audio, mono float32 at 16 kHz).

    voiceprints: requested speaker id -> packed GMM (pipeline.speaker_voiceprint); cohort: the account's other
    complete voices, competitors only. speaker_id is one of voiceprints or "unknown". Returns a float in
    [0, 1], rounded to 4 decimals; 0.0 when the turn holds too little audio to judge.
    """
    names = sorted(voiceprints)
    if not names:
        raise ValueError("identification_score needs at least one voiceprint")
    config = DEFAULT_CONFIG
    feats = speaker_features(np.asarray(samples, dtype=np.float32), config)
    if len(feats) < MIN_FRAMES:
        return 0.0
    speech = speech_frame_mask(len(feats), samples, config)
    frames = feats[speech] if np.count_nonzero(speech) >= MIN_FRAMES else feats
    models = [voiceprints[k] for k in names] + [v for k, v in sorted((cohort or {}).items()) if k not in voiceprints]
    if len(models) == 1:
        models.append(clip_background(frames, config))
    mean = frame_logliks(frames, models).astype(np.float64).mean(axis=0)
    tau = config.min_margin
    if speaker_id == UNKNOWN:
        best = int(np.argmax(mean[:len(names)]))
        return round(1.0 - _confidence(_margin(mean, best), tau), 4)
    return round(_confidence(_margin(mean, names.index(speaker_id)), tau), 4)


def _margin(mean: np.ndarray, k: int) -> float:
    """How many nats/frame model k beats the best other model by."""
    return float(mean[k] - np.delete(mean, k).max())


def _confidence(margin: float, tau: float) -> float:
    m = max(margin, 0.0) if np.isfinite(margin) else (1e9 if margin > 0 else 0.0)
    return m / (m + tau)
