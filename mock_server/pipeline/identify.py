"""identify_segments: who speaks when, read top to bottom.

speech frames (speech.py) -> features (features.py) -> log-likelihood under every voice
(scoring.py; with a background fitted to the clip itself when nothing else competes) -> smoothing over ~1.5 s of speech -> open-set decision against the other
enrolled voices, per stretch of speech with no pause and no change of voice (decision.py)
-> unknown speech named as the one requested speaker not found, if exactly one is missing and
that one was thinly enrolled (decision.name_leftover_voice) -> short-turn removal -> segments (segments.py).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .config import DEFAULT_CONFIG, PipelineConfig
from .decision import absorb_short_runs, closed_set_labels, name_leftover_voice, open_set_turns, voice_changes
from .features import speaker_features
from .scoring import frame_logliks, moving_average
from .segments import Segment, label_runs, to_segments
from .threads import single_threaded_blas
from .voiceprint import clip_background, speech_frame_mask


def identify_segments(samples: np.ndarray, voiceprints: Mapping[str, np.ndarray], *,
                      config: PipelineConfig = DEFAULT_CONFIG,
                      cohort: Mapping[str, np.ndarray] | None = None) -> list[Segment]:
    """Label the speech of `samples` with the requested speakers or "unknown".

    samples: mono float32 in [-1, 1] at config.sample_rate. voiceprints: speaker id ->
    speaker_voiceprint output (the speakers asked about). cohort: other enrolled speakers of
    the account (same form), used only as competitors so that voices resembling them are
    not mistaken for a requested speaker. Returns sorted, non-overlapping segments in
    seconds; silence yields no segment and an all-silent recording an empty list.
    """
    single_threaded_blas()
    c = config
    names = sorted(voiceprints)
    if not names:
        raise ValueError("identify needs at least one speaker voiceprint")
    samples = np.asarray(samples, dtype=np.float32)
    duration = len(samples) / c.sample_rate
    feats = speaker_features(samples, c)
    speech = speech_frame_mask(len(feats), samples, c)
    if not speech.any():
        return []
    extra = [k for k in sorted(cohort or {}) if k not in voiceprints]
    models = [voiceprints[k] for k in names] + [cohort[k] for k in extra]

    idx = np.flatnonzero(speech)
    scored = idx[:: max(1, c.score_decimation)]
    frames_per_s = c.sample_rate / c.hop_length
    if len(models) == 1:
        models.append(clip_background(feats[scored], c))
    ll = frame_logliks(feats[scored], models)
    width = int(round(c.smooth_window * frames_per_s / max(1, c.score_decimation)))
    smoothed = moving_average(ll, width)
    min_run = int(round(c.min_turn * c.frames_per_second_scored))
    labels_scored = absorb_short_runs(closed_set_labels(smoothed, len(names)), min_run)
    region_of = np.cumsum(np.diff(np.concatenate([[0], speech.astype(np.int8)])) == 1) - 1   # (T,)
    # a turn is judged per stretch of one speech region with no voice change inside (decision.py)
    change_width = int(round(c.change_window * c.frames_per_second_scored))
    stretch = region_of[scored] * (len(scored) + 1) + voice_changes(ll, change_width, c.change_factor)
    stretch = np.cumsum(np.concatenate([[0], np.diff(stretch) != 0]))
    labels_scored = absorb_short_runs(open_set_turns(labels_scored, ll, stretch, c), min_run)
    if c.thin_enrollment > 0:
        # a voiceprint has one component per frames_per_component frames of enrolled speech (voiceprint.fit_gmm)
        thin_components = c.thin_enrollment * frames_per_s / c.frames_per_component
        thin = np.array([len(voiceprints[k]) < min(thin_components, c.gmm_components) for k in names])
        min_found = int(round(c.min_reference_turn * c.frames_per_second_scored))
        labels_scored = name_leftover_voice(labels_scored, thin, min_found)

    # spread the decisions of the scored frames to every speech frame (nearest earlier one)
    pos = np.clip(np.searchsorted(scored, idx, side="right") - 1, 0, len(scored) - 1)
    labels_speech = labels_scored[pos]
    labels_speech = absorb_short_runs(labels_speech, int(round(c.min_turn * frames_per_s)))
    labels = np.full(len(feats), -1, dtype=np.int64)
    labels[idx] = labels_speech
    return to_segments(label_runs(labels, speech), names, 1.0 / frames_per_s, c.max_pause, duration,
                       c.min_segment)
