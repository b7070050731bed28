"""The realtime gRPC door end to end: a live mock on ephemeral ports, speakers enrolled over REST, audio streamed
over real gRPC with the vendor's own generated stubs (in a subprocess) and with the mock's."""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
import soundfile
from conftest import FIXTURES, fixture_samples
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from realtime_helpers import check_answers, ier, pipeline_turns, vendor_stream

from mock_server.realtime import deepaffects_realtime_pb2 as pb
from mock_server.realtime import deepaffects_realtime_pb2_grpc as pb_grpc
from mock_server.testing import LiveServer, http_text
from mock_server.testing.pytest_plugin import SpeakerIdServer
from mock_server.testing.realtime_client import stream_pieces, wav_pieces

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from pipeline_eval import with_noise  # noqa: E402

SPEAKERS = ["alice", "bob", "carol"]
CONVERSATION = FIXTURES / "conversation.wav"
SERVICE_NAME = "deepaffectsrealtime.DeepAffectsRealtime"


@pytest.fixture(scope="module")
def live():
    with LiveServer("--log-level", "WARNING") as server:
        yield server


@pytest.fixture(scope="module")
def api(live):
    """One key with the four fixture voices enrolled over REST."""
    api = SpeakerIdServer(live.url, "realtime-e2e", grpc_target=live.grpc_target)
    for speaker in ("alice", "bob", "carol", "dave"):
        api.enroll_voice(speaker)
    return api


def test_the_vendor_stubs_stream_a_live_conversation(api, voices):
    """4 s chunks paced like a live source (4x real time): answers arrive while audio still goes out, once per
    turn, with absolute times, and as accurate as sync identify on the same recording."""
    result = vendor_stream(api.grpc_target, CONVERSATION, api.api_key, SPEAKERS, chunk_seconds=4, speed=4)
    answers, sent = result["answers"], result["sent"]
    truth = voices["tests"]["conversation"]
    check_answers(answers, set(SPEAKERS), truth["duration"])
    assert not any(a["Error"] for a in answers)
    early = [a for a in answers if a["received"] < sent[-1]]
    assert len(early) >= len(answers) // 2, (sent, answers)          # live, not all at the end
    streamed = [{k: a[k] for k in ("speaker_id", "start", "end")} for a in answers]
    sync = api.identify(CONVERSATION, SPEAKERS)["segments"]
    assert abs(ier(truth["segments"], streamed) - ier(truth["segments"], sync)) <= 0.05
    assert ier(sync, streamed) <= 0.05
    assert len(answers) == len(sync)                                  # a turn across a chunk boundary: one answer
    assert all(a["identification_score"] > 0.5 for a in answers       # enrolled voices, clearly theirs
               if a["speaker_id"] in SPEAKERS)
    entry = next(e for e in api.requests() if e["method"] == "GRPC")
    assert entry["status"] == 200
    assert entry["path"] == "/deepaffectsrealtime.DeepAffectsRealtime/IdentifySpeaker"
    assert entry["segments"] == streamed and entry["speakerIds"] == SPEAKERS


