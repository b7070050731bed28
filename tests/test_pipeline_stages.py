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

from mock_server.pipeline import (
    DEFAULT_CONFIG,
    NoSpeechError,
    enrollment_voiceprint,
    identify_segments,
    speaker_voiceprint,
    speech_regions,
)
from mock_server.pipeline.decision import noise_shift
from mock_server.pipeline.level import frame_levels_db
from mock_server.pipeline.voiceprint import speech_features_and_pauses

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from pipeline_eval import speech_power, with_noise  # noqa: E402


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
    """The S-norm score of a held-out recording is highest for its own voice (identify.snorm_scores)."""
    from mock_server.pipeline.identify import snorm_scores
    from mock_server.pipeline.ubm import voice_model
    from mock_server.pipeline.voiceprint import unpack_voiceprint
    names = ("alice", "bob", "carol", "dave")
    vps = [unpack_voiceprint(speaker_voiceprint([enrollment_voiceprint(fixture_samples(f"speakers/{spk}/enroll{i}.wav"))
                                                 for i in (1, 2)])) for spk in names]
    offsets, z = np.stack([v[0] for v in vps]), np.array([[v[1], v[2]] for v in vps], np.float32)
    for spk in names:                                 # held-out third enrollment of each voice
        stats = enrollment_voiceprint(fixture_samples(f"speakers/{spk}/enroll3.wav"))
        scores = snorm_scores(voice_model(), offsets, z, stats[None, :, 0], stats[None, :, 1:],
                              DEFAULT_CONFIG.relevance, DEFAULT_CONFIG.snorm_top)[0]
        assert names[int(np.argmax(scores))] == spk, scores
        assert scores.max() >= DEFAULT_CONFIG.accept_threshold, scores


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
    vps = {s: speaker_voiceprint([enrollment_voiceprint(fixture_samples(f"speakers/{s}/enroll{i}.wav"))
                                  for i in (1, 2)])
           for s in ("alice", "bob")}
    one = fixture_samples(voices["tests"]["conversation"]["file"])
    short = np.tile(one, int(np.ceil(30 * 16000 / len(one))))[:30 * 16000]
    long = np.tile(short, 10)                                    # 300 s
    peak_short, seg_short = _identify_peak_mb(short, vps)
    peak_long, seg_long = _identify_peak_mb(long, vps)
    assert seg_short and len(seg_long) > len(seg_short)
    # what must grow: the per-frame features and scores (~40 floats per 10 ms frame) and the one level-normalised
    # copy of the samples (level.normalise_level, 4 bytes a sample: the input's own size)
    assert peak_long < peak_short + 15 + 300 * 100 * 40 * 4 / 1e6 + long.nbytes / 1e6, (peak_short, peak_long)
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


def test_the_label_scan_weighs_each_voice_on_the_windows_own_scale():
    """Two requested voices in one speech region: the first has a narrow Z-norm spread (its enrollment shares
    the recording's channel, so every window of the recording scores high against it), the second speaks in
    the second half. Z-norm alone keeps the first voice throughout; adding the T-norm term, measured against
    background voices over the same window, finds the change (decision.requested_voice_changes)."""
    from mock_server.pipeline.decision import requested_voice_changes
    rng = np.random.default_rng(1)
    g = 60                                                       # 6 s of 0.1 s blocks
    llr = np.empty((g, 2))
    llr[:30] = [1.0, 0.2]                                        # first voice speaks
    llr[30:] = [0.3, 1.5]                                        # second voice speaks
    llr += rng.normal(0.0, 0.02, llr.shape)
    z = np.array([[0.0, 0.1], [0.0, 1.0]])                       # Z-norm mean and std of each voice
    background = rng.normal(0.0, 0.5, (g, 32))                   # the same blocks against 32 background voices
    weights, regions = np.full(g, 10), np.zeros(g, dtype=np.int64)
    z_only = requested_voice_changes(llr, weights, z, regions, 5, 100.0, background, 0.0)
    assert z_only.max() == 0                                     # (0.3 - 0) / 0.1 = 3 beats 1.5: no change
    with_t = requested_voice_changes(llr, weights, z, regions, 5, 100.0, background, 0.5)
    cuts = np.flatnonzero(np.diff(with_t)) + 1
    assert len(cuts) == 1 and abs(int(cuts[0]) - 30) <= 5, cuts                  # within the half window


