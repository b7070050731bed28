"""From per-frame labels on the speech frames to the API's list of segments."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Segment(NamedTuple):
    speaker_id: str   # a requested speaker id, or "unknown"
    start: float      # seconds from the start of the recording, 2 decimals
    end: float        # seconds, > start


def label_runs(labels: np.ndarray, speech: np.ndarray) -> list[tuple[int, int, int]]:
    """(label, start_frame, end_frame) runs of equal label over speech frames (end exclusive).

    labels: (T,) ints for every frame (ignored where speech is False).
    """
    lab = np.where(speech, labels, np.iinfo(np.int64).min)
    change = np.flatnonzero(np.diff(lab)) + 1
    starts = np.concatenate([[0], change]).astype(np.int64)
    ends = np.concatenate([change, [len(lab)]]).astype(np.int64)
    return [(int(lab[s]), int(s), int(e)) for s, e in zip(starts, ends) if speech[s]]


def _join(runs, frame_s: float, max_pause: float) -> list[list]:
    """Merge consecutive same-label runs closer than max_pause seconds; [label, start, end] lists."""
    merged: list[list] = []
    for lab, s, e in runs:
        if merged and merged[-1][0] == lab and (s - merged[-1][2]) * frame_s < max_pause:
            merged[-1][2] = e
        else:
            merged.append([lab, s, e])
    return merged


def _touching(runs: list[list], i: int) -> bool:
    """Whether run i abuts (no silence between) a neighbouring run of another label."""
    return (i > 0 and runs[i - 1][2] == runs[i][1]) or (i + 1 < len(runs) and runs[i + 1][1] == runs[i][2])


def to_segments(runs: list[tuple[int, int, int]], names: list[str], frame_s: float,
                max_pause: float, duration: float, min_segment: float = 0.0) -> list[Segment]:
    """Join same-speaker runs separated by less than max_pause seconds, fold slivers shorter than
    min_segment seconds into the turn they touch; name and round them."""
    merged = _join(runs, frame_s, max_pause)
    # A sliver of one speaker glued to another speaker's turn is a boundary placed a few frames off
    # (decisions are smoothed over ~1 s), not a turn: give it to the turn it touches.
    while True:
        sliver = next((i for i, (_, s, e) in enumerate(merged)
                       if (e - s) * frame_s < min_segment and _touching(merged, i)), None)
        if sliver is None:
            break
        before = sliver > 0 and merged[sliver - 1][2] == merged[sliver][1]
        merged[sliver][0] = merged[sliver - 1][0] if before else merged[sliver + 1][0]
        merged = _join(merged, frame_s, max_pause)
    out: list[Segment] = []
    for lab, s, e in merged:
        start = round(min(s * frame_s, duration), 2)
        end = round(min(e * frame_s, duration), 2)
        if out and start < out[-1].end:             # rounding must not create overlap
            start = out[-1].end
        if end > start:
            out.append(Segment(names[lab] if lab >= 0 else "unknown", start, end))
    return out