def test_the_plugins_stream_works_in_a_process_that_loaded_the_vendors_stubs(api, voices):
    # a client's code under test imports the vendor's SDK; its tests stream through the plugin (the mock's own
    # stubs): protobuf refused the second set of the same messages while the mock's .proto had another file name
    script = ("import json, sys\n"
              "from deepaffects.realtime import deepaffects_realtime_pb2_grpc  # noqa: F401\n"
              "from mock_server.testing.realtime_client import stream_file\n"
              "result = stream_file(sys.argv[1], sys.argv[2], api_key=sys.argv[3],\n"
              "                     speaker_ids=sys.argv[4].split(','))\n"
              "print(json.dumps([a['speaker_id'] for a in result.answers]))\n")
    done = subprocess.run([sys.executable, "-c", script, api.grpc_target, str(CONVERSATION), api.api_key,
                           ",".join(SPEAKERS)], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert set(json.loads(done.stdout)) >= set(SPEAKERS)


def test_sdk_sized_chunks_are_answered_after_each_chunk(api, voices):
    """The SDK's 30 s pieces: two pieces here (file doubled by offset), the first one's turns answered before
    the second is sent, the second's times shifted by its segmentOffset."""
    pieces = wav_pieces(CONVERSATION, 30.0)
    assert len(pieces) == 1
    second = type(pieces[0])(pieces[0].content, pieces[0].duration, pieces[0].duration, pieces[0].rate)
    with grpc.insecure_channel(api.grpc_target) as channel:
        result = stream_pieces(pb_grpc.DeepAffectsRealtimeStub(channel), pb.SegmentChunk, [pieces[0], second],
                               api_key=api.api_key, speaker_ids=SPEAKERS, speed=8)
    duration = voices["tests"]["conversation"]["duration"]
    check_answers(result.answers, set(SPEAKERS), 2 * duration)
    first = [a for a in result.answers if a["end"] <= duration]
    assert first and all(a["received"] < result.sent[1] for a in first[:-1])
    shifted = [dict(s, start=round(s["start"] - duration, 2), end=round(s["end"] - duration, 2))
               for s in result.segments if s["start"] >= duration]
    assert ier(voices["tests"]["conversation"]["segments"], shifted) <= 0.1


@pytest.mark.parametrize("name, encoding, rate", [("conversation_8k.flac", "FLAC", 0), ("conversation.ogg", "OGG", 0),
                                                  ("conversation.raw", "LINEAR16", 16000)])
def test_any_encoding_rest_accepts(api, voices, name, encoding, rate):
    chunk = pb.SegmentChunk(content=base64.b64encode((FIXTURES / name).read_bytes()).decode("ascii"),
                            encoding=encoding, sampleRate=rate)
    with grpc.insecure_channel(api.grpc_target) as channel:
        answers = list(pb_grpc.DeepAffectsRealtimeStub(channel).IdentifySpeaker(
            iter([chunk]), 60, metadata=[("apikey", api.api_key), ("speakerids", ",".join(SPEAKERS))]))
    segments = [{"speaker_id": a.speaker_id, "start": a.start, "end": a.end} for a in answers]
    assert segments and not any(a.Error for a in answers)
    assert ier(voices["tests"]["conversation"]["segments"], segments) <= 0.1


@pytest.mark.parametrize("name", ["conversation.raw", "conversation.wav", "conversation.wav, data size 0"])
def test_raw_linear16_cut_at_any_byte_is_heard_as_sent(api, name):
    """A client reading a pipe or socket in n-byte pieces can cut a 16-bit sample in two: the stream carries the
    half sample into the next chunk, so 32001-byte chunks are heard as the 32000-byte ones (each chunk decoded on
    its own heard every other chunk byte-shifted: noise). The same for a WAV file cut so, its header in the first
    chunk: that chunk's half sample was dropped, and every later chunk heard byte-shifted."""
    raw = (FIXTURES / name.split(",")[0]).read_bytes()
    if name.endswith("data size 0"):   # a recorder that never filled in the size: read up to the end
        at = raw.index(b"data") + 4
        raw = raw[:at] + b"\0\0\0\0" + raw[at + 4:]
    metadata = [("apikey", api.api_key), ("speakerids", ",".join(SPEAKERS)), ("encoding", "LINEAR16"),
                ("samplerate", "16000")]

    def streamed(size: int) -> list[tuple]:
        pieces = [pb.SegmentChunk(content=base64.b64encode(raw[i:i + size]).decode("ascii"))
                  for i in range(0, len(raw), size)]
        with grpc.insecure_channel(api.grpc_target) as channel:
            answers = list(pb_grpc.DeepAffectsRealtimeStub(channel).IdentifySpeaker(iter(pieces), 60,
                                                                                   metadata=metadata))
        assert not any(a.Error for a in answers)
        return [(a.speaker_id, round(a.start, 2), round(a.end, 2)) for a in answers]

    even = streamed(32000)
    assert len(even) >= 6 and {s for s, _, _ in even} >= set(SPEAKERS)
    assert streamed(32001) == even


def test_a_stranger_is_unknown_with_a_high_unknown_score(api, voices):
    result = api.stream(FIXTURES / "stranger_conversation.flac", ["alice", "dave"], chunk_seconds=4)
    sync = api.identify(FIXTURES / "stranger_conversation.flac", ["alice", "dave"])["segments"]
    assert "UserNotIdentified" in {a["speaker_id"] for a in result.answers}
    assert ier(sync, result.segments) <= 0.05
    assert all(0 <= a["identification_score"] <= 1 for a in result.answers)


def test_turns_named_in_noisy_audio_score_above_one_half(api, voices, tmp_path):
    """identify raises the scores of noisy audio (pipeline decision.noise_shift); a streamed turn's
    identification_score must say the same as the decision that named it (> 0.5), not the unraised score."""
    x = fixture_samples("conversation.wav")
    path = tmp_path / "noisy.wav"
    soundfile.write(str(path), with_noise(x, 20.0, seed=1), 16000, subtype="PCM_16")
    result = api.stream(path, SPEAKERS, chunk_seconds=4)
    sync = api.identify(path, SPEAKERS)["segments"]
    named = [a for a in result.answers if a["speaker_id"] in SPEAKERS]
    assert ier(voices["tests"]["conversation"]["segments"], result.segments) <= 0.1
    assert ier(sync, result.segments) <= 0.05 and len(named) >= 6
    assert all(a["identification_score"] > 0.5 for a in named), named


def test_emotion_methods_are_declared_but_unimplemented(live):
    with grpc.insecure_channel(live.grpc_target) as channel:
        stub = pb_grpc.DeepAffectsRealtimeStub(channel)
        for method in (stub.IdentifyEmotion, stub.DiarizeEmotion):
            with pytest.raises(grpc.RpcError) as error:
                list(method(iter([pb.SegmentChunk()]), 10, metadata=[("apikey", "k")]))
            assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED
            assert "speaker identification only" in error.value.details()


def test_health_and_reflection(live):
    with grpc.insecure_channel(live.grpc_target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "deepaffectsrealtime.DeepAffectsRealtime"):
            status = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10).status
            assert status == health_pb2.HealthCheckResponse.SERVING
        reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
        requests = [reflection_pb2.ServerReflectionRequest(list_services=""),
                    reflection_pb2.ServerReflectionRequest(
                        file_containing_symbol="deepaffectsrealtime.DeepAffectsRealtime")]
        listed, described = list(reflect.ServerReflectionInfo(iter(requests), timeout=10))
    names = {s.name for s in listed.list_services_response.service}
    assert {"deepaffectsrealtime.DeepAffectsRealtime", "grpc.health.v1.Health"} <= names
    proto = descriptor_pb2.FileDescriptorProto.FromString(described.file_descriptor_response.file_descriptor_proto[0])
    assert proto.package == "deepaffectsrealtime"
    assert {m.name for m in proto.service[0].method} == {"IdentifySpeaker", "IdentifyEmotion", "DiarizeEmotion"}


