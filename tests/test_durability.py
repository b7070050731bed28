"""Nothing accepted is lost: kill -9 mid-job, a webhook receiver that is down, SIGTERM with work in flight.

Real server processes (LiveServer) over a real --data-dir, real loopback receivers. Jobs are made slow
deterministically by giving them an audio url that the test holds back until it chooses to release it.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import threading
import time

import pytest
from conftest import b64
from test_limits import AudioHost

from mock_server.testing import LiveServer, WebhookReceiver, http_json, wait_until

KEY = "test-key"  # the key enrolled_db's speakers are under

pytestmark = pytest.mark.live  # every test here talks to a mock server process


def _post(url: str, body: dict, timeout: float = 60):
    return http_json("POST", url, body, timeout=timeout)


def _submit(server: LiveServer, webhook: str, request_id: str, body: dict) -> None:
    status, answer = _post(f"{server.url}/audio/generic/api/v2/async/diarization/identify?apikey={KEY}"
                           f"&webhook={webhook}&request_id={request_id}", body)
    assert status == 202 and answer["request_id"] == request_id, answer


@pytest.fixture
def data_dir(tmp_path, enrolled_db):
    data = tmp_path / "data"
    shutil.copytree(enrolled_db, data)
    return data


@pytest.fixture
def audio_host():
    host = AudioHost()
    yield host
    host.close()


def _request_ids(bodies) -> list[str]:
    return sorted(b["request_id"] for b in bodies)


def test_a_job_killed_mid_run_completes_after_restart_and_is_delivered_once(data_dir, audio_host):
    receiver = WebhookReceiver()
    server = LiveServer(data_dir=data_dir).start()
    try:
        _submit(server, receiver.url + "/h", "survivor", {"url": audio_host.url + "/held/1", "speakerIds": ["alice"]})
        assert audio_host.held.wait(20)  # the job is running: its worker is downloading
        server.kill()  # SIGKILL: no drain, the job's claim stays in the store
        assert receiver.for_request("survivor") == []
        audio_host.release.set()
        restarted = LiveServer(data_dir=data_dir).start()
        try:
            delivery = receiver.wait_for("survivor", timeout=30)
            assert {s["speaker_id"] for s in delivery.body["response"]["segments"]} == {"alice"}
        finally:
            assert restarted.stop() == 0
        assert audio_host.held_count == 2  # the job ran again from its stored request
        assert len(receiver.for_request("survivor")) == 1
    finally:
        server.stop()
        receiver.close()


def test_a_pending_webhook_survives_kill_9_and_is_delivered_once(data_dir):
    receiver = WebhookReceiver()
    receiver.fail_with = 503
    server = LiveServer("--webhook-backoff", "0.2", "--webhook-attempts", "50", data_dir=data_dir).start()
    try:
        _submit(server, receiver.url, "owed", {"content": b64("alice_short.flac"), "speakerIds": ["alice"]})
        receiver.wait_attempts(1, timeout=30)  # the job is done and its first POST was refused
        server.kill()
        receiver.fail_with = None
        restarted = LiveServer("--webhook-backoff", "0.2", data_dir=data_dir).start()
        try:
            body = receiver.wait_for("owed", timeout=30).body
            assert body["request_id"] == "owed" and body["response"]["segments"]
        finally:
            assert restarted.stop() == 0
        assert _request_ids(d.body for d in receiver.deliveries) == ["owed"]
    finally:
        server.stop()
        receiver.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _receiver_down_then_up(data_dir, down_seconds: float, *args: str) -> None:
    port = _free_port()  # nothing listens there yet: connection refused, like a receiver being redeployed
    server = LiveServer(*args, data_dir=data_dir).start()
    try:
        ids = [f"while-down-{n}" for n in range(3)]
        for request_id in ids:
            _submit(server, f"http://127.0.0.1:{port}/h", request_id,
                    {"content": b64("alice_short.flac"), "speakerIds": ["alice", "bob"]})
        time.sleep(down_seconds)  # the outage itself is what is being tested
        with WebhookReceiver(port=port) as receiver:
            for request_id in ids:
                receiver.wait_for(request_id, timeout=down_seconds + 60)
            assert server.stop() == 0
            assert sorted(str(d.body["request_id"]) for d in receiver.deliveries) == ids  # once each
    finally:
        server.stop()


def test_a_receiver_that_is_down_for_a_while_gets_every_result(data_dir):
    _receiver_down_then_up(data_dir, 3.0, "--webhook-backoff", "0.2", "--webhook-attempts", "12")


@pytest.mark.slow  # over a minute: the 30 s outage with the default retries
def test_a_receiver_down_for_30_seconds_gets_every_result_with_default_retries(data_dir):
    _receiver_down_then_up(data_dir, 30.0)


@pytest.mark.parametrize("processes", ["1", "2"])  # one waitress process, or gunicorn's master and two workers
def test_sigterm_drains_in_flight_work_and_exits_0(data_dir, audio_host, processes):
    receiver, sync_host = WebhookReceiver(), AudioHost()
    server = LiveServer("--processes", processes, "--drain-seconds", "20", data_dir=data_dir).start()
    try:
        _submit(server, receiver.url + "/h", "in-flight", {"url": audio_host.url + "/held/a", "speakerIds": ["bob"]})
        assert audio_host.held.wait(20)
        sync: dict = {}
        enroll = threading.Thread(target=lambda: sync.setdefault("answer", _post(
            f"{server.url}/audio/generic/api/v2/sync/diarization/enroll?apikey={KEY}",
            {"url": sync_host.url + "/held/s", "speakerId": "newcomer"})))
        enroll.start()
        assert sync_host.held.wait(20)  # a sync request is in flight too
        os.kill(server.process.pid, signal.SIGTERM)
        audio_host.release.set()
        sync_host.release.set()
        assert server.process.wait(40) == 0
        enroll.join(10)
        assert len(receiver.for_request("in-flight")) == 1  # delivered before the (worker) process exited
        assert sync["answer"][0] == 200 and sync["answer"][1]["message"] == "Success"  # answered, not cut off
    finally:
        server.stop()
        receiver.close()
        sync_host.close()


def test_work_left_at_the_drain_deadline_resumes_on_the_next_start(data_dir, audio_host):
    receiver = WebhookReceiver()
    server = LiveServer("--drain-seconds", "1", data_dir=data_dir).start()
    try:
        _submit(server, receiver.url + "/h", "unfinished", {"url": audio_host.url + "/held/b", "speakerIds": ["dave"]})
        assert audio_host.held.wait(20)
        started = time.monotonic()
        assert server.stop(timeout=15) == 0
        assert time.monotonic() - started < 10
        audio_host.release.set()
        restarted = LiveServer(data_dir=data_dir).start()
        try:
            receiver.wait_for("unfinished", timeout=30)
        finally:
            assert restarted.stop() == 0
        assert len(receiver.for_request("unfinished")) == 1
    finally:
        server.stop()
        receiver.close()


def _proc_state(pid: int) -> str:
    """The state letter of /proc/<pid>/stat (Z: a zombie, dead but not yet reaped by its parent)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_jobs_of_a_server_killed_and_left_unreaped_are_resumed_and_delivered_once(data_dir, audio_host):
    # kill -9 without waiting for the child: its pid stays in the process table as a zombie, which a liveness
    # test by pid alone (kill(pid, 0)) takes for a live owner of its claims.
    receiver = WebhookReceiver()
    receiver.fail_with = 503
    args = ("--job-workers", "2", "--webhook-backoff", "0.2", "--webhook-attempts", "50")
    server = LiveServer(*args, data_dir=data_dir).start()
    try:
        _submit(server, receiver.url + "/h", "owed", {"content": b64("alice_short.flac"), "speakerIds": ["alice"]})
        receiver.wait_attempts(1, timeout=30)  # done, its webhook owed (refused so far)
        held = [f"held-{n}" for n in range(4)]
        for request_id in held:
            _submit(server, receiver.url + "/h", request_id,
                    {"url": f"{audio_host.url}/held/{request_id}", "speakerIds": ["alice"]})
        wait_until(lambda: audio_host.held_count == 2, timeout=20)  # two running, two queued behind them
        server.process.kill()  # no wait(): nobody reaps it
        wait_until(lambda: _proc_state(server.process.pid) == "Z", timeout=10)
        receiver.fail_with = None
        restarted = LiveServer(*args, data_dir=data_dir).start()
        try:
            audio_host.release.set()
            for request_id in ["owed", *held]:
                receiver.wait_for(request_id, timeout=60)
            assert _proc_state(server.process.pid) == "Z"  # still unreaped while the restart did the work
        finally:
            assert restarted.stop() == 0
        assert _request_ids(d.body for d in receiver.deliveries) == sorted(["owed", *held])  # once each
        assert audio_host.held_count == 2 + 4  # the four held jobs ran (again) from their stored requests
    finally:
        server.process.wait(10)
        server.stop()
        receiver.close()


