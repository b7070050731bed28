"""Stage tests of mock_server.pipeline on the espeak-ng fixtures (fixtures/voices.json).

speech found where it is and not in silence; the same voice scores above another;
NoSpeechError on silence; determinism; the pipeline imports without librosa.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import fixture_samples
from mock_server.pipeline import (DEFAULT_CONFIG, NoSpeechError, enrollment_voiceprint, identify_segments,
                                  speaker_voiceprint, speech_regions)
from mock_server.pipeline.voiceprint import gmm_loglik

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_speech_found_where_it_is_and_not_in_silence(voices):
    test = voices["tests"]["conversation"]
    x = fixture_samples(test["file"])
    regions = speech_regions(x)
    assert regions and all(s < e for s, e in regions)
    assert all(e1 <= s2 for (_, e1), (s2, _) in zip(regions, regions[1:]))
    speech = np.zeros(int(len(x) / 160), bool)
    for s, e in regions:
        speech[int(s * 100):int(e * 100)] = True
    truth = np.zeros_like(speech)
    for seg in test["segments"]:
        truth[int(seg["start"] * 100):int(seg["end"] * 100)] = True
    assert (speech & truth).sum() / truth.sum() > 0.9          # speech is found
    assert (speech & ~truth).sum() / (~truth).sum() < 0.35     # silence mostly left out
    assert speech[:80].sum() == 0                               # the leading second of silence
    assert speech_regions(fixture_samples("silence.wav")) == []


def test_enrollment_of_silence_raises_no_speech():
    with pytest.raises(NoSpeechError, match="speech"):
        enrollment_voiceprint(fixture_samples("silence.wav"))
    with pytest.raises(NoSpeechError):
        enrollment_voiceprint(np.zeros(16000 * 2, np.float32))


def test_same_voice_scores_above_another(voices):
    vps = {}
    for spk in ("alice", "bob", "carol", "dave"):
        vps[spk] = speaker_voiceprint([enrollment_voiceprint(fixture_samples(f"speakers/{spk}/enroll{i}.wav")) for i in (1, 2)])
    for spk in vps:                                   # held-out third enrollment of each voice
        frames = enrollment_voiceprint(fixture_samples(f"speakers/{spk}/enroll3.wav"))
        scores = {other: gmm_loglik(frames, vp).mean() for other, vp in vps.items()}
        assert max(scores, key=scores.get) == spk, scores


def test_voiceprints_are_deterministic_and_typed():
    x = fixture_samples("speakers/bob/enroll1.wav")
    a, b = enrollment_voiceprint(x), enrollment_voiceprint(x.copy())
    assert a.dtype == np.float32 and a.ndim == 2 and a.tobytes() == b.tobytes()
    va, vb = speaker_voiceprint([a]), speaker_voiceprint([b])
    assert va.dtype == np.float32 and va.tobytes() == vb.tobytes()
    assert speaker_voiceprint([a, a]).shape[1] == va.shape[1]


def test_import_is_free_of_librosa():
    # How fast the import is (< 1 s) is a target of scripts/bench.py, not a unit test's.
    code = ("import sys; import mock_server.pipeline; "
            "print([m for m in sys.modules if m.split('.')[0] in ('librosa', 'numba', 'scipy')])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert DEFAULT_CONFIG.sample_rate == 16000


def _identify_peak_mb(x, vps):
    import tracemalloc
    tracemalloc.start()
    try:
        segments = identify_segments(x, vps)
        return tracemalloc.get_traced_memory()[1] / 1e6, segments
    finally:
        tracemalloc.stop()


def test_identify_memory_is_flat_in_the_length(voices):
    """Features, VAD and scores are computed block by block: a 10x longer clip must not
    cost ~10x the memory (the 10-minute request once peaked at +280 MB inside identify)."""
    vps = {s: speaker_voiceprint([enrollment_voiceprint(fixture_samples(f"speakers/{s}/enroll{i}.wav")) for i in (1, 2)])
           for s in ("alice", "bob")}
    one = fixture_samples(voices["tests"]["conversation"]["file"])
    short = np.tile(one, int(np.ceil(30 * 16000 / len(one))))[:30 * 16000]
    long = np.tile(short, 10)                                    # 300 s
    peak_short, seg_short = _identify_peak_mb(short, vps)
    peak_long, seg_long = _identify_peak_mb(long, vps)
    assert seg_short and len(seg_long) > len(seg_short)
    # what must grow: the per-frame features and scores (~40 floats per 10 ms frame)
    assert peak_long < peak_short + 15 + 300 * 100 * 40 * 4 / 1e6, (peak_short, peak_long)
    assert peak_long < 2 * long.nbytes / 1e6, (peak_short, peak_long)


def test_slivers_touching_another_turn_are_folded_into_it():
    from mock_server.pipeline.segments import to_segments
    # frames of 10 ms: alice 0-100, a 5-frame "carol" sliver glued to alice's next turn, silence, alice again
    runs = [(0, 0, 100), (2, 150, 155), (0, 155, 300), (1, 400, 410)]
    segments = to_segments(runs, ["alice", "bob", "carol"], 0.01, 0.6, 10.0, min_segment=0.3)
    assert [(s.speaker_id, s.start, s.end) for s in segments] == [("alice", 0.0, 3.0), ("bob", 4.0, 4.1)]


def test_voice_changes_cut_where_the_profile_jumps_and_nowhere_else():
    from mock_server.pipeline.decision import voice_changes
    rng = np.random.default_rng(0)
    n, width = 600, 50
    ll = rng.normal(0.0, 3.0, (n, 8)).astype(np.float32)       # frame-level noise of 8 enrolled voices
    ll[:, :] += rng.normal(0.0, 5.0, (n, 1)).astype(np.float32)  # loudness-like term common to all voices
    steady = voice_changes(ll, width, 3.0)
    assert steady.max() == 0                                     # one voice throughout: no cut
    ll[350:, 0] -= 4.0                                           # another voice from row 350 on
    ll[350:, 2] += 4.0
    stretch = voice_changes(ll, width, 3.0)
    cuts = np.flatnonzero(np.diff(stretch)) + 1
    assert len(cuts) == 1 and abs(int(cuts[0]) - 350) <= 5, cuts
    assert voice_changes(ll, width, 0.0).max() == 0              # factor 0 switches it off
    assert voice_changes(ll[:80], width, 3.0).max() == 0         # too short to compare two windows


def test_leftover_voice_goes_only_to_the_one_missing_thin_voiceprint():
    from mock_server.pipeline.decision import UNKNOWN, name_leftover_voice
    # speakers 0 and 1 requested; 0 found (300 frames), 1 not, 250 frames of unknown speech
    labels = np.array([0] * 300 + [UNKNOWN] * 250 + [0] * 50)
    named = name_leftover_voice(labels, np.array([False, True]), 100)
    assert (named[300:550] == 1).all() and (named[:300] == 0).all() and (named[550:] == 0).all()
    assert (name_leftover_voice(labels, np.array([True, False]), 100) == labels).all()   # full print: absent
    assert (name_leftover_voice(labels, np.array([False, True, True]), 100) == labels).all()  # two missing
    assert (name_leftover_voice(labels[:400], np.array([False, True]), 200) == labels[:400]).all()  # too little unknown
    assert (name_leftover_voice(np.array([UNKNOWN] * 300), np.array([True]), 100) == UNKNOWN).all()  # one requested
    assert (labels == np.array([0] * 300 + [UNKNOWN] * 250 + [0] * 50)).all()              # input untouched
