"""The gRPC servicer of deepaffectsrealtime.DeepAffectsRealtime: one live IdentifySpeaker stream per call.

Flow of a call: take a stream slot (--grpc-max-streams) -> check the ``apikey`` metadata -> apply an armed
/_mock fault -> check ``speakerids`` against the store -> for every chunk (each within --grpc-idle-seconds of
asking for it, at most --max-body-mb): decode it, hand it to a StreamIdentifier, send the turns decided now ->
on half-close send the rest -> journal the stream.

Every failure is an API error (mock_server.errors) until ``_status``, the one place that maps them to gRPC
status codes. A chunk that cannot be used (bad base64, undecodable audio, impossible segmentOffset) is not a
call failure: it gets an answer with ``Error`` set and the stream goes on.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from functools import cached_property

import grpc
import numpy as np

from mock_server import errors, pipeline
from mock_server.core import auth
from mock_server.core.profiles import UNKNOWN_SPEAKER
from mock_server.realtime import chunks
from mock_server.state import CallSummary

from . import deepaffects_realtime_pb2 as pb
from . import deepaffects_realtime_pb2_grpc as pb_grpc
from .score import identification_score
from .stream import Answer, StreamIdentifier

log = logging.getLogger("mock_server.realtime")

SERVICE = "deepaffectsrealtime.DeepAffectsRealtime"
IDENTIFY_PATH = f"/{SERVICE}/IdentifySpeaker"
CANCEL_SETTLE_SECONDS = 0.05    # at the end of a call's chunks, how long to wait for gRPC to say it cancelled it
GRPC_METHOD = "GRPC"            # the journal's "method" for realtime calls (REST calls have GET/POST)
NOT_SERVED = ("this mock serves speaker identification only (IdentifySpeaker); {} is declared for "
              "compatibility with the vendor's SDK but not implemented.")

# HTTP status of an API error -> gRPC status code (https://grpc.github.io/grpc/core/md_doc_statuscodes.html)
_CODES = {400: grpc.StatusCode.INVALID_ARGUMENT, 401: grpc.StatusCode.UNAUTHENTICATED,
          403: grpc.StatusCode.PERMISSION_DENIED, 404: grpc.StatusCode.NOT_FOUND,
          408: grpc.StatusCode.DEADLINE_EXCEEDED, 409: grpc.StatusCode.ABORTED,
          413: grpc.StatusCode.RESOURCE_EXHAUSTED, 429: grpc.StatusCode.RESOURCE_EXHAUSTED,
          499: grpc.StatusCode.CANCELLED, 501: grpc.StatusCode.UNIMPLEMENTED,
          503: grpc.StatusCode.UNAVAILABLE, 504: grpc.StatusCode.DEADLINE_EXCEEDED}


class TooManyStreams(errors.ApiError):
    """More concurrent IdentifySpeaker streams than --grpc-max-streams."""

    status = 429
    code = "too_many_streams"


class StreamIdle(errors.ApiError):
    """No chunk arrived for --grpc-idle-seconds (408 Request Timeout: DEADLINE_EXCEEDED, a timeout to gRPC users)."""

    status = 408
    code = "stream_idle"


class Cancelled(errors.ApiError):
    """The client cancelled the call or went away (journalled as 499, like nginx's "client closed")."""

    status = 499
    code = "cancelled"


def _status(exc: BaseException) -> tuple[grpc.StatusCode, str, int]:
    """(gRPC code, message, HTTP-equivalent status for the journal) of any failure: the one mapping."""
    if isinstance(exc, errors.ApiError):
        code = _CODES.get(exc.status) or (grpc.StatusCode.INTERNAL if exc.status >= 500
                                          else grpc.StatusCode.FAILED_PRECONDITION)
        return code, f"{exc.code}: {exc.message}", exc.status
    log.exception("realtime stream failed")
    return grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}; see the mock's log.", 500


class _Judge:
    """One pass of the pipeline with the voiceprints stored now (enrollments may change mid-stream), read when a
    pass runs: most chunks only add audio."""

    def __init__(self, service, tenant: str, speaker_ids):
        self._service, self._tenant, self._speaker_ids = service, tenant, speaker_ids
        self.noise_shift = 0.0

    @cached_property
    def voiceprints(self):
        return self._service.voiceprints(self._tenant, self._speaker_ids)

    def segments(self, samples: np.ndarray):
        found = pipeline.identify(samples, self.voiceprints)
        self.noise_shift = found.noise_shift  # the turns' scores get what identify added for this audio's noise
        return [(s.speaker_id, s.start, s.end) for s in found.segments]

    def score(self, samples: np.ndarray, speaker_id: str) -> float:
        return identification_score(samples, speaker_id, self.voiceprints, noise_shift=self.noise_shift)


