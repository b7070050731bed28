"""Speaker decisions, one per turn: who (if anyone) of the requested speakers speaks in each turn.

1. A turn is a stretch of speech with no pause (a speech region, speech.py) and no change of voice inside
   (voice_changes). Every turn is decided on its own from all of its frames, however short: a 0.4 s answer
   between two turns of another voice is judged, not absorbed into its neighbours.
2. decide_turns: each turn goes to the requested speaker with the highest S-norm score (ubm.py) if that
   score reaches config.accept_threshold, else to nobody (UNKNOWN). S-norm scores are measured against
   fixed background voices, so the same threshold means the same for every voice and channel, and no other
   voice of the account can veto a requested one (Kenny 2010; the prototype in
   ../shared/notes/listening-prototype.md: competing against the account's voices did not help).
3. name_leftover_voice (off by default, config.leftover_voice; kept only to measure it): unknown speech
   given to the one requested speaker not found when all others were.
"""

from __future__ import annotations

import numpy as np

UNKNOWN = -1


def runs(labels: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of the runs of equal labels, end exclusive."""
    if len(labels) == 0:
        return []
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(labels)]])
    return [(int(s), int(e)) for s, e in zip(starts, ends)]


def decide_turns(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Per turn, the requested speaker with the best normalised score, or UNKNOWN below threshold.

    scores: (n_turns, n_requested) S-norm scores (dimensionless); returns (n_turns,) int64.
    """
    if scores.size == 0:
        return np.full(len(scores), UNKNOWN, dtype=np.int64)
    best = np.argmax(scores, axis=1)
    ok = scores[np.arange(len(scores)), best] >= threshold
    return np.where(ok, best, UNKNOWN).astype(np.int64)


def name_leftover_voice(labels: np.ndarray, thin: np.ndarray, min_frames: int) -> np.ndarray:
    """Give the unknown frames to the one requested speaker who got none; returns new labels.

    Applies only when at least two speakers were requested, all but exactly one of them hold at least
    min_frames frames (they were found, so the request describes this recording), the missing one's
    voiceprint is thin (thin[i]: fitted on a few seconds of speech), and at least min_frames
    frames are UNKNOWN. A thin voiceprint covers a fraction of a voice, so its failing to match says
    little: a second of enrollment cut from another moment of a meeting often fits the person's own
    speech worse than a neighbour's. A full voiceprint that matches nothing is evidence the speaker is
    absent, so there the unknown voice stays a stranger; so it does when two or more are missing, or
    when one speaker was requested.
    labels: (n,) with requested speakers 0 .. len(thin) - 1 and UNKNOWN.
    """
    n_requested = len(thin)
    if n_requested < 2 or min_frames < 1:
        return labels
    found = np.bincount(labels[labels >= 0], minlength=n_requested)[:n_requested] >= min_frames
    unknown = labels == UNKNOWN
    if np.count_nonzero(~found) != 1 or np.count_nonzero(unknown) < min_frames:
        return labels
    missing = int(np.flatnonzero(~found)[0])
    if not thin[missing]:
        return labels
    out = labels.copy()
    out[unknown] = missing
    return out


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


