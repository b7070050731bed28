"""identify_segments: who speaks when, read top to bottom.

level normalisation (level.py) -> speech regions (speech.py) -> MFCC features (features.py)
-> whitened Baum-Welch statistics of every 0.1 s block of speech through the UBM's top-C Gaussians (ubm.py)
-> turns: speech regions cut where the voice changes (decision.voice_changes on the blocks' scores against the
requested voices and a fixed set of background voices) and where the best requested voice changes inside
continuous speech (decision.requested_voice_changes: Viterbi, a change of voice cheaper at a short pause)
-> one adaptive S-norm score per turn and requested speaker, from all of the turn's frames, calibrated for voices
enrolled from a few seconds (decision.enrollment_shift) and for its recording's noise (decision.noise_shift)
-> best requested speaker above one threshold, else unknown (decision.decide_turns) -> segments (segments.py).

Only the requested voices and the model's fixed background voices are scored, so the cost and the answer do
not depend on how many other voices the account holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from .config import DEFAULT_CONFIG, PipelineConfig
from .decision import UNKNOWN, decide_turns, enrollment_shift, noise_shift, requested_voice_changes, voice_changes
from .segments import Segment, label_runs, to_segments
from .threads import single_threaded_blas
from .ubm import VoiceModel, top_stats, voice_model
from .voiceprint import enrolled_seconds, speech_features_and_pauses, unpack_voiceprint


def _blocks(speech: np.ndarray, block_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """For the speech frames of mask speech (T,): their block index (n_speech,) and the speech region of
    every block (n_blocks,). A block is up to block_frames consecutive frames of one speech region."""
    idx = np.flatnonzero(speech)
    region = np.cumsum(np.diff(np.concatenate([[0], speech.astype(np.int8)])) == 1)[idx] - 1
    first = np.flatnonzero(np.diff(np.concatenate([[-1], region])) != 0)      # first speech frame of each region
    within = np.arange(len(idx)) - first[region]
    key = region * (len(idx) + 1) + within // max(1, block_frames)
    block = np.cumsum(np.concatenate([[0], np.diff(key) != 0]))
    block_region = region[np.flatnonzero(np.diff(np.concatenate([[-1], block])) != 0)]
    return block, block_region


def snorm_scores(model: VoiceModel, offsets: np.ndarray, z: np.ndarray, n: np.ndarray, f: np.ndarray,
                 relevance: float, top: int = 0) -> np.ndarray:
    """S-norm scores (G, S) of frame groups (n (G, C), f (G, C, D)) for speakers offsets (S, C, D) with Z-norm
    statistics z (S, 2): 0.5 * ((s - z_mean) / z_std + (s - t_mean) / t_std), t_* over the background voices
    (the `top` closest to each group when top > 0: adaptive S-norm, ubm.top_stats)."""
    raw = model.llr(offsets, n, f)
    t_mean, t_std = top_stats(model.tnorm_scores(n, f, relevance), top)
    return 0.5 * ((raw - z[:, 0]) / z[:, 1] + (raw - t_mean[:, None]) / t_std[:, None])


def _block_profile(model: VoiceModel, x, idx, post, block, n_blocks: int, offsets: np.ndarray,
                   config: PipelineConfig, chunk: int = 256) -> np.ndarray:
    """Per-frame LLR of every block (n_blocks, S + K) against the requested speakers and the first K background
    voices; block statistics are made `chunk` blocks at a time, so memory stays flat in the recording's length."""
    out = np.zeros((n_blocks, len(offsets) + min(config.change_background_voices, len(model.tnorm_counts))),
                   dtype=np.float32)
    for b0 in range(0, n_blocks, chunk):
        b1 = min(b0 + chunk, n_blocks)
        lo, hi = np.searchsorted(block, [b0, b1])                                  # frames of those blocks
        n_b, f_b = model.accumulate(x[lo:hi], idx[lo:hi], post[lo:hi], block[lo:hi] - b0, b1 - b0)
        out[b0:b1] = np.concatenate([model.llr(offsets, n_b, f_b), model.tnorm_scores(
            n_b, f_b, config.relevance, slice(0, config.change_background_voices))], axis=1)
    return out


def requested_voices(voiceprints: Mapping[str, np.ndarray], names: list[str],
                     config: PipelineConfig = DEFAULT_CONFIG) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What scoring needs of the voiceprints of `names`, in that order: their mean offsets (S, C, D), their Z-norm
    mean and std (S, 2) and what to add to their S-norm scores for short enrollments (S,)
    (decision.enrollment_shift)."""
    unpacked = [unpack_voiceprint(voiceprints[k]) for k in names]
    offsets = np.stack([u[0] for u in unpacked])
    z = np.array([[u[1], u[2]] for u in unpacked], dtype=np.float32)
    shift = enrollment_shift([enrolled_seconds(voiceprints[k]) for k in names], config.accept_threshold,
                             config.full_enroll_seconds)
    return offsets, z, shift


def recording_noise_shift(speech_to_noise_db: float, config: PipelineConfig = DEFAULT_CONFIG) -> float:
    """decision.noise_shift with the config's settings: what identify adds to every score of a recording whose
    speech stands speech_to_noise_db above the noise of its pauses (speech.speech_to_noise)."""
    return noise_shift(speech_to_noise_db, config.max_noise_shift, config.noise_shift_from_db,
                       config.noise_shift_full_db)


def _turn_statistics(model: VoiceModel, x, idx, post, group: np.ndarray, n_groups: int, chunk: int = 8192):
    """Statistics N (n_groups, C), F (n_groups, C, D) of frames x grouped by group (non-decreasing), made `chunk`
    frames at a time: in one piece the posterior-weighted copy of the frames (T * TOP_C, D) is 40 MB for 10
    minutes of speech; statistics add up, so a turn split across chunks gets the same sums."""
    n = np.zeros((n_groups, model.components), dtype=np.float32)
    f = np.zeros((n_groups, model.components, model.dim), dtype=np.float32)
    for lo in range(0, len(x), chunk):
        hi = min(lo + chunk, len(x))
        g0, g1 = int(group[lo]), int(group[hi - 1]) + 1
        n_c, f_c = model.accumulate(x[lo:hi], idx[lo:hi], post[lo:hi], group[lo:hi] - g0, g1 - g0)
        n[g0:g1] += n_c
        f[g0:g1] += f_c
    return n, f


class Identification(NamedTuple):
    """identify's answer."""

    segments: list[Segment]
    noise_shift: float          # what was added to every score for the recording's noise (recording_noise_shift)