def test_what_grpcurl_does_through_reflection_only(api):
    """The README's grpcurl lines (list, describe, Health/Check, IdentifySpeaker), done as grpcurl does them: no
    .proto and no generated stubs, every descriptor from the server's reflection service
    (ProtoReflectionDescriptorDatabase behind a fresh DescriptorPool), messages built by message_factory from
    JSON like grpcurl's -d."""
    from google.protobuf import descriptor_pool, json_format, message_factory
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    with grpc.insecure_channel(api.grpc_target) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        assert {"deepaffectsrealtime.DeepAffectsRealtime", "grpc.health.v1.Health",          # grpcurl list
                "grpc.reflection.v1alpha.ServerReflection"} <= set(database.get_services())
        pool = descriptor_pool.DescriptorPool(database)       # not the default pool the generated modules fill

        identify = pool.FindServiceByName("deepaffectsrealtime.DeepAffectsRealtime").methods_by_name[   # describe
            "IdentifySpeaker"]
        assert identify.client_streaming and identify.server_streaming
        chunk, answer = identify.input_type, identify.output_type
        assert (chunk.full_name, answer.full_name) == ("deepaffectsrealtime.SegmentChunk",
                                                       "deepaffectsrealtime.SegmentSpeaker")
        assert [(f.name, f.number) for f in chunk.fields] == [
            ("id", 1), ("content", 2), ("encoding", 3), ("languageCode", 4), ("sampleRate", 5), ("speakerIds", 6),
            ("segmentOffset", 7), ("duration", 8), ("Error", 9)]
        assert chunk is not pb.SegmentChunk.DESCRIPTOR
        check = pool.FindServiceByName("grpc.health.v1.Health").methods_by_name["Check"]
        assert check.input_type.fields_by_name["service"].type == check.input_type.fields_by_name["service"].TYPE_STRING

        def unary_unary(method):
            request, response = (message_factory.GetMessageClass(t) for t in (method.input_type, method.output_type))
            call = channel.unary_unary(f"/{method.containing_service.full_name}/{method.name}",
                                       request_serializer=request.SerializeToString,
                                       response_deserializer=response.FromString)
            return request, call

        # grpcurl -plaintext -d '{"service": "deepaffectsrealtime.DeepAffectsRealtime"}' HOST:PORT \
        #   grpc.health.v1.Health/Check
        request, call = unary_unary(check)
        reply = call(json_format.ParseDict({"service": SERVICE_NAME}, request()), timeout=10)
        assert json_format.MessageToDict(reply) == {"status": "SERVING"}

        # base64 -w0 fixtures/conversation.wav | jq -Rc '{content: ., encoding: "wav"}' |
        #   grpcurl -plaintext -H 'apikey: ...' -H 'speakerids: alice,bob,carol' -d @ HOST:PORT .../IdentifySpeaker
        chunk_class, answer_class = (message_factory.GetMessageClass(t) for t in (chunk, answer))
        stream = channel.stream_stream(f"/{identify.containing_service.full_name}/{identify.name}",
                                       request_serializer=chunk_class.SerializeToString,
                                       response_deserializer=answer_class.FromString)
        body = {"content": base64.b64encode(CONVERSATION.read_bytes()).decode("ascii"), "encoding": "wav"}
        answers = [json_format.MessageToDict(a, preserving_proto_field_name=True) for a in stream(
            iter([json_format.ParseDict(body, chunk_class())]), timeout=60,
            metadata=[("apikey", api.api_key), ("speakerids", ",".join(SPEAKERS))])]
    assert set(SPEAKERS) <= {a["speaker_id"] for a in answers} <= set(SPEAKERS) | {"UserNotIdentified"}
    assert len(answers) == pipeline_turns("conversation.wav", SPEAKERS) and not any("Error" in a for a in answers)


