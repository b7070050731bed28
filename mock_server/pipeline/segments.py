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


def to_segments(runs: list[tuple[int, int, int]], names: list[str], frame_s: float,
                max_pause: float, duration: float) -> list[Segment]:
    """Join same-speaker runs separated by less than max_pause seconds; name and round them."""
    merged: list[list] = []
    for lab, s, e in runs:
        if merged and merged[-1][0] == lab and (s - merged[-1][2]) * frame_s < max_pause:
            merged[-1][2] = e
        else:
            merged.append([lab, s, e])
    out: list[Segment] = []
    for lab, s, e in merged:
        start = round(min(s * frame_s, duration), 2)
        end = round(min(e * frame_s, duration), 2)
        if out and start < out[-1].end:             # rounding must not create overlap
            start = out[-1].end
        if end > start:
            out.append(Segment(names[lab] if lab >= 0 else "unknown", start, end))
    return out
