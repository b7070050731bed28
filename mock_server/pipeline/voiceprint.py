"""Voiceprints: Baum-Welch statistics of an enrollment, and an adapted model per speaker.

enrollment_voiceprint keeps the whitened zeroth- and first-order statistics of one recording's speech
against the universal background model (ubm.py), shape (C, 1 + D) float32: column 0 the occupation
counts N_c, then F_c. Statistics add up, so speaker_voiceprint pools any number of enrollments exactly
and adapts the UBM's means to them (ubm.VoiceModel.map_offsets: half eigenvoice MAP, half classical MAP,
Reynolds et al. 2000), packed as (C + 1, D) float32: rows 0..C-1 the adapted mean offsets in the UBM's
standard deviations, and a last row [z_mean, z_std, seconds, 0...]: the speaker's Z-norm statistics against
the model's fixed background segments and the speech it was enrolled from. A few seconds of enrollment give a
usable model: the eigenvoice half moves every Gaussian along the directions voices differ in, and where a
Gaussian saw little speech the classical half stays at the UBM's mean (the MAP prior), instead of being
fitted to noise.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .config import DEFAULT_CONFIG, PipelineConfig
from .errors import NoSpeechError
from .features import speaker_features
from .level import normalise_level
from .speech import SpeechFrames, speech_and_pauses, speech_to_noise
from .threads import single_threaded_blas
from .ubm import voice_model


def _on_feature_frames(mask: np.ndarray, step: float, n_frames: int, config: PipelineConfig) -> np.ndarray:
    """A per-VAD-frame mask (VAD frames of `step` s) on feature frames (frame t is centered at t * hop), (n_frames,)."""
    centers = np.arange(n_frames) * (config.hop_length / config.sample_rate)
    idx = np.minimum((centers / step).astype(np.int64), max(len(mask) - 1, 0))
    return mask[idx] if len(mask) else np.zeros(n_frames, dtype=bool)


class SpeechFeatures(NamedTuple):
    """speech_features_and_pauses's answer: every frame's features and three views of the same frames."""

    features: np.ndarray        # (T, D) float32, every feature frame
    speech: np.ndarray          # (T,) bool
    pauses: np.ndarray          # (T,) bool: bridged pauses inside the speech (speech.speech_and_pauses)
    speech_to_noise_db: float   # the speech level over the noise of the recording's pauses (speech.speech_to_noise)


def _features_and_speech(samples: np.ndarray, config: PipelineConfig,
                         overwrite: bool) -> tuple[np.ndarray, np.ndarray, SpeechFrames]:
    """The level-normalised samples, their speaker features (T, D) and speech detection (speech.SpeechFrames)."""
    x = normalise_level(samples, config, overwrite=overwrite)
    return x, speaker_features(x, config), speech_and_pauses(x, config, normalised=True)


def speech_features(samples: np.ndarray, config: PipelineConfig = DEFAULT_CONFIG, *,
                    overwrite: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Level-normalised speaker features of every frame (T, D) float32 and the speech mask (T,) bool.
    overwrite=True lets level normalisation work in samples itself (level.normalise_level)."""
    _, feats, found = _features_and_speech(samples, config, overwrite)
    return feats, _on_feature_frames(found.speech, found.step, len(feats), config)


def speech_features_and_pauses(samples: np.ndarray, config: PipelineConfig = DEFAULT_CONFIG, *,
                               overwrite: bool = False) -> SpeechFeatures:
    """speech_features, plus the bridged pauses inside the speech (speech.speech_and_pauses) on the same frames
    and the speech level over the noise of the recording's pauses (SpeechFeatures): what identify needs."""
    x, feats, found = _features_and_speech(samples, config, overwrite)
    return SpeechFeatures(feats, _on_feature_frames(found.speech, found.step, len(feats), config),
                          _on_feature_frames(found.pauses, found.step, len(feats), config),
                          speech_to_noise(x, found.speech, found.speech_level_db, config))


def enrollment_voiceprint(samples: np.ndarray, *, config: PipelineConfig = DEFAULT_CONFIG) -> np.ndarray:
    """Statistics of the speech in one enrollment recording, shape (C, 1 + D) float32 (see module doc).

    samples: mono float32 at config.sample_rate, any level. Raises NoSpeechError when less than
    config.min_enroll_speech seconds of speech are found.
    """
    single_threaded_blas()
    feats, speech = speech_features(samples, config)
    frames = feats[speech]
    seconds = len(frames) * config.hop_length / config.sample_rate
    if seconds < config.min_enroll_speech:
        raise NoSpeechError(
            f"no usable speech found ({seconds:.2f} s detected, need {config.min_enroll_speech:.2f} s): "
            "record at least a few seconds of one person talking, close to the microphone, "
            "with little background noise")
    n, f = voice_model().stats(frames)
    return np.concatenate([n[:, None], f], axis=1).astype(np.float32)


def speaker_voiceprint(enrollments: Sequence[np.ndarray], *, config: PipelineConfig = DEFAULT_CONFIG) -> np.ndarray:
    """Combine a speaker's enrollment voiceprints into its model, shape (C + 1, D) float32 (see module doc).

    Empty enrollments (size 0: no speech under the current model) are skipped; raises NoSpeechError when none
    is left, ValueError for statistics of another model's shape.
    """
    single_threaded_blas()
    model = voice_model()
    stats = [np.asarray(e, dtype=np.float32) for e in enrollments if np.size(e)]
    if not stats:
        raise NoSpeechError("no enrollment with usable speech: enroll a recording of the speaker talking")
    shape = (model.components, 1 + model.dim)
    if any(s.shape != shape for s in stats):
        raise ValueError(f"enrollment voiceprints must have shape {shape}: made by another model version")
    total = np.sum(stats, axis=0, dtype=np.float64)
    offsets = model.map_offsets(total[:, 0].astype(np.float32), total[:, 1:].astype(np.float32), config.relevance)
    z_mean, z_std = model.znorm(offsets, config.snorm_top)
    extra = np.zeros((1, model.dim), dtype=np.float32)
    extra[0, :3] = (z_mean, z_std, total[:, 0].sum() * config.hop_length / config.sample_rate)
    return np.concatenate([offsets, extra], axis=0)


def unpack_voiceprint(voiceprint: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(offsets (C, D), z_mean, z_std) of a speaker_voiceprint."""
    v = np.asarray(voiceprint, dtype=np.float32)
    return v[:-1], float(v[-1, 0]), float(v[-1, 1])


def enrolled_seconds(voiceprint: np.ndarray) -> float:
    """Seconds of speech a speaker_voiceprint was made from."""
    return float(np.asarray(voiceprint, dtype=np.float32)[-1, 2])
