"""state.py: MockState declares, typed, everything the rooms set on it (slotted: nothing can be added on the side)."""
from __future__ import annotations

import dataclasses
import re
import time

import pytest

from mock_server.app import state_of
from mock_server.state import MockState


def test_drained_is_declared_false_until_a_drain_sets_it(app):
    state = state_of(app)
    drained = {f.name: f for f in dataclasses.fields(MockState)}["drained"]
    assert drained.type == "bool" and drained.default is False
    assert state.drained is False
    state.drained = state.runner.stop(timeout=5)   # what server/main.py and server/processes.py do on SIGTERM
    assert state.drained is True


def test_an_attribute_not_declared_on_mock_state_cannot_be_set(app):
    with pytest.raises(AttributeError):
        state_of(app).undeclared = True


@pytest.mark.live
@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_server_stopped_with_nothing_in_flight_logs_that_it_drained(tmp_path, processes):
    """The server process (server/main.py) or each worker (server/processes.py) sets ``drained`` on SIGTERM and
    its last log line reads it."""
    from mock_server.testing import LiveServer

    server = LiveServer("--processes", processes, "--no-grpc", data_dir=tmp_path / "live").start()
    try:
        # start() returns once every worker is ready (a worker stopped while booting has nothing to drain)
        ready = re.findall(r"speaker-id-mock: worker \d+ ready", server.log())
        assert len(ready) == (int(processes) if processes != "1" else 0)      # one process has no workers
        assert server.stop() == 0
        log = server.log()
    finally:
        server.close()
    assert log.count("stopped (drained)") == int(processes), log[-2000:]
    assert "drain deadline reached" not in log


@pytest.mark.live
def test_a_server_stopped_while_a_request_outlives_the_drain_says_it_was_cut_off(tmp_path):
    """A sync request still running at --drain-seconds gets no answer; the last log line must not say "drained"
    (it read only the job runner's result)."""
    import threading

    from mock_server.testing import LiveServer, http_json

    server = LiveServer("--no-grpc", "--drain-seconds", "1", data_dir=tmp_path / "live").start()
    outcome: list = []
    try:
        fault = {"match": {"path": "get_enrolled_speakers"}, "delay_ms": 5000}
        assert http_json("POST", server.url + "/_mock/faults", fault)[0] in (200, 201)

        def slow_call():
            try:
                http_json("GET", server.url + "/audio/generic/api/v1/sync/diarization/get_enrolled_speakers?apikey=k",
                          timeout=30)
                outcome.append("answered")
            except OSError as exc:
                outcome.append(exc)

        caller = threading.Thread(target=slow_call)
        caller.start()
        time.sleep(0.5)                                  # the request is in flight, waiting out its delay
        assert server.stop() == 0
        caller.join(30)
        log = server.log()
    finally:
        server.close()
    assert outcome and outcome[0] != "answered"
    assert "stopped (drain deadline reached: requests still in flight were cut off)" in log, log[-2000:]
    assert "stopped (drained)" not in log


@pytest.mark.live
@pytest.mark.parametrize("open_stream", [False, True])
def test_a_realtime_stream_open_at_the_drain_deadline_is_named_in_the_last_log_line(tmp_path, open_stream):
    """With the gRPC door: nothing open, the server says it drained; a stream still open at --drain-seconds is
    cancelled, and the last log line says so."""
    import queue
    import threading

    import grpc
    from conftest import FIXTURES

    from mock_server.realtime import deepaffects_realtime_pb2 as pb
    from mock_server.realtime import deepaffects_realtime_pb2_grpc as pb_grpc
    from mock_server.testing import LiveServer

    server = LiveServer("--drain-seconds", "1", "--preload", str(FIXTURES / "speakers"),
                        data_dir=tmp_path / "live").start()
    chunks: queue.Queue = queue.Queue()
    ended: list = []
    channel = grpc.insecure_channel(server.grpc_target)
    try:
        if open_stream:
            def stream():
                try:
                    for _ in pb_grpc.DeepAffectsRealtimeStub(channel).IdentifySpeaker(
                            iter(chunks.get, None), 30, metadata=[("apikey", "sandbox"), ("speakerids", "alice")]):
                        pass
                    ended.append("completed")
                except grpc.RpcError as exc:
                    ended.append(exc.code())

            caller = threading.Thread(target=stream)
            caller.start()
            grpc.channel_ready_future(channel).result(timeout=10)
            chunks.put(pb.SegmentChunk(content=""))       # answered with an Error; the stream stays open
            time.sleep(0.5)
        assert server.stop() == 0
        if open_stream:
            caller.join(30)
        log = server.log()
    finally:
        chunks.put(None)
        channel.close()
        server.close()
    if open_stream:
        assert ended and ended[0] != "completed"
        assert "realtime streams still open were cancelled" in log, log[-2000:]
        assert "stopped (drained)" not in log
    else:
        assert "stopped (drained)" in log, log[-2000:]


def test_stored_voiceprints_are_parsed_one_thread_at_a_time(monkeypatch):
    """pipeline.load_npy (how the service reads stored voiceprints) from eight threads at once: numpy's header
    parser, ast.literal_eval, never runs in two of them together. In CPython 3.11 two threads building ASTs at once
    can raise "SystemError: AST constructor recursion depth mismatch" (gh-106905): once a 500 to one of eight racing
    enrollments in CI."""
    import ast
    import io
    import threading
    import time

    import numpy as np

    from mock_server.pipeline import load_npy
    real, guard = ast.literal_eval, threading.Lock()
    seen = {"inside": 0, "most": 0, "calls": 0}

    def observed(node):
        with guard:
            seen["inside"] += 1
            seen["calls"] += 1
            seen["most"] = max(seen["most"], seen["inside"])
        time.sleep(0.002)                                   # lets another thread in, were it not kept out
        try:
            return real(node)
        finally:
            with guard:
                seen["inside"] -= 1

    monkeypatch.setattr(ast, "literal_eval", observed)
    buffer = io.BytesIO()
    voiceprint = np.arange(129 * 38, dtype=np.float32).reshape(129, 38)
    np.save(buffer, voiceprint, allow_pickle=False)
    blob, wrong = buffer.getvalue(), []

    def parse() -> None:
        for _ in range(5):
            if not np.array_equal(load_npy(blob), voiceprint):
                wrong.append(1)

    threads = [threading.Thread(target=parse) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert seen["calls"] == 40 and not wrong                 # numpy parsed every header through literal_eval
    assert seen["most"] == 1
