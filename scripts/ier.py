"""Identification error rate, as pyannote.metrics.IdentificationErrorRate (dependency-free).

IER = (confusion + missed speech + false alarm) / total reference speech, where on every
elementary interval with n_ref reference and n_hyp hypothesis labels of which n_ok agree:
    confusion   = min(n_ref, n_hyp) - n_ok
    missed      = max(0, n_ref - n_hyp)
    false alarm = max(0, n_hyp - n_ref)
    total       = n_ref            (overlapped speech counts once per speaker)
Around every reference boundary a forgiveness collar is excluded from scoring. Like
pyannote, `collar` is the collar's full width: collar / 2 is removed on each side.

Segments are (label, start, end) tuples in seconds. Usable as a library
(`from scripts.ier import identification_error_rate, read_rttm`) or as a script:
    python scripts/ier.py REFERENCE.rttm HYPOTHESIS.rttm
"""

from __future__ import annotations

import sys
from collections.abc import Iterable


def read_rttm(path: str) -> list[tuple[str, float, float]]:
    """(label, start, end) of the SPEAKER lines of an RTTM file, in file order."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 8 and parts[0] == "SPEAKER":
                start, dur = float(parts[3]), float(parts[4])
                out.append((parts[7], start, start + dur))
    return out


def _collar_zones(reference, collar: float) -> list[tuple[float, float]]:
    half = collar / 2.0
    if half <= 0:
        return []
    zones = sorted((b - half, b + half) for _, s, e in reference for b in (s, e))
    merged: list[list[float]] = []
    for s, e in zones:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def _labels_at(segments, t: float) -> list[str]:
    return [lab for lab, s, e in segments if s <= t < e]


def identification_error_rate(reference: Iterable[tuple[str, float, float]],
                              hypothesis: Iterable[tuple[str, float, float]],
                              collar: float = 0.25) -> dict[str, float]:
    """Return dict(confusion, missed, false_alarm, total, ier); durations in seconds."""
    ref = [(str(l), float(s), float(e)) for l, s, e in reference if float(e) > float(s)]
    hyp = [(str(l), float(s), float(e)) for l, s, e in hypothesis if float(e) > float(s)]
    zones = _collar_zones(ref, collar)
    bounds = sorted({t for _, s, e in ref + hyp for t in (s, e)} | {t for z in zones for t in z})
    res = {"confusion": 0.0, "missed": 0.0, "false_alarm": 0.0, "total": 0.0}
    for a, b in zip(bounds[:-1], bounds[1:]):
        mid = (a + b) / 2.0
        if any(s <= mid < e for s, e in zones):
            continue
        r, h = _labels_at(ref, mid), _labels_at(hyp, mid)
        if not r and not h:
            continue
        d = b - a
        n_ok = sum(min(r.count(lab), h.count(lab)) for lab in set(r))
        res["confusion"] += d * (min(len(r), len(h)) - n_ok)
        res["missed"] += d * max(0, len(r) - len(h))
        res["false_alarm"] += d * max(0, len(h) - len(r))
        res["total"] += d * len(r)
    err = res["confusion"] + res["missed"] + res["false_alarm"]
    res["ier"] = err / res["total"] if res["total"] > 0 else (0.0 if err == 0 else float("inf"))
    return res


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python scripts/ier.py REFERENCE.rttm HYPOTHESIS.rttm")
    r = identification_error_rate(read_rttm(sys.argv[1]), read_rttm(sys.argv[2]))
    print(" ".join(f"{k}={v:.3f}" for k, v in r.items()))