class _Inbox:
    """A call's chunks, each waited for at most ``idle_seconds``.

    gRPC's request iterator blocks until a message, the half-close or the end of the call, with no timeout; a
    reader thread of the stream's own calls it, one message at a time and only when the servicer asks for the
    next (so no more chunks are held than without it), and the servicer waits for its answer with a timeout.
    After the timeout the reader stays blocked until the call ends (the servicer's failing it ends it), then
    stops: ``close()`` lets it go.
    """

    def __init__(self, request_iterator, *, idle_seconds: float):
        self._requests = iter(request_iterator)
        self.idle_seconds = idle_seconds
        self._asks = threading.Semaphore(0)
        self._answers: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = threading.Event()
        self._reader: threading.Thread | None = None

    def __iter__(self):
        if self._reader is None:
            self._reader = threading.Thread(target=self._read, name="grpc-inbox", daemon=True)
            self._reader.start()
        while True:
            self._asks.release()
            try:
                chunk, exc = self._answers.get(timeout=self.idle_seconds)
            except queue.Empty:
                raise StreamIdle(
                    f"no chunk arrived for {self.idle_seconds:g} s (--grpc-idle-seconds), so the stream was ended; "
                    "send chunks at least that often, and half-close the stream when the audio ends (the "
                    "answers still owed are sent then).") from None
            if exc is not None:
                raise exc
            if chunk is None:               # the client half-closed
                return
            yield chunk

    def _read(self) -> None:
        while True:
            self._asks.acquire()
            if self._closed.is_set():
                return
            try:
                self._answers.put((next(self._requests), None))
            except StopIteration:
                self._answers.put((None, None))
                return
            except Exception as exc:  # noqa: BLE001 - handed to the servicer's thread, which reports it
                self._answers.put((None, exc))
                return

    def close(self) -> None:
        """The call is over: the reader, blocked or about to ask, stops."""
        self._closed.set()
        self._asks.release()