def test_viterbi_changes_speaker_only_when_the_evidence_pays_for_it():
    """decision.viterbi: a run of another voice changes the label only when its lead, summed over the run, beats
    the two changes it takes (in and out); where changing is cheaper (a pause), a shorter lead is enough."""
    from mock_server.pipeline.decision import viterbi
    emission = np.zeros((30, 2))
    emission[:, 0] = 1.0
    emission[12:16] = [0.0, 1.0]                                 # 4 steps where the second voice leads by 1 each
    assert viterbi(emission, np.full(30, 1.5)).tolist() == [0] * 12 + [1] * 4 + [0] * 14   # 4 > 2 x 1.5
    assert viterbi(emission, np.full(30, 2.5)).max() == 0       # 4 < 2 x 2.5: a flicker, not a turn
    cheap = np.full(30, 2.5)
    cheap[[12, 16]] = 1.0                                        # pauses where the second voice starts and ends
    assert viterbi(emission, cheap).tolist() == [0] * 12 + [1] * 4 + [0] * 14


def test_viterbi_finds_the_best_labelling_of_small_random_cases():
    """Both implementations of decision.viterbi against every labelling of 300 random cases of up to 6 steps and
    3 voices (ties included): their labels reach the best total of emissions minus change prices."""
    import itertools

    from mock_server.pipeline.decision import _viterbi_arrays, _viterbi_lists
    rng = np.random.default_rng(7)

    def total(labels, emission, cost):
        return sum(emission[t, lab] for t, lab in enumerate(labels)) - sum(
            cost[t] for t in range(1, len(labels)) if labels[t] != labels[t - 1])

    for _ in range(300):
        t_len, s = int(rng.integers(1, 7)), int(rng.integers(1, 4))
        emission = np.round(rng.normal(0.0, 2.0, (t_len, s)), 1)
        cost = np.round(np.abs(rng.normal(0.0, 2.0, t_len)), 1)
        best = max(total(labels, emission, cost) for labels in itertools.product(range(s), repeat=t_len))
        for viterbi in (_viterbi_lists, _viterbi_arrays):
            got = viterbi(emission, cost)
            assert got.dtype == np.int64 and len(got) == t_len
            assert abs(total(got.tolist(), emission, cost) - best) < 1e-9, (viterbi, emission, cost, got)


def test_viterbi_gives_the_same_labels_for_few_and_many_voices():
    """decision.viterbi picks its implementation by the number of labels; both give the same labels, ties
    included, on either side of LIST_VITERBI_MAX_LABELS."""
    from mock_server.pipeline.decision import LIST_VITERBI_MAX_LABELS, _viterbi_arrays, _viterbi_lists, viterbi
    rng = np.random.default_rng(11)
    for s in (1, 2, 5, LIST_VITERBI_MAX_LABELS, LIST_VITERBI_MAX_LABELS + 1, 40):
        for _ in range(30):
            emission = np.round(rng.normal(0.0, 1.0, (int(rng.integers(1, 80)), s)), 1).astype(np.float32)
            cost = np.round(np.abs(rng.normal(0.0, 1.0, len(emission))), 1)
            lists, arrays = _viterbi_lists(emission, cost), _viterbi_arrays(emission, cost)
            assert np.array_equal(lists, arrays)
            assert np.array_equal(viterbi(emission, cost), lists)


