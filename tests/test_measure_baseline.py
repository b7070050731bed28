"""The measuring scripts' own logic on hand-made inputs: how the deep-encoder baseline labels frames
(scripts/deep_encoder.py, DeepEncoderPipeline.label, no torch needed) and how made-up conversations are scored
(scripts/pipeline_eval.py, report_synthetic)."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))

from deep_encoder import DeepEncoderPipeline  # noqa: E402
from ier import identification_error_rate  # noqa: E402
from pipeline_eval import report_synthetic  # noqa: E402


def _unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_frames_go_to_the_closest_voice_above_the_threshold_and_silence_to_nobody():
    alice, bob = _unit([1, 0, 0]), _unit([0, 1, 0])
    near_alice, between = _unit([1, 0.2, 0]), _unit([1, 1, 0.5])        # cosine 0.98 to alice; 0.67 to both
    speech = np.array([True] * 3 + [False] * 2 + [True] * 4)
    dvectors = np.stack([near_alice] * 3 + [np.zeros(3)] * 2 + [bob] * 2 + [between] * 2)
    labels = DeepEncoderPipeline.label((speech, dvectors), {"alice": alice, "bob": bob}, 0.7)
    assert labels == [("alice", 0.0, 0.03), ("bob", 0.05, 0.07), ("unknown", 0.07, 0.09)]
    lower = DeepEncoderPipeline.label((speech, dvectors), {"alice": alice, "bob": bob}, 0.6)
    assert lower[-1] == ("alice", 0.07, 0.09)                          # a tie goes to the first name


def test_made_up_conversations_count_sandwiched_turns_and_strangers(capsys):
    ref = [("alice", 0.0, 2.0), ("bob", 2.5, 3.0), ("alice", 3.5, 5.0), ("unknown", 5.5, 7.5)]
    trial = {"x": np.zeros(8 * 16000, np.float32), "ref": ref, "requested": ["alice", "bob"],
             "stranger": "carol", "others": []}
    hyp = [("alice", 0.0, 3.0), ("alice", 3.5, 5.0), ("alice", 5.5, 6.5), ("unknown", 6.5, 7.5)]
    out = report_synthetic([trial], lambda t: hyp)
    assert abs(out["sandwiched_to_neighbour"] - 1.0) < 1e-9            # bob's 0.5 s reply went to alice
    assert abs(out["strangers_unknown"] - 0.5) < 0.1                    # half of carol's speech named alice
    assert out["ier"] == identification_error_rate(ref, hyp)["ier"] > 0
    assert f"IER {out['ier']:.3f}" in capsys.readouterr().out
