"""identification_score: how sure the mock is of one streamed answer, a number in [0, 1].

The vendor's docs name the field and nothing else; this is the mock's definition (README, "Realtime (gRPC)").

A turn's speech is scored as identify scores a turn (pipeline/identify.py): one adaptive S-norm score per
requested speaker from all of the turn's frames, against the model's fixed background voices, never the account's
other voices, calibrated for voices enrolled from a few seconds (pipeline/decision.py, enrollment_shift) and for
the noise of the audio identify listened to (``noise_shift``: pipeline.identify's Identification). ``s``
is in standard deviations of the background voices' scores; identify accepts the best requested speaker when
``s >= accept_threshold`` (pipeline/config.py: 1.5). The score is that decision's confidence on a
logistic scale:

    answered as speaker k:  score = 1 / (1 + exp(-(s_k - accept_threshold) / SCALE))
    answered as unknown:    score = 1 - the same for the best requested speaker

so a turn exactly at the threshold scores 0.5, a voice well above it approaches 1, and an unknown turn no
requested voice comes near approaches 1 too. SCALE = 1 (one standard deviation).

Uses pipeline stages beyond its stable public contract (pipeline/__init__.py): if those move, only this module
follows.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mock_server.pipeline import DEFAULT_CONFIG
from mock_server.pipeline.identify import requested_voices, snorm_scores
from mock_server.pipeline.ubm import voice_model
from mock_server.pipeline.voiceprint import speech_features

UNKNOWN = "unknown"       # the pipeline's label; the servicer answers it as the API's unknown label
MIN_FRAMES = 10           # fewer speech frames than this (0.1 s) carry no evidence: score 0
SCALE = 1.0               # S-norm units (background standard deviations) per logistic unit


def identification_score(samples: np.ndarray, speaker_id: str, voiceprints: Mapping[str, np.ndarray], *,
                         noise_shift: float = 0.0) -> float:
    """The score of answering ``speaker_id`` (one of ``voiceprints`` or "unknown") for ``samples``: one turn's
    audio, mono float32 at 16 kHz. voiceprints: requested speaker id -> pipeline.speaker_voiceprint. noise_shift:
    what identify added to every score of the audio the turn was cut from (pipeline.Identification.noise_shift;
    a turn alone has too few pauses to measure its noise on). Returns a float in [0, 1] rounded to 4 decimals; 0.0
    when the turn holds too little speech to judge. Raises ValueError without voiceprints."""
    names = sorted(voiceprints)
    if not names:
        raise ValueError("identification_score needs at least one voiceprint")
    config = DEFAULT_CONFIG
    feats, speech = speech_features(np.asarray(samples, dtype=np.float32), config)
    frames = feats[speech] if np.count_nonzero(speech) >= MIN_FRAMES else feats
    if len(frames) < MIN_FRAMES:
        return 0.0
    model = voice_model()
    offsets, z, shift = requested_voices(voiceprints, names, config)
    idx, post = model.top_posteriors(frames)
    n, f = model.accumulate(frames, idx, post, np.zeros(len(frames), dtype=np.int64), 1)
    scores = (snorm_scores(model, offsets, z, n, f, config.relevance, config.snorm_top)[0].astype(np.float64)
              + shift + noise_shift)
    if speaker_id == UNKNOWN:
        return round(1.0 - _confidence(float(scores.max()), config.accept_threshold), 4)
    return round(_confidence(float(scores[names.index(speaker_id)]), config.accept_threshold), 4)


def _confidence(score: float, threshold: float) -> float:
    if not np.isfinite(score):
        return 1.0 if score > 0 else 0.0
    return float(1.0 / (1.0 + np.exp(-(score - threshold) / SCALE)))