def test_a_change_of_voice_at_a_bridged_pause_needs_less_evidence():
    """requested_voice_changes: 0.4 s of a second voice inside one speech region; with a change costing more than
    its lead it stays the first voice's, unless bridged pauses either side make the change cheap there."""
    from mock_server.pipeline.decision import requested_voice_changes
    g = 40
    llr = np.zeros((g, 2))
    llr[:, 0] = 1.0
    llr[18:22] = [0.0, 1.0]                                      # the answer: 4 blocks of 0.1 s
    z = np.array([[0.0, 1.0], [0.0, 1.0]])
    weights, regions = np.full(g, 10), np.zeros(g, dtype=np.int64)
    paused = np.zeros(g, dtype=bool)
    paused[[17, 22]] = True
    args = (llr, weights, z, regions, 0, 30.0)                   # window of one block; a change costs 30
    assert requested_voice_changes(*args).max() == 0             # lead 4 x 10 frames = 40 < 2 x 30
    got = requested_voice_changes(*args, paused=paused, pause_switch_cost=10.0)
    assert got.max() == 2 and np.flatnonzero(np.diff(got)).tolist() == [17, 21]


def test_a_pause_makes_a_change_cheap_from_one_block_before_it_to_two_after_it():
    """The cheaper change reaches PAUSE_TOLERANCE_BLOCKS (2) each side of the boundary between two blocks: a change
    between blocks t - 1 and t is at a pause held by blocks t - 2 .. t + 1, the label window's blur either side."""
    from mock_server.pipeline.decision import PAUSE_TOLERANCE_BLOCKS, requested_voice_changes
    assert PAUSE_TOLERANCE_BLOCKS == 2
    g = 40
    llr = np.zeros((g, 2))
    llr[:, 0] = 3.0                                              # a clear first voice: moving a change costs 30
    llr[18:22] = [0.0, 0.8]                                      # changes between blocks 17|18 and 21|22: lead 32
    z = np.array([[0.0, 1.0], [0.0, 1.0]])
    weights, regions = np.full(g, 10), np.zeros(g, dtype=np.int64)

    def split(pause_blocks):                                     # both changes at a pause: 2 x 10 < 32 < 30 + 10
        paused = np.zeros(g, dtype=bool)
        paused[pause_blocks] = True
        return requested_voice_changes(llr, weights, z, regions, 0, 30.0, paused=paused,
                                       pause_switch_cost=10.0).max() == 2

    assert split([16, 23]) and split([19, 20])                   # the farthest and nearest pauses that reach
    assert not split([15, 23]) and not split([16, 24])           # one block further: the change costs 30 there


def test_identify_leaves_the_samples_alone_unless_told_it_may_overwrite_them(voices):
    """The service hands identify samples it no longer needs (overwrite_samples=True): the level normalisation
    then works in them instead of in a copy (38 MB less for 10 minutes). The answer is the same either way, and
    a caller that did not say so keeps its samples as they were."""
    x = fixture_samples(voices["tests"]["conversation"]["file"]).astype(np.float32) * np.float32(0.1)
    prints = {k: speaker_voiceprint([enrollment_voiceprint(fixture_samples(e["file"])) for e in info["enroll"]])
              for k, info in voices["speakers"].items() if k in ("alice", "bob", "carol")}
    kept = x.copy()
    copied = identify_segments(x, prints)
    assert np.array_equal(x, kept)                                 # untouched
    overwritten = identify_segments(x, prints, overwrite_samples=True)
    assert overwritten == copied
    assert not np.array_equal(x, kept)                             # normalised in place: no copy was made


def test_levels_can_leave_out_mains_hum_and_keep_the_voice():
    t = np.arange(32000) / 16000
    tone = {f: (0.1 * np.sin(2 * np.pi * f * t)).astype(np.float32) for f in (50, 60.4, 150, 200, 1000)}
    everything = {f: frame_levels_db(x, 480) for f, x in tone.items()}
    without_hum = {f: frame_levels_db(x, 480, 16000) for f, x in tone.items()}
    assert all(abs(np.median(everything[f]) - 20 * np.log10(0.1 / np.sqrt(2))) < 0.2 for f in tone)   # the RMS
    assert all(np.max(without_hum[f] - everything[f]) < -45 for f in (50, 60.4))      # hum gone, every frame
    assert all(np.max(np.abs(without_hum[f] - everything[f])) < 0.5 for f in (150, 200, 1000))   # the voice kept
    dc = np.full(4800, 0.3, dtype=np.float32)
    assert np.all(frame_levels_db(dc, 480, 16000) < -150) and np.all(frame_levels_db(dc, 480) > -11)