def test_no_grpc_and_a_busy_port(tmp_path):
    with LiveServer("--no-grpc") as server:
        assert server.url and server.grpc_target == ""
        busy = LiveServer("--grpc-port", server.url.rsplit(":", 1)[1])   # the REST port: taken
        with pytest.raises(RuntimeError) as error:
            busy.start()
        busy.close()
    assert "exited with 2" in str(error.value) and "cannot listen for gRPC" in str(error.value)


def test_the_dashboard_draws_a_timeline_per_stream(api):
    result = api.stream(FIXTURES / "conversation.wav", SPEAKERS, chunk_seconds=5)
    status, page = http_text("GET", api.url + "/_mock/ui", timeout=30)
    assert status == 200, page[:500]
    card = page.split("GRPC /deepaffectsrealtime.DeepAffectsRealtime/IdentifySpeaker", 1)[1].split("</svg>", 1)[0]
    drawn = card.count('class="segment"')
    assert drawn == len(result.segments) and all(f'data-speaker="{s}"' in card for s in SPEAKERS)


def test_the_readme_session_prints_what_the_readme_shows(tmp_path):
    """The README's realtime session, run as written (vendor stubs, its own process) against a mock with the
    fixture voices preloaded under "sandbox", as scripts/serve has them; its printed answers match the README's."""
    readme = (FIXTURES.parent / "README.md").read_text()
    section = readme.split("## Realtime (gRPC)", 1)[1]
    code, shown = re.search(r"```python\n(.*?)```\n```\n(.*?)```", section, re.S).groups()
    with LiveServer("--preload", str(FIXTURES / "speakers"), "--log-level", "WARNING") as server:
        script = tmp_path / "realtime_demo.py"
        script.write_text(code.replace("127.0.0.1:50051", server.grpc_target))
        env = dict(os.environ, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python", PYTHONPATH=str(FIXTURES.parent))
        done = subprocess.run([sys.executable, str(script)], cwd=FIXTURES.parent, env=env, capture_output=True,
                              text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [line.split() for line in done.stdout.splitlines()] == [line.split() for line in shown.splitlines()]


def test_several_processes_say_plainly_that_grpc_is_not_served():
    with LiveServer("--processes", "2", "--log-level", "WARNING") as server:
        assert server.grpc_target == ""
        assert "realtime gRPC is not served with --processes > 1" in server.log()


def test_the_plugin_fixture_streams_a_bundled_clip(speaker_id_server, enrolled_speakers):
    from mock_server.testing.pytest_plugin import clip_path
    assert speaker_id_server.grpc_target
    result = speaker_id_server.stream(clip_path("conversation.ogg"), ["alice", "bob", "carol"], chunk_seconds=5)
    sync = speaker_id_server.identify(clip_path("conversation.ogg"), ["alice", "bob", "carol"])["segments"]
    assert result.segments and ier(sync, result.segments) <= 0.05
    assert any(e["method"] == "GRPC" for e in speaker_id_server.requests())


def test_sigterm_lets_an_open_stream_finish_then_exits_0(voices):
    import threading
    with LiveServer("--drain-seconds", "30", "--log-level", "WARNING") as server:
        api = SpeakerIdServer(server.url, "drain", grpc_target=server.grpc_target)
        for speaker in SPEAKERS:
            api.enroll_voice(speaker)
        pieces, out = wav_pieces(CONVERSATION, 4.0), {}
        first = threading.Event()

        def chunks():
            for i, p in enumerate(pieces):
                if i == 2:
                    first.set()                       # two chunks in: the stream is open inside the servicer
                    time.sleep(0.5)
                yield pb.SegmentChunk(content=p.content, encoding="wav", segmentOffset=p.offset)

        def run():
            with grpc.insecure_channel(server.grpc_target) as channel:
                out["answers"] = list(pb_grpc.DeepAffectsRealtimeStub(channel).IdentifySpeaker(
                    chunks(), 60, metadata=[("apikey", api.api_key), ("speakerids", ",".join(SPEAKERS))]))

        client = threading.Thread(target=run)
        client.start()
        assert first.wait(30)
        server.process.terminate()                    # SIGTERM while the stream is open
        client.join(60)
        # wait for the exit the one SIGTERM asked for: a second one (server.stop) could land while the interpreter
        # finalises, when Python has put back the default handler, and kill it with -15
        code = server.process.wait(60)
    assert code == 0
    assert len(out.get("answers", [])) == pipeline_turns("conversation.wav", SPEAKERS)


def test_a_stub_answers_the_stream_as_it_answers_sync_and_async(speaker_id_server):
    """Stub, check, identify in the same order on every door: a stub for speakers nobody enrolled answers the
    stream too (its audio taken, not listened to), each turn with identification_score 1."""
    from mock_server.testing.pytest_plugin import clip_path
    segments = [{"speaker_id": "ghost", "start": 0.5, "end": 2.25}, {"speaker_id": "ghost", "start": 3.0, "end": 4.0}]
    speaker_id_server.stub(segments, speaker_ids=["ghost"])
    result = speaker_id_server.stream(clip_path("conversation.ogg"), ["ghost"], chunk_seconds=5)
    assert result.segments == segments
    assert [a["identification_score"] for a in result.answers] == [1.0, 1.0]
    assert speaker_id_server.identify(clip_path("conversation.ogg"), ["ghost"]) == {"segments": segments}
