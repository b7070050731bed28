"""Identification error rate with pyannote.metrics' IdentificationErrorRate (the field's reference code).

IER = (confusion + missed speech + false alarm) / total reference speech. Around every reference boundary a
forgiveness collar is excluded from scoring; as in pyannote, `collar` is the collar's full width (collar / 2
on each side). Overlapped speech is scored (skip_overlap=False). Needs the `evaluate` extra
(pip install -e '.[evaluate]').

Segments are (label, start, end) tuples in seconds. Usable as a library
(`from ier import identification_error_rate, read_rttm`, with scripts/ on sys.path) or as a script:
    python scripts/ier.py REFERENCE.rttm HYPOTHESIS.rttm
"""

from __future__ import annotations

import sys
import warnings
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


def annotation(segments: Iterable[tuple[str, float, float]]):
    """A pyannote.core.Annotation of (label, start, end) segments (zero-length ones dropped)."""
    from pyannote.core import Annotation, Segment
    out = Annotation()
    for i, (label, start, end) in enumerate(segments):
        if float(end) > float(start):
            out[Segment(float(start), float(end)), i] = str(label)
    return out


def identification_error_rate(reference: Iterable[tuple[str, float, float]],
                              hypothesis: Iterable[tuple[str, float, float]],
                              collar: float = 0.25) -> dict[str, float]:
    """Return dict(confusion, missed, false_alarm, total, ier); durations in seconds."""
    from pyannote.metrics.identification import IdentificationErrorRate
    metric = IdentificationErrorRate(collar=collar, skip_overlap=False)
    with warnings.catch_warnings():      # "uem approximated by the extents": that is the intended scope
        warnings.simplefilter("ignore", UserWarning)
        d = metric(annotation(reference), annotation(hypothesis), detailed=True)
    res = {"confusion": float(d["confusion"]), "missed": float(d["missed detection"]),
           "false_alarm": float(d["false alarm"]), "total": float(d["total"])}
    err = res["confusion"] + res["missed"] + res["false_alarm"]
    res["ier"] = err / res["total"] if res["total"] > 0 else (0.0 if err == 0 else float("inf"))
    return res


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python scripts/ier.py REFERENCE.rttm HYPOTHESIS.rttm")
    r = identification_error_rate(read_rttm(sys.argv[1]), read_rttm(sys.argv[2]))
    print(" ".join(f"{k}={v:.3f}" for k, v in r.items()))
