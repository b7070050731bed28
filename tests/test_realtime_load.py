"""Realtime under load and fuzz, over real gRPC: 8 concurrent streams beside REST identify calls (no lost answer,
no 5xx), and hypothesis-generated chunk fields (never a crash, the server stays healthy)."""
from __future__ import annotations

import base64
import math
import threading

import grpc
import pytest
from conftest import FIXTURES
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from realtime_helpers import check_answers, ier

from mock_server.realtime import deepaffects_realtime_pb2 as pb
from mock_server.realtime import deepaffects_realtime_pb2_grpc as pb_grpc
from mock_server.testing import LiveServer
from mock_server.testing.pytest_plugin import SpeakerIdServer
from mock_server.testing.realtime_client import stream_file, wav_pieces

SPEAKERS = ["alice", "bob", "carol"]
STREAMS = 8
REST_CALLS = 8


@pytest.fixture(scope="module")
def api():
    with LiveServer("--log-level", "WARNING", "--grpc-max-streams", str(STREAMS)) as server:
        api = SpeakerIdServer(server.url, "realtime-load", grpc_target=server.grpc_target)
        for speaker in ("alice", "bob", "carol", "dave"):
            api.enroll_voice(speaker)
        yield api


def test_eight_concurrent_streams_beside_rest_load(api):
    sync = api.identify(FIXTURES / "conversation.wav", SPEAKERS)["segments"]
    results, failures = {}, []

    def stream(i):
        try:
            results[i] = stream_file(api.grpc_target, FIXTURES / "conversation.wav", api_key=api.api_key,
                                     speaker_ids=SPEAKERS, chunk_seconds=4, timeout=120)
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(f"stream {i}: {exc!r}")

    def rest(i):
        status, _ = api.call("POST", "sync/diarization/identify",
                             {"speakerIds": SPEAKERS, "content": base64.b64encode(
                                 (FIXTURES / "conversation_8k.flac").read_bytes()).decode()})
        if status != 200:
            failures.append(f"rest {i}: HTTP {status}")

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(STREAMS)]
    threads += [threading.Thread(target=rest, args=(i,)) for i in range(REST_CALLS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not failures and len(results) == STREAMS
    for result in results.values():
        check_answers(result.answers, set(SPEAKERS), 30.0)
        assert len(result.segments) == len(sync) and ier(sync, result.segments) <= 0.05
    assert all(results[i].segments == results[0].segments for i in results)   # one recording, one answer


_WAV = wav_pieces(FIXTURES / "conversation.wav", 4.0)[1].content
_contents = st.one_of(st.just(_WAV), st.just(""), st.text(max_size=40),
                      st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode()),
                      st.just(base64.b64encode(b"RIFF" + b"\0" * 60).decode()),
                      st.just(_WAV[: len(_WAV) // 2]))
_floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 4.0, 1e7, -1.0]))
_chunks = st.builds(
    pb.SegmentChunk, id=st.integers(-2**31, 2**31 - 1), content=_contents,
    encoding=st.one_of(st.sampled_from(["", "wav", "WAV", "flac", "LINEAR16", "speex"]), st.text(max_size=10)),
    languageCode=st.text(max_size=8), sampleRate=st.integers(-2**31, 2**31 - 1),
    speakerIds=st.lists(st.text(max_size=8), max_size=3), segmentOffset=_floats, duration=_floats,
    Error=st.text(max_size=10))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunks=st.lists(_chunks, min_size=1, max_size=4))
def test_fuzzed_chunk_fields_get_answers_or_client_errors_never_a_crash(api, chunks):
    with grpc.insecure_channel(api.grpc_target) as channel:
        call = pb_grpc.DeepAffectsRealtimeStub(channel).IdentifySpeaker(
            iter(chunks), 60, metadata=[("apikey", api.api_key), ("speakerids", "alice,bob")])
        answers = []
        try:
            answers.extend(call)
        except grpc.RpcError as exc:
            assert exc.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED), exc
    errors = [a for a in answers if a.Error]
    turns = [a for a in answers if not a.Error]
    assert [a.id for a in answers] == list(range(len(answers)))
    assert len(errors) <= len(chunks)
    previous = -math.inf
    for a in turns:
        assert a.speaker_id in ("alice", "bob", "UserNotIdentified") and previous <= a.start < a.end
        assert 0.0 <= a.identification_score <= 1.0
        previous = a.end
    assert api.call("GET", "/health")[0] == 200


_ascii = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=24)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.one_of(st.none(), _ascii, st.just("realtime-load")),
       speakers=st.one_of(st.none(), _ascii, st.sampled_from(["alice", "alice,bob", " alice , ,bob ", "eve"])),
       encoding=st.one_of(st.none(), _ascii, st.just("wav")), rate=st.one_of(st.none(), _ascii))
@example(key="realtime-load", speakers="alice", encoding="wav", rate="inf")    # int(float("inf")): OverflowError
def test_fuzzed_metadata_gets_a_client_status_or_answers(api, key, speakers, encoding, rate):
    metadata = [(k, v) for k, v in (("apikey", key), ("speakerids", speakers), ("encoding", encoding),
                                    ("samplerate", rate)) if v is not None]
    with grpc.insecure_channel(api.grpc_target) as channel:
        call = pb_grpc.DeepAffectsRealtimeStub(channel).IdentifySpeaker(
            iter([pb.SegmentChunk(content=_WAV, encoding="wav")]), 60, metadata=metadata)
        try:
            answers = list(call)
        except grpc.RpcError as exc:
            assert exc.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INVALID_ARGUMENT), exc
            if not (key or "").strip():
                assert exc.code() == grpc.StatusCode.UNAUTHENTICATED
            return
    assert (key or "").strip() and [a.id for a in answers] == list(range(len(answers)))