def identify_segments(samples: np.ndarray, voiceprints: Mapping[str, np.ndarray], *,
                      config: PipelineConfig = DEFAULT_CONFIG,
                      cohort: Mapping[str, np.ndarray] | None = None,
                      overwrite_samples: bool = False) -> list[Segment]:
    """identify's segments (see there)."""
    return identify(samples, voiceprints, config=config, cohort=cohort, overwrite_samples=overwrite_samples).segments


def identify(samples: np.ndarray, voiceprints: Mapping[str, np.ndarray], *,
             config: PipelineConfig = DEFAULT_CONFIG,
             cohort: Mapping[str, np.ndarray] | None = None,
             overwrite_samples: bool = False) -> Identification:
    """Label the speech of `samples` with the requested speakers or "unknown".

    samples: mono float32 in [-1, 1] at config.sample_rate, any level. voiceprints: speaker id ->
    speaker_voiceprint output (the speakers asked about). cohort: the account's other voices; accepted for
    compatibility and deliberately unused (another voice must not veto a requested one, and the cost must
    not grow with the account). overwrite_samples=True lets the level normalisation work in samples itself
    (float32 only; a caller that no longer needs them saves a copy, 38 MB for 10 minutes). Returns sorted,
    non-overlapping segments in seconds (silence yields no segment and an all-silent recording an empty list), with
    the shift every score got for the recording's noise (Identification). Raises ValueError when voiceprints is
    empty.
    """
    del cohort
    single_threaded_blas()
    c = config
    names = sorted(voiceprints)
    if not names:
        raise ValueError("identify needs at least one speaker voiceprint")
    samples = np.asarray(samples, dtype=np.float32)
    duration = len(samples) / c.sample_rate
    frames_per_s = c.sample_rate / c.hop_length
    feats, speech, pauses, speech_to_noise_db = speech_features_and_pauses(samples, c, overwrite=overwrite_samples)
    if not speech.any():
        return Identification([], 0.0)
    model = voice_model()
    offsets, z, shift = requested_voices(voiceprints, names, c)                     # (S, C, D), (S, 2), (S,)

    block_all, block_region = _blocks(speech, int(round(c.block * frames_per_s)))
    # every frame_decimation-th speech frame carries the statistics: 10 ms frames of 25 ms windows overlap, so
    # their neighbours add little evidence but the same cost
    step = max(1, c.frame_decimation)
    x, block = feats[speech][::step], block_all[::step]
    idx, post = model.top_posteriors(x)                  # the UBM is evaluated once per frame, whatever follows
    n_blocks = len(block_region)

    # turns: a region, cut where the voice changes (profile: fit to the requested and some background voices)
    profile = _block_profile(model, x, idx, post, block, n_blocks, offsets, c)
    width = int(round(c.change_window / c.block))
    stretch = block_region * (n_blocks + 1) + voice_changes(profile, width, c.change_factor)
    if c.label_changes:
        half = int(round(c.label_window / 2 / c.block))
        weights = np.bincount(block, minlength=n_blocks)
        # a block holding a bridged pause (a VAD frame or more of it): where a change of voice is cheaper
        vad_frame = c.vad_frame_ms / 1000 * frames_per_s
        paused = np.bincount(block_all, weights=pauses[speech], minlength=n_blocks) >= vad_frame
        per_s = frames_per_s / step                                    # weights are scored frames
        closed = requested_voice_changes(profile[:, :len(names)], weights, z, block_region, half,
                                         c.label_switch_cost * per_s, profile[:, len(names):],
                                         c.label_tnorm_weight, paused, c.label_pause_switch_cost * per_s,
                                         int(round(c.min_paused_run / c.block)))
        stretch = stretch * (n_blocks + 1) + closed
    turn = np.cumsum(np.concatenate([[0], np.diff(stretch) != 0]))               # (n_blocks,)
    n_u, f_u = _turn_statistics(model, x, idx, post, turn[block], int(turn[-1]) + 1)
    for_noise = recording_noise_shift(speech_to_noise_db, c)
    scores = snorm_scores(model, offsets, z, n_u, f_u, c.relevance, c.snorm_top) + shift + np.float32(for_noise)
    labels_speech = decide_turns(scores, c.accept_threshold)[turn[block_all]]
    labels = np.full(len(feats), UNKNOWN, dtype=np.int64)
    labels[speech] = labels_speech
    return Identification(to_segments(label_runs(labels, speech), names, 1.0 / frames_per_s, c.max_pause, duration,
                                      c.min_segment), for_noise)
