"""scripts/ier.py on small hand-made cases (collar = full width, half on each side, as pyannote)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))

from ier import identification_error_rate, read_rttm  # noqa: E402


def test_perfect_hypothesis_is_zero():
    ref = [("a", 0.0, 2.0), ("b", 3.0, 5.0)]
    r = identification_error_rate(ref, list(ref))
    assert r["ier"] == 0.0 and r["total"] == pytest.approx(4.0 - 4 * 0.125)


def test_confusion_missed_false_alarm_without_collar():
    ref = [("a", 0.0, 4.0), ("b", 4.0, 6.0)]
    hyp = [("a", 0.0, 2.0), ("b", 2.0, 4.0), ("b", 5.0, 8.0)]
    r = identification_error_rate(ref, hyp, collar=0.0)
    assert r["confusion"] == pytest.approx(2.0)      # 2-4 labelled b, is a
    assert r["missed"] == pytest.approx(1.0)         # 4-5 nothing
    assert r["false_alarm"] == pytest.approx(2.0)    # 6-8 b where nobody speaks
    assert r["total"] == pytest.approx(6.0)
    assert r["ier"] == pytest.approx(5.0 / 6.0)


def test_collar_forgives_boundary_errors():
    ref = [("a", 1.0, 3.0)]
    hyp = [("a", 1.1, 2.9)]                          # 0.1 s short at both ends
    assert identification_error_rate(ref, hyp, collar=0.0)["missed"] == pytest.approx(0.2)
    r = identification_error_rate(ref, hyp, collar=0.25)
    assert r["ier"] == 0.0 and r["total"] == pytest.approx(2.0 - 0.25)


def test_overlap_counts_each_speaker():
    ref = [("a", 0.0, 2.0), ("b", 1.0, 2.0)]
    hyp = [("a", 0.0, 2.0)]
    r = identification_error_rate(ref, hyp, collar=0.0)
    assert r["total"] == pytest.approx(3.0) and r["missed"] == pytest.approx(1.0)
    assert r["confusion"] == 0.0


def test_unknown_is_an_ordinary_label_and_empty_inputs():
    ref = [("unknown", 0.0, 1.0)]
    assert identification_error_rate(ref, [("a", 0.0, 1.0)], collar=0)["confusion"] == pytest.approx(1.0)
    assert identification_error_rate([], [])["ier"] == 0.0
    assert identification_error_rate(ref, [], collar=0)["ier"] == pytest.approx(1.0)


def test_read_rttm(tmp_path):
    p = tmp_path / "x.rttm"
    p.write_text("SPEAKER x 1 0.500 1.250 <NA> <NA> spk1 <NA> <NA>\n"
                 "SPEAKER x 1 2.000 0.500 <NA> <NA> unknown <NA> <NA>\n")
    assert read_rttm(str(p)) == [("spk1", 0.5, 1.75), ("unknown", 2.0, 2.5)]
