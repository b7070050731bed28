"""--processes N: several worker processes over one socket and one SQLite store agree on everything."""
from __future__ import annotations

import os
import shutil
import signal
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import b64
from mock_server.testing import LiveServer, WebhookReceiver, http_json, wait_until

KEY = "test-key"
BASE = "/audio/generic/api/v2/sync/diarization"

pytestmark = pytest.mark.live  # every test here talks to a mock server process


def _call(server: LiveServer, path: str, body: dict | None = None) -> tuple[int, dict, int]:
    """(status, json body, pid that served it)."""
    headers: dict = {}
    status, answer = http_json("POST" if body is not None else "GET", server.url + path, body,
                               response_headers=headers)
    return status, answer, int(headers["X-Served-By"])


@pytest.fixture
def server(tmp_path, enrolled_db):
    data = tmp_path / "data"
    shutil.copytree(enrolled_db, data)
    live = LiveServer("--processes", "2", "--threads", "4", data_dir=data).start()
    yield live
    assert live.stop() == 0


def _children(server: LiveServer) -> set[int]:
    with open(f"/proc/{server.process.pid}/task/{server.process.pid}/children") as f:
        return {int(pid) for pid in f.read().split()}


def test_two_processes_share_enrollments_and_answer_identically(server):
    workers = _children(server)
    assert len(workers) == 2 and server.process.pid not in workers
    enrolled_by = []
    for n, file in enumerate(["stranger/eve1.wav", "stranger/eve2.wav", "stranger/eve1.wav"]):
        status, body, pid = _call(server, f"{BASE}/enroll?apikey={KEY}", {"content": b64(file), "speakerId": "eve"})
        assert status == 200 and body["message"] == ("Complete" if n == 2 else "Success")  # counts shared
        enrolled_by.append(pid)

    def identify(_):
        return _call(server, f"{BASE}/identify?apikey={KEY}",
                     {"content": b64("stranger_conversation.flac"), "speakerIds": ["alice", "eve"]})

    def listing(_):
        return _call(server, f"{BASE}/get_enrolled_speakers?apikey={KEY}")

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(identify, range(24))) + list(pool.map(listing, range(24)))
    assert {status for status, _, _ in answers} == {200}
    served = {pid for _, _, pid in answers}
    assert served == workers, f"served by {served}, workers {workers}"
    identified = [body["segments"] for _, body, _ in answers[:24]]
    assert all(segments == identified[0] for segments in identified)
    assert "eve" in {s["speaker_id"] for s in identified[0]}
    # eve was enrolled through some processes and identified by both: the store is what they share.
    assert any(pid not in enrolled_by for _, _, pid in answers[:24]) or len(set(enrolled_by)) == 2
    listed = [body for _, body, _ in answers[24:]]
    assert all(body == listed[0] for body in listed)
    assert [s["speaker_id"] for s in listed[0]["enrolled_speaker_ids"]] == ["alice", "bob", "carol", "dave", "eve"]


def test_a_delete_in_one_process_is_seen_by_the_other(server):
    assert _call(server, f"{BASE}/delete?apikey={KEY}", {"speakerId": "dave"})[0] == 200
    seen = {}
    for _ in range(40):
        status, body, pid = _call(server, f"{BASE}/identify?apikey={KEY}",
                                  {"content": b64("alice_short.flac"), "speakerIds": ["dave"]})
        seen[pid] = (status, body["error"]["code"])
        if len(seen) == 2:
            break
    assert len(seen) == 2 and set(seen.values()) == {(400, "unknown_speakers")}


def test_async_jobs_are_delivered_once_whichever_process_takes_them(server):
    with WebhookReceiver() as receiver:
        ids = [f"mp-{n}" for n in range(8)]
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda rid: _call(
                server, f"/audio/generic/api/v2/async/diarization/identify?apikey={KEY}&webhook={receiver.url}/h"
                        f"&request_id={rid}", {"content": b64("alice_short.flac"), "speakerIds": ["alice"]}), ids))
        assert {status for status, _, _ in answers} == {200}
        for rid in ids:
            receiver.wait_for(rid, timeout=60)
        assert server.stop() == 0  # drains both; nothing left to deliver twice
        assert sorted(str(d.body["request_id"]) for d in receiver.deliveries) == sorted(ids)


def test_a_dead_worker_is_replaced(server):
    before = _children(server)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    def replaced():  # the supervisor polls every 0.2 s; no event to wait on from outside
        now = _children(server)
        return now if len(now) == 2 and victim not in now else None

    now = wait_until(replaced, timeout=10, interval=0.05, message=f"worker {victim} not replaced")
    assert len(now) == 2 and victim not in now
    assert _call(server, "/health")[0] == 200
