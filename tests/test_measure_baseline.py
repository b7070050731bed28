"""The measuring scripts' own logic on hand-made inputs: how the deep-encoder baseline maps frames to windows and
labels them (scripts/deep_encoder.py: nearest_window, DeepEncoderPipeline.label; no torch needed) and how made-up
conversations are scored and noise is added (scripts/pipeline_eval.py: report_synthetic, with_noise)."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))

from deep_encoder import DeepEncoderPipeline, nearest_window  # noqa: E402
from ier import identification_error_rate  # noqa: E402
from pipeline_eval import report_synthetic, speech_power, with_noise  # noqa: E402


def _unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_a_frame_takes_the_window_centred_nearest_to_it_within_its_region():
    # windows centred at 50 and 150 samples; the last runs past the 300-sample region (padded), so its centre
    # within the region is 250, not 300; frames of 50 samples are centred at 25, 75, ..., 275; ties go earlier
    slices = [slice(0, 100), slice(100, 200), slice(200, 400)]
    assert nearest_window(6, slices, 300, frame=50).tolist() == [0, 0, 1, 1, 2, 2]
    # a region shorter than one window: its one zero-padded window judges every frame
    assert nearest_window(50, [slice(0, 25600)], 8000).tolist() == [0] * 50


def test_frames_go_to_the_closest_voice_at_or_above_the_threshold_and_silence_to_nobody():
    alice, bob = _unit([1, 0, 0]), _unit([0, 1, 0])
    near_alice, between = _unit([1, 0.2, 0]), _unit([1, 1, 0.5])        # cosine 0.98 to alice; 0.67 to both
    speech = np.array([True] * 3 + [False] * 2 + [True] * 4)
    dvectors = np.stack([near_alice] * 3 + [np.zeros(3)] * 2 + [bob] * 2 + [between] * 2)
    labels = DeepEncoderPipeline.label((speech, dvectors), {"alice": alice, "bob": bob}, 0.7)
    assert labels == [("alice", 0.0, 0.03), ("bob", 0.05, 0.07), ("unknown", 0.07, 0.09)]
    lower = DeepEncoderPipeline.label((speech, dvectors), {"alice": alice, "bob": bob}, 0.6)
    assert lower[-1] == ("alice", 0.07, 0.09)                          # a tie goes to the first name
    exact = DeepEncoderPipeline.label((np.ones(1, bool), alice[None]), {"alice": alice}, 1.0)
    assert exact == [("alice", 0.0, 0.01)]                             # a similarity equal to the threshold counts


def test_made_up_conversations_count_sandwiched_turns_and_strangers(capsys):
    ref = [("alice", 0.0, 2.0), ("bob", 2.5, 3.0), ("alice", 3.5, 5.0), ("unknown", 5.5, 7.5)]
    trial = {"x": np.zeros(8 * 16000, np.float32), "ref": ref, "requested": ["alice", "bob"],
             "stranger": "carol", "others": []}
    hyp = [("alice", 0.0, 2.7), ("bob", 2.7, 3.0), ("alice", 3.5, 5.0), ("alice", 5.5, 6.5), ("unknown", 6.5, 7.5)]
    plain = {"x": trial["x"], "ref": ref[:3], "requested": ["alice", "bob"], "stranger": None, "others": []}
    out = report_synthetic([trial, plain], lambda t: hyp if t["stranger"] else hyp[:3])
    assert abs(out["sandwiched_to_neighbour"] - 0.4) < 1e-9            # 0.2 s of bob's 0.5 s reply, twice
    assert abs(out["strangers_unknown"] - 0.5) < 1e-9                  # 0.875 of carol's 1.75 s (after the collar)
    whole = identification_error_rate(ref + [(lab, s + 10, e + 10) for lab, s, e in ref[:3]],
                                      hyp + [(lab, s + 10, e + 10) for lab, s, e in hyp[:3]])
    assert abs(out["ier"] - whole["ier"]) < 1e-9 and out["ier"] > 0     # summed over trials, as one recording
    assert f"IER {out['ier']:.3f}" in capsys.readouterr().out
    alone = report_synthetic([plain], lambda t: hyp[:3])
    assert alone["strangers_unknown"] is None and "no stranger" in capsys.readouterr().out


def test_noise_is_added_at_the_asked_snr_below_the_speech_and_brown_noise_is_low_pitched():
    # "speech": 1 s of a 300 Hz tone at 0.1 amplitude, then 2 s of silence; its power is the tone's (0.005)
    t = np.arange(16000) / 16000
    x = np.concatenate([0.1 * np.sin(2 * np.pi * 300 * t), np.zeros(32000)]).astype(np.float32)
    assert abs(speech_power(x) - 0.005) < 1e-4
    for colour in ("white", "brown"):
        noisy = with_noise(x, 20.0, colour)
        noise = (noisy - x).astype(np.float64)
        assert noisy.dtype == np.float32 and len(noisy) == len(x)
        assert abs(10 * np.log10(0.005 / np.mean(noise ** 2)) - 20.0) < 0.1
        assert np.array_equal(noisy, with_noise(x, 20.0, colour))          # seeded: the same every run
        spectrum = np.abs(np.fft.rfft(noise)) ** 2
        below_500_hz = spectrum[:len(spectrum) * 500 // 8000].sum() / spectrum.sum()
        if colour == "white":
            assert 0.04 < below_500_hz < 0.09                              # flat: 500 / 8000 of the power
        else:
            assert below_500_hz > 0.5                                      # most of it low, like rumble
            thirds = np.mean(noise.reshape(3, -1) ** 2, axis=1)            # as loud at the ends as in the middle
            assert thirds.max() < 1.5 * thirds.min(), thirds
