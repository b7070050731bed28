"""Live identification over a stream of audio chunks: when a speaker turn is decided, and answering it once.

gRPC-free: the servicer feeds decoded chunks in and sends out what comes back. Every pass runs the pipeline's
public ``identify`` (through a Judge) over the audio kept so far, so a decision has the context of earlier
chunks, as sync identify has the whole recording (so far only: a noisy stream's scores are raised for its noise
only once a second of its pauses has come in, pipeline/decision.py noise_shift). What makes it live:

- **Decided.** A turn is answered once its end lies at least ``settle`` seconds (2 s) before the end of the
  audio received. The pipeline finds a change of voice by comparing change_window (1 s) of speech on each side
  of it, and a same-speaker pause shorter than max_pause (0.6 s) does not end a turn, so a turn's end needs
  more than 1 s of audio after it before it stops moving. 2 s covers both; 1 s (enough for the pipeline before
  the voice model) let a turn's edge be decided on a chunk's edge, before the next voice could be heard. On the
  fixtures, 4 s chunks give as many answers as sync identify, IER against sync <= 0.05 (tests/test_realtime.py).
  A turn still open at the end of a chunk waits for the next one:
  a turn across a chunk boundary is one answer. When the client half-closes, everything left is answered.
- **Once.** ``committed`` is the stream time up to which answers were given; a later pass never answers before
  it (a turn that grew back over it is clipped), so answers are sorted and never overlap.
- **Bounded.** Only ``lookback`` seconds before ``committed`` are kept as context; a turn undecided for more
  than ``hold`` seconds (a monologue) is answered in pieces up to the settle horizon, so memory and CPU per
  pass stay bounded on an endless stream.
- **Paced.** A pass over the context costs the same however little audio came in since the last one (20-60 ms
  for a minute of context), so with 10-100 ms chunks passing after every chunk fell behind real time. A pass
  runs once ``step`` seconds (0.5 s) of audio have come in since the last one, or at the end; a chunk of 0.5 s
  or more gets its pass as before, smaller ones wait for the next pass, at most 0.5 s of audio.
- **Timeline.** A chunk starts at its ``segmentOffset``; an offset missing (0 after the first chunk) or falling
  inside audio already received means "right after the previous chunk"; a gap of at most ``max_gap`` seconds is
  filled with silence; a longer gap ends the context: what came before is answered, and a new context starts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

RATE = 16000            # Hz, the pipeline's sample rate
EPS = 0.005             # s; below the 2-decimal resolution of answers
MIN_PIECE = 0.3         # s; a clipped remainder shorter than this is not worth an answer (pipeline min_segment)


@dataclass(frozen=True)
class Answer:
    """One decided turn: seconds from the start of the stream, 2 decimals; score in [0, 1]."""

    speaker_id: str
    start: float
    end: float
    score: float


class Judge(Protocol):
    """What one pass asks of the pipeline; built per pass so enrollments changed mid-stream are seen."""

    def segments(self, samples: np.ndarray) -> Sequence[tuple[str, float, float]]:
        """(speaker_id, start, end) turns of ``samples`` (seconds from its first sample), sorted."""

    def score(self, samples: np.ndarray, speaker_id: str) -> float:
        """identification_score of answering ``speaker_id`` for one turn's samples."""


class StreamIdentifier:
    """The state of one live stream. Not thread-safe: one stream, one caller."""

    def __init__(self, *, settle: float = 2.0, lookback: float = 60.0, hold: float = 30.0, max_gap: float = 1.0,
                 step: float = 0.5):
        self.settle, self.lookback, self.hold, self.max_gap, self.step = settle, lookback, hold, max_gap, step
        self._passed_at = 0.0                          # received_seconds at the last pass
        self._buffer = np.zeros(0, dtype=np.float32)   # the context kept, starting at stream time self._base
        self._base = 0.0
        self.committed = 0.0                           # answers cover the stream up to here
        self.received_seconds = 0.0                    # audio taken in, gaps not counted
        self._last_end = 0.0                           # end of the last answer given

    @property
    def end(self) -> float:
        """Stream time of the end of the audio received."""
        return self._base + len(self._buffer) / RATE

    def add(self, samples: np.ndarray, offset: float | None, judge: Judge) -> list[Answer]:
        """Take one chunk (mono float32 at 16 kHz) starting at stream time ``offset`` (None: right after the
        previous one); return the turns decided now, in order."""
        answers: list[Answer] = []
        if len(self._buffer) == 0 and self._base == 0.0 and self.committed == 0.0 and offset:
            self._base = self.committed = float(offset)        # the first chunk sets where the stream starts
        elif offset is not None and offset > self.end + EPS:
            gap = offset - self.end
            if gap <= self.max_gap:
                self._buffer = np.concatenate([self._buffer, np.zeros(int(round(gap * RATE)), np.float32)])
            else:
                answers += self._decide(judge, final=True)
                self._buffer = np.zeros(0, dtype=np.float32)
                self._base = self.committed = float(offset)
        self._buffer = np.concatenate([self._buffer, np.asarray(samples, dtype=np.float32)])
        self.received_seconds += len(samples) / RATE
        if self.received_seconds - self._passed_at < self.step - EPS:
            return answers                                 # paced: too little new audio for a pass
        return answers + self._decide(judge, final=False)

    def finish(self, judge: Judge) -> list[Answer]:
        """The client half-closed: answer everything not answered yet."""
        return self._decide(judge, final=True)

    def _decide(self, judge: Judge, *, final: bool) -> list[Answer]:
        self._passed_at = self.received_seconds
        if len(self._buffer) == 0:
            return []
        end = self.end
        horizon = end if final else end - self.settle
        answers: list[Answer] = []
        for speaker_id, s, e in judge.segments(self._buffer):
            start, stop = max(self._base + s, self.committed), self._base + e
            if stop <= self.committed + EPS:
                continue                                   # answered by an earlier pass
            if stop > horizon + EPS:                       # still open: the speaker may go on
                if start < end - self.hold and horizon - start >= MIN_PIECE:
                    answers.append(self._answer(judge, speaker_id, start, horizon))   # a monologue, in pieces
                elif start > self.committed:
                    self.committed = min(start, max(horizon, self.committed))        # silence before it is done
                break
            if stop - start >= MIN_PIECE:
                answers.append(self._answer(judge, speaker_id, start, stop))
            self.committed = stop
        else:
            self.committed = max(self.committed, horizon)      # nothing open: the stream is silent up to here
        self._trim()
        return answers

    def _answer(self, judge: Judge, speaker_id: str, start: float, stop: float) -> Answer:
        start, stop = max(round(start, 2), self._last_end), round(stop, 2)
        self._last_end = stop
        a, b = (int(round((t - self._base) * RATE)) for t in (start, stop))
        self.committed = max(self.committed, stop)
        return Answer(speaker_id, start, stop, judge.score(self._buffer[max(a, 0):b], speaker_id))

    def _trim(self) -> None:
        """Forget audio older than ``lookback`` seconds before what is answered."""
        keep_from = self.committed - self.lookback
        drop = int((keep_from - self._base) * RATE)
        if drop > 0:
            self._buffer = self._buffer[drop:]
            self._base += drop / RATE
