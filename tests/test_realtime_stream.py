"""StreamIdentifier and identification_score on real fixture audio through the real pipeline (no gRPC): when a
turn is decided, answering it once, the stream's timeline, bounded context, and what the score says."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import fixture_samples
from realtime_helpers import ier

from mock_server import pipeline
from mock_server.realtime.score import identification_score
from mock_server.realtime.stream import RATE, StreamIdentifier

SPEAKERS = ("alice", "bob", "carol")


@pytest.fixture(scope="module")
def prints():
    return {s: pipeline.speaker_voiceprint([pipeline.enrollment_voiceprint(
        fixture_samples(f"speakers/{s}/enroll{i}.wav")) for i in (1, 2, 3)]) for s in ("alice", "bob", "carol", "dave")}


class Judge:
    def __init__(self, prints, speakers=SPEAKERS):
        self.voiceprints = {s: prints[s] for s in speakers}
        self.passes = 0

    def segments(self, samples):
        self.passes += 1
        return [(s.speaker_id, s.start, s.end) for s in pipeline.identify_segments(samples, self.voiceprints)]

    def score(self, samples, speaker_id):
        return identification_score(samples, speaker_id, self.voiceprints)


def run(samples, judge, seconds, *, offsets=None, **knobs):
    """Feed ``samples`` in ``seconds`` chunks; (answers as dicts, the chunk index each came back after)."""
    stream, out, after = StreamIdentifier(**knobs), [], []
    step = int(seconds * RATE)
    for n, i in enumerate(range(0, len(samples), step)):
        offset = i / RATE if offsets is None else offsets(n, i / RATE)
        for a in stream.add(samples[i:i + step], offset, judge):
            out.append(a)
            after.append(n)
    for a in stream.finish(judge):
        out.append(a)
        after.append(None)
    return [{"speaker_id": a.speaker_id, "start": a.start, "end": a.end, "score": a.score} for a in out], after


def sync_segments(samples, judge):
    return [{"speaker_id": s, "start": a, "end": b} for s, a, b in judge.segments(samples)]


@pytest.mark.parametrize("seconds", [2.0, 3.0, 4.0, 7.0])
def test_every_turn_is_answered_once_whatever_the_chunking(prints, seconds):
    x = fixture_samples("conversation.wav")
    judge = Judge(prints)
    sync = sync_segments(x, judge)
    answers, after = run(x, judge, seconds)
    assert len(answers) == len(sync)
    for a, s in zip(answers, sync):                   # one answer per sync turn, same speaker, overlapping it
        assert a["speaker_id"] == s["speaker_id"]
        assert min(a["end"], s["end"]) - max(a["start"], s["start"]) > 0.5 * (s["end"] - s["start"])
    assert all(a["end"] <= b["start"] for a, b in zip(answers, answers[1:]))
    assert sum(n is not None for n in after) >= len(answers) - 2       # decided while audio still arrives
    assert ier(sync, answers) <= 0.05


def test_tiny_chunks_are_paced_into_passes_and_answered_like_big_ones(prints):
    """20 ms chunks (a live client's frames): a pass over the context costs the same whatever came in, so one
    after every chunk fell behind real time. Passes run per half second of audio instead, and the answers are
    those of 2 s chunks (turn for turn, IER against sync <= 0.05)."""
    x = fixture_samples("conversation.wav")
    tiny, big = Judge(prints), Judge(prints)
    answers, after = run(x, tiny, 0.02)
    reference, _ = run(x, big, 2.0)
    seconds = len(x) / RATE
    assert tiny.passes <= seconds / 0.5 + 2                          # not one per chunk (~1500 of them)
    assert [a["speaker_id"] for a in answers] == [a["speaker_id"] for a in reference]
    assert ier(sync_segments(x, Judge(prints)), answers) <= 0.05
    assert sum(n is not None for n in after) >= len(answers) - 2      # still decided while audio arrives


def test_offsets_make_times_absolute_and_overlapping_or_missing_ones_mean_contiguous(prints):
    x = fixture_samples("conversation.wav")
    plain, _ = run(x, Judge(prints), 4.0)
    shifted, _ = run(x, Judge(prints), 4.0, offsets=lambda n, t: 100.0 + t)
    assert [(a["speaker_id"], round(a["start"] + 100, 2), round(a["end"] + 100, 2)) for a in plain] == \
           [(a["speaker_id"], a["start"], a["end"]) for a in shifted]
    unset, _ = run(x, Judge(prints), 4.0, offsets=lambda n, t: None)
    repeated, _ = run(x, Judge(prints), 4.0, offsets=lambda n, t: 1.0 if n else None)   # always "back in time"
    assert unset == plain and repeated == plain


def test_a_long_gap_ends_the_context_and_answers_what_came_before(prints):
    x = fixture_samples("conversation.wav")
    half = 16 * RATE
    stream, judge = StreamIdentifier(), Judge(prints)
    before = stream.add(x[:half], None, judge)
    flushed = stream.add(x[half:], 16.0 + 30.0, judge)             # 30 s later on the stream's clock
    rest = stream.finish(judge)
    answers = before + flushed + rest
    assert all(a.end <= 16.0 for a in before) and any(a.end <= 16.0 for a in flushed)
    assert min(a.start for a in answers if a.start >= 16.0) >= 46.0     # after the gap: its own clock
    assert all(a.end <= b.start for a, b in zip(answers, answers[1:]))


def test_a_monologue_is_answered_in_pieces_and_memory_stays_bounded(prints):
    x = np.concatenate([fixture_samples(f"speakers/alice/enroll{i}.wav") for i in (1, 2, 3)] * 2)   # ~55 s
    answers, after = run(x, Judge(prints), 3.0, hold=10.0, lookback=5.0)
    live = [a for a, n in zip(answers, after) if n is not None]
    assert len(live) >= 2 and {a["speaker_id"] for a in answers} == {"alice"}
    assert all(a["end"] <= b["start"] for a, b in zip(answers, answers[1:]))
    stream, judge = StreamIdentifier(hold=10.0, lookback=5.0), Judge(prints)
    for i in range(0, len(x), 3 * RATE):
        stream.add(x[i:i + 3 * RATE], None, judge)
        assert len(stream._buffer) <= (5.0 + 10.0 + 2.0 + 3.0 + 1.0) * RATE


def test_the_score_is_higher_when_the_voice_fits(prints):
    alice = fixture_samples("alice_short.flac")
    voiceprints = {s: prints[s] for s in SPEAKERS}
    own, other = (identification_score(alice, s, voiceprints) for s in ("alice", "bob"))
    unknown = identification_score(alice, "unknown", voiceprints)
    assert 0.5 < own <= 1.0 and other < 0.5 < own and unknown == pytest.approx(1 - own, abs=1e-3)
    eve = fixture_samples("stranger/eve1.wav")
    assert identification_score(eve, "unknown", voiceprints) > 0.5 > identification_score(alice, "unknown",
                                                                                         voiceprints)
    alone = identification_score(alice, "alice", {"alice": prints["alice"]})   # one voice: the same scale
    assert alone == pytest.approx(own, abs=1e-3)  # scored against fixed background voices, not each other
    assert identification_score(alice[:800], "alice", voiceprints) == 0.0   # 0.05 s: nothing to judge


def test_the_docs_say_the_settle_the_code_uses():
    """The module's account of when a turn is decided, and the bench's, name the settle StreamIdentifier applies;
    the package's file table names files that exist."""
    import inspect
    import re

    import mock_server.realtime as realtime
    from mock_server.realtime import stream
    root = Path(realtime.__file__).resolve().parents[2]
    settle = inspect.signature(StreamIdentifier).parameters["settle"].default
    assert f"``settle`` seconds ({settle:g} s)" in stream.__doc__
    assert f"the {settle:g} s after it that settle the turn" in (root / "scripts" / "bench.py").read_text()
    for name in re.findall(r"[\w/-]+\.(?:py|proto)\b", realtime.__doc__):
        assert (root / name).exists() or (Path(realtime.__file__).parent / name).exists(), name
