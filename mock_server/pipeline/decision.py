"""Speaker decisions, one per turn: who (if anyone) of the requested speakers speaks in each turn.

1. A turn is a stretch of speech with no pause (a speech region, speech.py) and no change of voice inside
   (voice_changes: the only cut when one speaker is asked about), nor where the speaking voice among the requested
   ones changes (requested_voice_changes: Viterbi with a price per change, lower at a short pause). Every turn
   is decided on its own from all of its frames, however short: a 0.4 s answer between two turns of another voice
   is judged, not absorbed into its neighbours, also when the pauses around it are short enough to be bridged.
2. decide_turns: each turn goes to the requested speaker with the highest S-norm score (ubm.py) if that
   score reaches config.accept_threshold, else to nobody (UNKNOWN). S-norm scores are measured against
   fixed background voices, so the same threshold means the same for every voice and channel, and no other
   voice of the account can veto a requested one (Kenny 2010; the prototype in
   ../shared/notes/listening-prototype.md: competing against the account's voices did not help).
The former leftover-voice step (unknown speech named as the one thinly enrolled requested speaker not found)
is gone: measured on both halves of a speaker split of the dev set it changed nothing, and by construction it
names strangers after absent speakers.
"""

from __future__ import annotations

import numpy as np

UNKNOWN = -1