def test_a_second_server_on_the_same_data_dir_leaves_the_first_ones_jobs_alone(data_dir, audio_host):
    receiver = WebhookReceiver()
    audio_host.hold_seconds = 180  # held until released, however slowly the second server starts
    first = LiveServer("--job-workers", "1", "--url-timeout", "180", data_dir=data_dir).start()
    second = None
    try:
        _submit(first, receiver.url + "/h", "running", {"url": audio_host.url + "/held/r", "speakerIds": ["bob"]})
        assert audio_host.held.wait(20)
        # The first server's only worker is busy: this one waits in its queue, claimed by it in the store.
        _submit(first, receiver.url + "/h", "queued", {"url": audio_host.url + "/held/q", "speakerIds": ["bob"]})
        second = LiveServer(data_dir=data_dir).start()
        time.sleep(3.0)  # the second server's start-up pass and a few of its periodic ones
        assert audio_host.held_count == 1  # it took neither the running job nor the queued one
        jobs = {rid: http_json("GET", f"{second.url}/_mock/jobs/{rid}")[1]["jobs"][0]["status"]
                for rid in ("running", "queued")}
        assert jobs == {"running": "running", "queued": "queued"}
        audio_host.release.set()
        for request_id in ("running", "queued"):
            receiver.wait_for(request_id, timeout=60)
        assert first.stop() == 0 and second.stop() == 0
        assert _request_ids(d.body for d in receiver.deliveries) == ["queued", "running"]  # once each
        assert audio_host.held_count == 2
    finally:
        first.stop()
        if second is not None:
            second.stop()
        receiver.close()
