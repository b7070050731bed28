"""Open-set decision per speech frame, then removal of implausibly short speaker turns.

A frame (already smoothed over ~1.5 s of speech) goes to the requested speaker whose model
explains it best -- but only if that model beats every *other* enrolled voice (the other
requested speakers and the account's cohort) by unknown_threshold nats/frame. A voice
nobody enrolled fits several models about equally badly, so its margin stays small and it
becomes "unknown" (label -1). The margin is a likelihood ratio, so it does not depend on
loudness or channel.
"""

from __future__ import annotations

import numpy as np

from .config import PipelineConfig

UNKNOWN = -1


def open_set_labels(scores: np.ndarray, n_requested: int, config: PipelineConfig) -> np.ndarray:
    """Labels (n,) in 0..n_requested-1 or UNKNOWN from smoothed scores (n, n_models).

    Columns 0..n_requested-1 are the requested speakers, the rest the cohort.
    """
    n, m = scores.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    best = np.argmax(scores[:, :n_requested], axis=1)
    top = scores[np.arange(n), best]
    if m == 1:
        margin = np.full(n, np.inf)
    else:
        others = scores.copy()
        others[np.arange(n), best] = -np.inf
        margin = top - others.max(axis=1)
    return np.where(margin >= config.unknown_threshold, best, UNKNOWN)


def absorb_short_runs(labels: np.ndarray, min_len: int) -> np.ndarray:
    """Relabel runs shorter than min_len with the label of the longer neighbouring run.

    Repeats from the shortest run up, so a flicker inside one turn disappears while two
    real turns keep their boundary. labels: (n,) ints; returns a new array.
    """
    lab = labels.copy()
    while True:
        change = np.flatnonzero(np.diff(lab)) + 1
        starts = np.concatenate([[0], change])
        ends = np.concatenate([change, [len(lab)]])
        if len(starts) <= 1:
            return lab
        lengths = ends - starts
        i = int(np.argmin(lengths))
        if lengths[i] >= min_len:
            return lab
        left = lengths[i - 1] if i > 0 else -1
        right = lengths[i + 1] if i + 1 < len(starts) else -1
        j = i - 1 if left >= right else i + 1
        lab[starts[i]:ends[i]] = lab[starts[j]]