def decide_turns(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Per turn, the requested speaker with the best normalised score, or UNKNOWN below threshold.

    scores: (n_turns, n_requested) S-norm scores (dimensionless); returns (n_turns,) int64.
    """
    if scores.size == 0:
        return np.full(len(scores), UNKNOWN, dtype=np.int64)
    best = np.argmax(scores, axis=1)
    ok = scores[np.arange(len(scores)), best] >= threshold
    return np.where(ok, best, UNKNOWN).astype(np.int64)


def enrollment_shift(enrolled_seconds: np.ndarray, threshold: float, full_seconds: float) -> np.ndarray:
    """What to add to each speaker's S-norm scores for how little speech it was enrolled from, shape (S,).

    enrolled_seconds: (S,) seconds of speech behind each voiceprint; threshold: the accept threshold; full_seconds:
    the enrollment from which no shift applies (0 = never). A voice enrolled from a few seconds is a noisier
    model: background voices' scores against it are normalised by Z-norm, but its own speech scores lower in those
    units, so with one threshold it is missed more often the less it was enrolled from. Its scores are raised by
    threshold * (1 - sqrt(T / full_seconds)) for T < full_seconds: a duration-dependent calibration in the manner
    of quality measure functions (Mandasari et al. 2013, "Quality measure functions for calibration of speaker
    recognition systems in various duration conditions", IEEE TASLP 21(11)). Returns float32.
    """
    secs = np.asarray(enrolled_seconds, dtype=np.float64)
    if full_seconds <= 0:
        return np.zeros(len(secs), dtype=np.float32)
    return (threshold * (1.0 - np.sqrt(np.clip(secs / full_seconds, 0.0, 1.0)))).astype(np.float32)


def noise_shift(speech_to_noise_db: float, max_shift: float, from_db: float, full_db: float) -> float:
    """What to add to every S-norm score of a recording for its noise: 0 when its speech stands from_db or more
    above the noise of its pauses (dB, speech.speech_to_noise; inf: no noise measured), rising linearly to
    max_shift at full_db and below; 0 when max_shift is 0 or the measure is NaN.

    Noise the enrollments did not have lowers the right voice's score more than a wrong one's: the voices keep
    their order, but the best one falls below the accept threshold and the speech comes out unknown. A quality
    measure of the test recording (here its SNR) moves the scores back, as in quality-measure-based calibration
    with a noise dependency (Mandasari, Saeidi & van Leeuwen 2015, "Quality measures based calibration with
    duration and noise dependency for speaker recognition", Speech Communication 72). Returns a float.
    """
    if max_shift <= 0 or from_db <= full_db or not speech_to_noise_db < from_db:   # NaN: not below either
        return 0.0
    return float(max_shift * min(1.0, (from_db - speech_to_noise_db) / (from_db - full_db)))


def voice_changes(loglik: np.ndarray, width: int, factor: float, *, block: int = 4096) -> np.ndarray:
    """Index of the stretch of unchanged voice each row lies in, shape (n,) int64.

    Every row of loglik (n, n_models) is a frame's fit to every enrolled voice; minus its mean
    across voices it is a profile of *which* voices the frame resembles, which stays put while one
    person talks and jumps when another takes over, whether or not the best requested voice changes.
    The change score at row t is the RMS difference between the mean profiles of the `width` rows
    before and after t; a new stretch starts at every local maximum (over +-width rows) of the score
    that exceeds `factor` times the recording's median score. Judged against this recording's own
    median, the rule calibrates itself to the channel and the number of enrolled voices.
    """
    n = len(loglik)
    out = np.zeros(n, dtype=np.int64)
    if factor <= 0 or width < 1 or n < 2 * width + 1 or loglik.shape[1] < 2:
        return out
    cs = np.cumsum(np.pad(loglik.astype(np.float64), ((1, 0), (0, 0))), axis=0)   # (n + 1, n_models)
    score = np.zeros(n)
    for s in range(width, n - width + 1, block):                  # block-wise: memory O(block * n_models)
        t = np.arange(s, min(s + block, n - width + 1))
        diff = (2 * cs[t] - cs[t - width] - cs[t + width]) / width   # mean before minus mean after
        diff -= diff.mean(axis=1, keepdims=True)                   # profile: relative to the mean voice
        score[t] = np.sqrt((diff ** 2).mean(axis=1))
    pad = np.pad(score, width)
    local_max = np.lib.stride_tricks.sliding_window_view(pad, 2 * width + 1).max(axis=1)
    cut = (score >= local_max) & (score > factor * np.median(score[width:n - width + 1]))
    out[np.flatnonzero(cut)] = 1
    return np.cumsum(out)




# Blocks either side of a bridged pause where a change of voice costs pause_switch_cost: the label window
# (+-label_window / 2) blurs where the voices change, up to about that far from the pause.
PAUSE_TOLERANCE_BLOCKS = 2


# Up to this many labels a Viterbi step on Python floats is faster than one on numpy arrays (numpy's per-call
# overhead against Python's per-label work: 5x faster with 2 labels, 3x with 3, even at ~20, 2x slower at 100)
LIST_VITERBI_MAX_LABELS = 16


def viterbi(emission: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """The label sequence that maximises the sum of emission[t, label_t] minus cost[t] at every t where the label
    differs from the one at t - 1 (a change of speaker with a price, as in HMM resegmentation); emission (T, S)
    and cost (T,) in the same units, T >= 1. Ties keep the current label (and go to the lowest index, as
    np.argmax). Returns (T,) int64. Two implementations of the same float64 arithmetic, the same labels: one on
    Python floats for a few labels (the usual case: the speakers asked about), one on numpy arrays for many."""
    if emission.shape[1] > LIST_VITERBI_MAX_LABELS:
        return _viterbi_arrays(emission, cost)
    return _viterbi_lists(emission, cost)


def _viterbi_lists(emission: np.ndarray, cost: np.ndarray) -> np.ndarray:
    t_len = len(emission)
    em = np.asarray(emission, dtype=np.float64).tolist()
    price = np.asarray(cost, dtype=np.float64).tolist()
    labels = range(emission.shape[1])
    score = em[0]
    stay: list[list[bool]] = [[]] * t_len
    best_before = [0] * t_len
    for t in range(1, t_len):
        best = max(labels, key=score.__getitem__)
        switch = score[best] - price[t]
        stay[t] = [v >= switch for v in score]
        best_before[t] = best
        score = [(v if v >= switch else switch) + e for v, e in zip(score, em[t])]
    label = max(labels, key=score.__getitem__)
    out = [label] * t_len
    for t in range(t_len - 1, 0, -1):
        if not stay[t][label]:
            label = best_before[t]
        out[t - 1] = label
    return np.array(out, dtype=np.int64)


def _viterbi_arrays(emission: np.ndarray, cost: np.ndarray) -> np.ndarray:
    t_len, s = emission.shape
    stay = np.zeros((t_len, s), dtype=bool)
    best_before = np.zeros(t_len, dtype=np.int64)
    score = emission[0].astype(np.float64)
    for t in range(1, t_len):
        best = int(np.argmax(score))
        switch = score[best] - cost[t]
        stay[t] = score >= switch
        best_before[t] = best
        score = np.maximum(score, switch) + emission[t]
    out = np.empty(t_len, dtype=np.int64)
    out[-1] = int(np.argmax(score))
    for t in range(t_len - 1, 0, -1):
        out[t - 1] = out[t] if stay[t, out[t]] else best_before[t]
    return out


def requested_voice_changes(block_llr: np.ndarray, weights: np.ndarray, z: np.ndarray, regions: np.ndarray,
                            half_width: int, switch_cost: float, background: np.ndarray | None = None,
                            tnorm_weight: float = 0.0, paused: np.ndarray | None = None,
                            pause_switch_cost: float | None = None, min_piece: int = 0) -> np.ndarray:
    """Where, inside continuous speech, the speaking voice among several requested ones changes; stretch index
    per block.

    block_llr: (G, S) per-frame LLR of each block against each requested speaker; weights: (G,) frames per block;
    z: (S, 2) the speakers' Z-norm mean and std; regions: (G,) speech region per block; background: (G, K) the
    blocks' per-frame LLR against K background voices. Every block scores every requested speaker over +-half_width
    blocks of its region (scores are linear in the statistics, so a window's score is the frame-weighted mean of
    its blocks'): its Z-norm score plus tnorm_weight times its T-norm score against the background voices over the
    same window (tnorm_weight 1 orders the speakers as S-norm does). The T-norm term measures every speaker on the
    window's own scale: Z-norm alone favours the speaker whose enrollment shares the recording's channel (in a
    meeting, the one with the most enrolled speech).

    Pauses shorter than vad_bridge make continuous speech of an answer and the turns around it, so a piece of
    min_piece blocks (0: off) up to the window's length between two bridged pauses (paused: (G,) bool, a block
    holding one) is scored on its own frames instead.

    Each region is then labelled by Viterbi (`viterbi`): a block's evidence for a speaker is its window score times
    its frames, and a change of speaker costs switch_cost (score x frames), or pause_switch_cost within
    PAUSE_TOLERANCE_BLOCKS of a bridged pause. Another voice takes over where its lead, summed over its frames, pays
    for the change (twice for a turn inside someone else's: in and out), which is cheaper at a pause, where turns
    change hands. This replaces a hard minimum turn length, which gave a 0.4 s answer between two turns of another
    voice to that voice. A new stretch starts wherever the region or the label changes. Returns (G,) int64,
    non-decreasing.
    """
    g, s = block_llr.shape
    if g == 0 or s < 2:
        return np.zeros(g, dtype=np.int64)
    w = np.asarray(weights, dtype=np.float64)
    cs_w = np.concatenate([[0.0], np.cumsum(w)])
    cs_s = np.concatenate([np.zeros((1, s)), np.cumsum(block_llr * w[:, None], axis=0)])
    first = np.flatnonzero(np.diff(np.concatenate([[-1], regions])) != 0)
    last = np.append(first[1:], g)                                   # region bounds, per region
    reg_index = np.cumsum(np.diff(np.concatenate([[-1], regions])) != 0) - 1
    cs_b = None
    if background is not None and tnorm_weight > 0 and background.shape[1] > 1:
        cs_b = np.concatenate([np.zeros((1, background.shape[1])), np.cumsum(background * w[:, None], axis=0)])

    def scores_over(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Every requested speaker's score over blocks [lo, hi) (index arrays of equal shape), (n, S)."""
        mean = (cs_s[hi] - cs_s[lo]) / np.maximum(cs_w[hi] - cs_w[lo], 1e-6)[:, None]
        score = (mean - z[:, 0]) / z[:, 1]
        if cs_b is not None:
            window = (cs_b[hi] - cs_b[lo]) / np.maximum(cs_w[hi] - cs_w[lo], 1e-6)[:, None]      # (n, K)
            t_std = np.maximum(window.std(axis=1, keepdims=True), 1e-3)
            score += tnorm_weight * (mean - window.mean(axis=1, keepdims=True)) / t_std
        return score

    i = np.arange(g)
    score = scores_over(np.maximum(i - half_width, first[reg_index]), np.minimum(i + half_width + 1, last[reg_index]))
    if paused is not None and min_piece > 0:
        # a piece of speech between two bridged pauses, shorter than the window, is scored on its own frames: the
        # window around a 0.4 s answer holds more of its neighbours' voice than of its own. Only between two bridged
        # pauses (speech on both sides): a piece at the edge of a region is not a reply inside someone's turn, and
        # scoring those alone cost the dev set's half A (voices 0.080 -> 0.086)
        pb = np.asarray(paused, dtype=bool)
        piece = np.where(pb, -1, reg_index * (g + 1) + np.cumsum(pb))
        starts = np.flatnonzero(np.diff(np.concatenate([[-2], piece])) != 0)
        for a, b in zip(starts, np.append(starts[1:], g)):       # pieces end at a bridged pause or a region's edge
            if (not pb[a] and min_piece <= b - a <= 2 * half_width and a > 0 and pb[a - 1] and b < g and pb[b]
                    and regions[a - 1] == regions[a] == regions[b]):
                score[a:b] = scores_over(np.array([a]), np.array([b]))
    cost = np.full(g, float(switch_cost))
    if paused is not None and pause_switch_cost is not None:
        # a change between blocks t - 1 and t is at a pause held by blocks t - tol .. t + tol - 1 of its region
        tol, cp = PAUSE_TOLERANCE_BLOCKS, np.concatenate([[0], np.cumsum(np.asarray(paused, dtype=np.int64))])
        lo_p, hi_p = np.maximum(i - tol, first[reg_index]), np.minimum(i + tol, last[reg_index])
        cost[cp[hi_p] - cp[lo_p] > 0] = pause_switch_cost
    emission = score * w[:, None]
    out = np.empty(g, dtype=np.int64)
    for a, b in zip(first, last):
        out[a:b] = viterbi(emission[a:b], cost[a:b])
    key = reg_index * (s + 1) + out
    return np.cumsum(np.concatenate([[0], np.diff(key) != 0]))
