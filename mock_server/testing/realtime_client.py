"""Stream an audio file to the realtime API the way the vendor's SDK does, and time the answers.

The SDK (deepaffects/realtime/util.py) decodes the file, cuts it into 30 s pieces, writes each as a WAV file
(the source's rate and channels, 16-bit) and sends it base64 in ``content`` with ``encoding "wav"``,
``languageCode "en-US"``, ``sampleRate``, ``duration`` and ``segmentOffset`` (s); ``id`` and ``speakerIds`` stay
unset, the speakers and the key travel in the call metadata. Its chunk helper refuses pieces under 3 s, so a
short tail is sent with the piece before it.

Works with the mock's generated stubs (``stream_file``) or any wire-compatible ones, the vendor's included
(``stream_pieces`` with their stub and message class). This module imports no generated code at load time.
"""
from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import soundfile

MIN_CHUNK_SECONDS = 3.0     # the SDK's segment_chunk refuses shorter pieces
SDK_METADATA = (("encoding", "wav"), ("samplerate", "16000"), ("languagecode", "en-Us"), ("apiversion", "v2"),
                ("verbose", "True"))


@dataclass(frozen=True)
class Piece:
    """One chunk to send: base64 WAV ``content``, ``offset`` and ``duration`` in seconds, source ``rate`` (Hz)."""

    content: str
    offset: float
    duration: float
    rate: int


@dataclass
class StreamResult:
    """What came back: ``answers`` as dicts (id, speaker_id, start, end, identification_score, Error,
    received: seconds since the first chunk was sent), and when each chunk was sent (same clock)."""

    answers: list[dict] = field(default_factory=list)
    sent: list[float] = field(default_factory=list)

    @property
    def segments(self) -> list[dict]:
        """The answered turns as REST-style segments (answers with Error left out)."""
        return [{"speaker_id": a["speaker_id"], "start": a["start"], "end": a["end"]}
                for a in self.answers if not a["Error"]]


def wav_pieces(path: str | Path, chunk_seconds: float = 30.0) -> list[Piece]:
    """The file cut into ``chunk_seconds`` WAV pieces as the SDK cuts it (a tail under 3 s joins the piece
    before it). Any format libsndfile reads; pieces keep the source's rate and channels, 16-bit PCM."""
    data, rate = soundfile.read(str(path), dtype="int16", always_2d=True)
    step = max(1, int(round(chunk_seconds * rate)))
    bounds = list(range(0, len(data), step)) + [len(data)]
    if len(bounds) > 2 and (bounds[-1] - bounds[-2]) < MIN_CHUNK_SECONDS * rate:
        bounds.pop(-2)
    pieces = []
    for a, b in zip(bounds, bounds[1:]):
        buffer = io.BytesIO()
        soundfile.write(buffer, data[a:b], rate, format="WAV", subtype="PCM_16")
        pieces.append(Piece(base64.b64encode(buffer.getvalue()).decode("ascii"), round(a / rate, 6),
                            round((b - a) / rate, 6), rate))
    return pieces


def stream_pieces(stub, make_chunk: Callable, pieces: list[Piece], *, api_key: str, speaker_ids: list[str],
                  speed: float = 0.0, timeout: float = 120.0, extra_metadata=SDK_METADATA,
                  cancel_after: int | None = None) -> StreamResult:
    """Send ``pieces`` over ``stub.IdentifySpeaker`` and collect the answers.

    make_chunk(**fields) builds a SegmentChunk (the mock's or the vendor's class). speed > 0 paces the pieces
    like a live source at ``speed`` x real time: a piece is sent when its last sample would have been recorded.
    cancel_after: cancel the call once that many pieces were sent (tests). Raises grpc.RpcError on a failed call.
    """
    result = StreamResult()
    t0 = time.monotonic()

    def chunks() -> Iterator:
        for i, piece in enumerate(pieces):
            if speed > 0:
                time.sleep(max(0.0, t0 + (piece.offset + piece.duration) / speed - time.monotonic()))
            result.sent.append(time.monotonic() - t0)
            yield make_chunk(content=piece.content, encoding="wav", languageCode="en-US", sampleRate=piece.rate,
                             duration=piece.duration, segmentOffset=piece.offset)
            if cancel_after is not None and i + 1 >= cancel_after:
                call.cancel()
                return

    metadata = [("apikey", api_key), ("speakerids", ",".join(speaker_ids)), *extra_metadata]
    call = stub.IdentifySpeaker(chunks(), timeout, metadata=metadata)
    for answer in call:
        result.answers.append({"id": answer.id, "speaker_id": answer.speaker_id, "start": answer.start,
                               "end": answer.end, "identification_score": answer.identification_score,
                               "Error": answer.Error, "received": time.monotonic() - t0})
    return result


def stream_file(target: str, path: str | Path, *, api_key: str, speaker_ids: list[str], chunk_seconds: float = 30.0,
                speed: float = 0.0, timeout: float = 120.0) -> StreamResult:
    """Stream a file to the mock at ``target`` ("127.0.0.1:50051") with the mock's own stubs, SDK-style."""
    import grpc

    from mock_server.realtime import deepaffects_realtime_pb2 as pb
    from mock_server.realtime import deepaffects_realtime_pb2_grpc as pb_grpc
    with grpc.insecure_channel(target) as channel:
        return stream_pieces(pb_grpc.DeepAffectsRealtimeStub(channel), pb.SegmentChunk,
                             wav_pieces(path, chunk_seconds), api_key=api_key, speaker_ids=speaker_ids,
                             speed=speed, timeout=timeout)
