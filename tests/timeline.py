"""Compare segment lists on a 10 ms grid, for loose accuracy checks in tests."""
from __future__ import annotations

import numpy as np

STEP = 0.01
TRUTH_UNKNOWN = "unknown"             # the ground truth's label for voices nobody enrolled
API_UNKNOWN = "UserNotIdentified"     # the vendor's (and so the API's) label for the same speech


def labels(segments: list[dict], duration: float) -> np.ndarray:
    grid = np.full(int(np.ceil(duration / STEP)) + 1, "", dtype=object)
    for s in segments:
        grid[int(round(s["start"] / STEP)):int(round(s["end"] / STEP))] = s["speaker_id"]
    return grid


def agreement(truth: list[dict], answer: list[dict], duration: float) -> float:
    """Share of the reference speech time the answer labels with the right speaker (the API's unknown label
    counts as the ground truth's)."""
    ref, hyp = labels(truth, duration), labels(answer, duration)
    hyp[hyp == API_UNKNOWN] = TRUTH_UNKNOWN
    speech = ref != ""
    return float(np.mean(ref[speech] == hyp[speech]))


def check_shape(segments: list[dict], allowed: set[str]) -> None:
    """Segments are sorted, non-overlapping, start < end, 2-decimal floats, speakers among ``allowed``."""
    previous_end = 0.0
    for s in segments:
        assert set(s) == {"speaker_id", "start", "end"}
        assert s["speaker_id"] in allowed
        assert isinstance(s["start"], (int, float)) and isinstance(s["end"], (int, float))
        assert round(s["start"], 2) == s["start"] and round(s["end"], 2) == s["end"]
        assert previous_end <= s["start"] < s["end"]
        previous_end = s["end"]