class RealtimeServicer(pb_grpc.DeepAffectsRealtimeServicer):
    """Serves the vendor's realtime service over the mock's state (store, service, faults, journal)."""

    def __init__(self, state, *, max_streams: int, max_message_bytes: int, idle_seconds: float):
        self.state = state
        self.config = state.config
        self.max_streams = max_streams
        self.max_message_bytes = max_message_bytes
        self.idle_seconds = idle_seconds
        # streams being served now: at most max_streams take a slot; server.RealtimeServer.stop reads it too
        self._open = 0
        self._open_lock = threading.Lock()

    @property
    def open_streams(self) -> int:
        """How many IdentifySpeaker streams are being served now."""
        with self._open_lock:
            return self._open

    def IdentifySpeaker(self, request_iterator, context):
        started = time.perf_counter()
        record = {"key": None, "tenant": None, "speaker_ids": None, "segments": [], "status": 200}
        with self._open_lock:
            full = self._open >= self.max_streams
            if not full:
                self._open += 1
        if full:
            yield from self._fail(context, TooManyStreams(
                f"{self.max_streams} realtime streams are already open (--grpc-max-streams); close one or retry "
                "later."), record, started)
            return
        cancelled = threading.Event()
        context.add_callback(cancelled.set)     # runs when the call ends for any reason, the client's cancel included
        inbox = _Inbox(request_iterator, idle_seconds=self.idle_seconds)
        try:
            yield from self._identify(self._sized(inbox, context, cancelled), context, cancelled, record)
        except Exception as exc:  # noqa: BLE001 - every failure leaves through _status
            # gRPC's request iterator raises a bare RpcError once the client cancelled or its connection dropped,
            # sometimes before the call's callbacks ran
            if isinstance(exc, grpc.RpcError) or (cancelled.is_set() and not context.is_active()):
                exc = Cancelled("the client cancelled the stream or went away.")
            yield from self._fail(context, exc, record, started)
        except GeneratorExit:                   # gRPC closed the answer stream: the client is gone
            record["status"] = Cancelled.status
            self._journal(record, started)
            raise
        else:
            self._journal(record, started)
        finally:
            inbox.close()
            with self._open_lock:
                self._open -= 1

    def _sized(self, request_iterator, context, cancelled: threading.Event):
        """The call's chunks, each refused (413 payload_too_large: RESOURCE_EXHAUSTED) over --max-body-mb, and
        Cancelled (499) at their end when that end was gRPC cancelling the call, not the client half-closing.

        gRPC's own limit (server.py) lets messages up to twice as large through to here, so that this refusal,
        not gRPC's, is what the client gets and the journal records: gRPC tells the servicer only that the call
        ended, which reads as a client gone (499)."""
        for chunk in request_iterator:
            size = chunk.ByteSize()
            if size > self.max_message_bytes:
                raise errors.PayloadTooLarge(
                    f"a chunk message of {size / 2**20:.2f} MB is larger than {self.max_message_bytes / 2**20:g} MB "
                    "(--max-body-mb); send shorter chunks (the vendor's SDK sends 30 s pieces).")
            yield chunk
        # gRPC ends the request iterator of a call it is cancelling (a message over its own cap, a dropped
        # connection) a moment before it runs the call's callbacks: without this wait such a call was answered
        # and journalled as a stream the client half-closed (200), as once in a CI run of the size test
        if cancelled.wait(CANCEL_SETTLE_SECONDS) and not context.is_active():
            raise Cancelled("the client cancelled the stream or went away.")

    def _identify(self, request_iterator, context, cancelled: threading.Event, record: dict):
        metadata = chunks.call_metadata(context.invocation_metadata())
        key = chunks.api_key(metadata, self.config.api_keys)
        record.update(key=auth.mask_key(key), tenant=auth.tenant_of(key))
        self._apply_fault(record["tenant"])
        settings = chunks.call_settings(metadata, self.config.api_keys)
        record["speaker_ids"] = list(settings.speaker_ids)
        service = self.state.service
        # the same first steps as sync and async identify: a stub registered through /_mock answers, else
        # the speakers are checked
        stubbed = service.prepare_identify(settings.tenant, settings.speaker_ids)
        if stubbed is not None:
            yield from self._stubbed(request_iterator, cancelled, stubbed, record)
            return
        stream = StreamIdentifier()
        count = 0
        carry = bytearray()                              # a headerless sample split between two chunks
        for chunk in request_iterator:
            if cancelled.is_set():
                raise Cancelled("the client cancelled the stream or went away.")
            try:
                offset = chunks.chunk_offset(chunk.segmentOffset)
                samples = chunks.decode_chunk(chunk, settings, target_rate=service.sample_rate,
                                              max_seconds=self.config.max_audio_seconds, carry=carry)
            except (errors.AudioTooLong, errors.PayloadTooLarge):
                raise
            except errors.ApiError as exc:           # this chunk is lost; the stream goes on
                yield pb.SegmentSpeaker(id=count, Error=f"{exc.code}: {exc.message}")
                count += 1
                continue
            if stream.received_seconds + len(samples) / service.sample_rate > self.config.max_audio_seconds:
                raise errors.AudioTooLong(
                    f"the stream would exceed {self.config.max_audio_seconds:.0f} s of audio (--max-audio-seconds); "
                    "open a new stream for the rest.")
            for answer in stream.add(samples, offset, _Judge(service, settings.tenant, settings.speaker_ids)):
                yield self._message(answer, count, record, settings.speaker_ids)
                count += 1
        for answer in stream.finish(_Judge(service, settings.tenant, settings.speaker_ids)):
            yield self._message(answer, count, record, settings.speaker_ids)
            count += 1

    def _stubbed(self, request_iterator, cancelled: threading.Event, segments: list[dict], record: dict):
        """A stubbed stream: the audio is taken (and not listened to), then the stub's segments are the answers,
        each with identification_score 1."""
        for _ in request_iterator:
            if cancelled.is_set():
                raise Cancelled("the client cancelled the stream or went away.")
        for count, segment in enumerate(segments):
            record["segments"].append(dict(segment))
            yield pb.SegmentSpeaker(id=count, speaker_id=segment["speaker_id"], start=segment["start"],
                                    end=segment["end"], identification_score=1.0)

    @staticmethod
    def _message(answer: Answer, count: int, record: dict, requested):
        # speech none of the requested voices fits has the REST answers' label (the vendor's UserNotIdentified)
        speaker_id = answer.speaker_id if answer.speaker_id in requested else UNKNOWN_SPEAKER
        record["segments"].append({"speaker_id": speaker_id, "start": answer.start, "end": answer.end})
        return pb.SegmentSpeaker(id=count, speaker_id=speaker_id, start=answer.start, end=answer.end,
                                 identification_score=answer.score)

    def _apply_fault(self, tenant: str) -> None:
        """An armed /_mock fault matching this call (method "GRPC", path IDENTIFY_PATH): delay, then fail."""
        if self.state.call_hooks is not None:
            self.state.call_hooks.before_call(GRPC_METHOD, IDENTIFY_PATH, tenant)

    def _fail(self, context, exc: BaseException, record: dict, started: float):
        code, message, status = _status(exc)
        record["status"] = status
        self._journal(record, started)
        context.abort(code, message)
        yield  # pragma: no cover - abort raises; this makes _fail a generator for `yield from`

    def _journal(self, record: dict, started: float) -> None:
        if self.state.call_hooks is None:
            return
        self.state.call_hooks.after_call(CallSummary(
            method=GRPC_METHOD, path=IDENTIFY_PATH, key=record["key"], tenant=record["tenant"],
            status=record["status"], duration_ms=round((time.perf_counter() - started) * 1000, 1),
            speaker_ids=record["speaker_ids"], segments=record["segments"]))

    def IdentifyEmotion(self, request_iterator, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, NOT_SERVED.format("IdentifyEmotion"))

    def DiarizeEmotion(self, request_iterator, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, NOT_SERVED.format("DiarizeEmotion"))