def test_low_pitched_noise_stays_steady_noise_when_hum_is_looked_past():
    """Only a recording whose quiet frames are mostly hum is judged again without it: noise below 200 Hz (rumble),
    steady in its levels, loses ~4 dB of floor without hum and must stay no speech (it came out as 10 s of speech
    when every steady recording was judged again)."""
    noise = np.fft.rfft(np.random.default_rng(0).standard_normal(160000))
    noise[np.fft.rfftfreq(160000, 1 / 16000) > 200] = 0
    assert speech_regions((0.1 * np.fft.irfft(noise, 160000)).astype(np.float32)) == []
    hum = 0.1 * np.sin(2 * np.pi * 50 * np.arange(160000) / 16000)
    assert speech_regions(hum.astype(np.float32)) == []


def test_the_noise_shift_rises_as_the_speech_nears_the_noise():
    assert [noise_shift(db, 1.0, 30.0, 25.0) for db in (45.0, 30.0, 27.5, 25.0, 5.0)] == [0.0, 0.0, 0.5, 1.0, 1.0]
    assert noise_shift(5.0, 0.0, 30.0, 25.0) == 0.0                     # off
    assert noise_shift(5.0, 1.0, 25.0, 25.0) == 0.0                     # no range to rise over: off, not a division
    assert noise_shift(float("inf"), 1.0, 30.0, 25.0) == 0.0            # no noise measured
    assert noise_shift(float("nan"), 1.0, 30.0, 25.0) == 0.0


def speech_to_noise_db(x: np.ndarray) -> float:
    return speech_features_and_pauses(x.astype(np.float32), DEFAULT_CONFIG).speech_to_noise_db


def test_the_noise_of_the_pauses_is_measured_whatever_else_is_there():
    """The measure behind the noise shift: the clean fixture stands well clear of where the shift starts, white
    noise at 20 dB SNR puts it where the whole shift applies; neither the level, nor mains hum under the speech,
    nor digital silence around the recording changes it (found by a reviewer: the recording's 5th-percentile
    frame level, as first used, put hum 10 dB under the speech at full shift and zero padding at none)."""
    x = fixture_samples("conversation.wav")
    clean = speech_to_noise_db(x)                  # inf: its pauses are digital silence, no noise to measure
    noisy = [speech_to_noise_db(with_noise(x, snr, seed=0)) for snr in (30.0, 20.0, 10.0)]
    assert clean > DEFAULT_CONFIG.noise_shift_from_db + 10
    assert clean > noisy[0] > noisy[1] > noisy[2]
    assert noisy[1] < DEFAULT_CONFIG.noise_shift_full_db
    assert speech_to_noise_db(x * np.float32(10 ** (-30 / 20))) == clean
    noisy_quieter = speech_to_noise_db(with_noise(x, 20.0, seed=0) * np.float32(10 ** (-30 / 20)))
    assert noisy_quieter == pytest.approx(noisy[1], abs=1.0)
    hum = np.sqrt(2 * speech_power(x) * 10 ** (-10 / 10)) * np.sin(2 * np.pi * 50 * np.arange(len(x)) / 16000)
    assert speech_to_noise_db(x + hum) == clean
    assert speech_to_noise_db(with_noise(x, 20.0, seed=0) + hum) == pytest.approx(noisy[1], abs=1.5)
    silence = np.zeros(32000, dtype=np.float32)
    padded = np.concatenate([silence, with_noise(x, 20.0, seed=0), silence])
    assert speech_to_noise_db(padded) == pytest.approx(noisy[1], abs=1.5)
    assert speech_to_noise_db(silence) == float("inf")                   # no speech: no noise measured either


def test_a_clip_of_continuous_speech_is_not_taken_for_noisy():
    """3 s of speech with no pause: its quietest frames are gaps between words, 15-30 dB under the speech even in
    clean audio, and there is less than noise_pause_seconds of pause to measure noise on: nothing is assumed."""
    alice = fixture_samples("alice_short.flac")
    assert speech_to_noise_db(alice) == float("inf")
    assert noise_shift(speech_to_noise_db(alice), 1.0, 30.0, 25.0) == 0.0
