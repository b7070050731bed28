"""Speaker decisions: closed-set labels per frame, short-turn removal, open-set check per turn.

1. Every speech frame (scores smoothed over ~1.5 s of speech) gets the requested speaker
   whose model explains it best (closed_set_labels); flickers shorter than min_turn are
   absorbed (absorb_short_runs). This yields turns.
2. Each turn is then checked as a whole (open_set_turns): its margin is how many nats/frame
   the chosen model beats the best *other* enrolled voice (other requested speakers and the
   account's cohort). A voice nobody enrolled fits several models about equally badly, so
   its margin is small. "Small" is judged per request: relative to the clearest turn of the
   same speaker in this very recording (rel_margin), with an absolute floor (min_margin) for
   speakers with no clear turn. So the threshold adapts to how distinct the enrolled voices
   are and to the channel, instead of being a constant fitted to one data set.
   A turn ends at a pause (new speech region) and also where the voice changes without a pause
   (voice_changes), so a stranger who talks on right after an enrolled speaker is judged apart.
3. When every requested speaker but one has been found, the missing one was enrolled from a few
   seconds of speech only (config.thin_enrollment), and unknown speech remains, that speech is
   named as the missing speaker (name_leftover_voice): the caller asked about that speaker, and a
   thin enrollment that fails to match (meetings) is the likelier story than an absent speaker.
"""

from __future__ import annotations

import numpy as np

from .config import PipelineConfig

UNKNOWN = -1


def closed_set_labels(scores: np.ndarray, n_requested: int) -> np.ndarray:
    """Best requested speaker per row of scores (n, n_models); columns < n_requested are requested."""
    if len(scores) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.argmax(scores[:, :n_requested], axis=1).astype(np.int64)


def runs(labels: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of the runs of equal labels, end exclusive."""
    if len(labels) == 0:
        return []
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(labels)]])
    return [(int(s), int(e)) for s, e in zip(starts, ends)]


def turn_margins(labels: np.ndarray, loglik: np.ndarray, regions: np.ndarray) -> list[tuple[int, int, float, int]]:
    """(start, end, margin, weight) per turn; margin = mean log-lik of the turn's speaker minus
    that of the best other model, in nats/frame. loglik: (n, n_models) unsmoothed.

    A turn is a run of one label inside one speech region (regions: (n,) region index), so a
    stranger who talks after a pause is judged apart from the enrolled voice before the pause
    even when both got the same closed-set label.
    """
    out = []
    for s, e in runs(labels * (int(regions.max(initial=0)) + 1) + regions):
        lab = int(labels[s])
        mean = loglik[s:e].mean(axis=0)
        others = np.delete(mean, lab)
        out.append((s, e, float(mean[lab] - others.max()) if len(others) else float("inf"), e - s))
    return out


def open_set_turns(labels: np.ndarray, loglik: np.ndarray, regions: np.ndarray,
                   config: PipelineConfig) -> np.ndarray:
    """Relabel as UNKNOWN the turns whose margin is too small (see module doc). Returns new labels.

    labels: (n,) closed-set labels of the scored frames; loglik: (n, n_models) unsmoothed;
    regions: (n,) index of the speech region each frame lies in.
    """
    out = labels.copy()
    turns = turn_margins(labels, loglik, regions)
    best: dict[int, float] = {}
    for s, e, m, w in turns:                                   # clearest turn per speaker
        if w >= config.min_reference_turn * config.frames_per_second_scored:
            best[int(labels[s])] = max(best.get(int(labels[s]), -np.inf), m)
    for s, e, m, w in turns:
        ref = best.get(int(labels[s]), m)
        if m < max(config.min_margin, config.rel_margin * ref):
            out[s:e] = UNKNOWN
    return out


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


def absorb_short_runs(labels: np.ndarray, min_len: int) -> np.ndarray:
    """Relabel runs shorter than min_len with the label of the longer neighbouring run.

    Repeats from the shortest run up, so a flicker inside one turn disappears while two
    real turns keep their boundary. labels: (n,) ints; returns a new array.
    """
    lab = labels.copy()
    while True:
        bounds = runs(lab)
        if len(bounds) <= 1:
            return lab
        lengths = np.array([e - s for s, e in bounds])
        i = int(np.argmin(lengths))
        if lengths[i] >= min_len:
            return lab
        left = lengths[i - 1] if i > 0 else -1
        right = lengths[i + 1] if i + 1 < len(bounds) else -1
        j = i - 1 if left >= right else i + 1
        lab[bounds[i][0]:bounds[i][1]] = lab[bounds[j][0]]
