"""--processes N under gunicorn: several worker processes over one socket and one SQLite store agree on
everything, the admin API's faults, stubs and journal included; SIGTERM drains; a killed worker is replaced
and its async job still delivered. Real processes on loopback; which worker served a call is its X-Served-By."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import b64

# The body-limit checks of test_limits, run again here against gunicorn (small_server below is a 2-worker one).
from test_limits import (  # noqa: F401
    AudioHost,
    test_a_413_names_the_endpoint_as_its_other_errors_do,
    test_a_chunked_body_is_cut_off_at_the_limit,
    test_a_huge_content_length_is_refused_at_once_without_reading_the_body,  # noqa: F401
)

from mock_server.testing import LiveServer, WebhookReceiver, http_json, wait_until

KEY = "test-key"
BASE = "/audio/generic/api/v2/sync/diarization"

pytestmark = pytest.mark.live  # every test here talks to a mock server process


def _call(server: LiveServer, path: str, body: dict | None = None, method: str | None = None
          ) -> tuple[int, dict, int]:
    """(status, json body, pid that served it)."""
    headers: dict = {}
    status, answer = http_json(method or ("POST" if body is not None else "GET"), server.url + path, body,
                               response_headers=headers)
    return status, answer, int(headers["X-Served-By"])


@pytest.fixture
def server(tmp_path, enrolled_db):
    data = tmp_path / "data"
    shutil.copytree(enrolled_db, data)
    live = LiveServer("--processes", "2", "--threads", "4", data_dir=data).start()
    yield live
    assert live.stop() == 0


@pytest.fixture(scope="module")
def small_server(tmp_path_factory):
    live = LiveServer("--processes", "2", "--max-body-mb", "1", data_dir=tmp_path_factory.mktemp("limits")).start()
    yield live
    assert live.stop() == 0


def _children(server: LiveServer) -> set[int]:
    with open(f"/proc/{server.process.pid}/task/{server.process.pid}/children") as f:
        return {int(pid) for pid in f.read().split()}


def test_two_processes_share_enrollments_and_answer_identically(server):
    workers = _children(server)
    assert len(workers) == 2 and server.process.pid not in workers
    enrolled_by = []
    totals = []
    for n, file in enumerate(["stranger/eve1.wav", "stranger/eve2.wav", "stranger/eve1.wav"]):
        status, body, pid = _call(server, f"{BASE}/enroll?apikey={KEY}", {"content": b64(file), "speakerId": "eve"})
        assert status == 200 and body["enrollment_complete"] is (n >= 1)  # totals shared: 8 s, then 16 s of speech
        totals.append(body["total_speech_duration"])
        enrolled_by.append(pid)
    assert totals == sorted(totals) and len(set(totals)) == 3

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
        seen[pid] = (status, body["fault"]["detail"]["code"])
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
        assert {status for status, _, _ in answers} == {202}
        for rid in ids:
            receiver.wait_for(rid, timeout=60)
        assert server.stop() == 0  # drains both; nothing left to deliver twice
        assert sorted(str(d.body["request_id"]) for d in receiver.deliveries) == sorted(ids)


def test_a_dead_worker_is_replaced(server):
    before = _children(server)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    now = _wait_for_replacement(server, victim)
    assert len(now) == 2 and victim not in now
    assert _call(server, "/health")[0] == 200


def test_a_worker_leaving_keeps_the_url_file(server):
    # a worker's own exit passes through the code that removes --url-file when the server stops
    victim = min(_children(server))
    os.kill(victim, signal.SIGTERM)
    _wait_for_replacement(server, victim)
    assert list(server.data_dir.glob("url-*.txt")) and _call(server, "/health")[0] == 200


def _wait_for_replacement(server: LiveServer, victim: int) -> set[int]:
    """The worker pids once ``victim`` is gone and another took its place (gunicorn's master replaces it; no
    event to wait on from outside)."""
    def replaced():
        now = _children(server)
        return now if len(now) == 2 and victim not in now else None

    return wait_until(replaced, timeout=20, interval=0.05, message=f"worker {victim} not replaced")


def _until_served_by_both(server: LiveServer, call, tries: int = 200) -> dict[int, tuple[int, dict]]:
    """Repeat ``call()`` (-> status, body, pid) until both workers answered; {pid: (status, body)}."""
    seen: dict[int, tuple[int, dict]] = {}
    for _ in range(tries):
        status, body, pid = call()
        seen.setdefault(pid, (status, body))
        if len(seen) == 2:
            break
    assert len(seen) == 2, f"only {set(seen)} answered in {tries} calls"
    return seen


LIST = f"{BASE}/get_enrolled_speakers?apikey={KEY}"


def test_a_fault_armed_through_one_worker_fails_the_calls_the_other_serves(server):
    status, armed, armed_by = _call(server, "/_mock/faults", {"match": {"path": "get_enrolled_speakers"},
                                                               "times": 1000, "status": 503})
    assert status == 200
    seen = _until_served_by_both(server, lambda: _call(server, LIST))
    assert armed_by in seen  # and so is the other worker
    assert {pid: (status, body["fault"]["detail"]["code"]) for pid, (status, body) in seen.items()} == {
        pid: (503, "injected_fault") for pid in seen}
    listed = _until_served_by_both(server, lambda: _call(server, "/_mock/faults"))
    assert all(body["faults"][0]["id"] == armed["fault"]["id"] for _, body in listed.values())
    assert _call(server, "/_mock/faults", method="DELETE")[0] == 200
    assert {status for status, _ in _until_served_by_both(server, lambda: _call(server, LIST)).values()} == {200}


def test_a_fault_armed_for_n_calls_fails_exactly_n_whichever_worker_serves_them(server):
    assert _call(server, "/_mock/faults", {"match": {"path": "get_enrolled_speakers"}, "times": 7,
                                           "status": 500})[0] == 200
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: _call(server, LIST), range(40)))
    assert sorted(status for status, _, _ in answers) == [200] * 33 + [500] * 7
    assert {pid for _, _, pid in answers} == _children(server)
    assert _call(server, "/_mock/faults")[1] == {"faults": []}


def test_a_stub_registered_through_one_worker_answers_in_the_other(server):
    segments = [{"speaker_id": "UserNotIdentified", "start": 0.25, "end": 1.75}]
    status, _, stubbed_by = _call(server, "/_mock/stubs", {"match": {"speakerIds": ["alice"]},
                                                            "response": {"segments": segments}})
    assert status == 200
    seen = _until_served_by_both(server, lambda: _call(server, f"{BASE}/identify?apikey={KEY}", {
        "content": b64("alice_short.flac"), "speakerIds": ["alice"]}))
    assert stubbed_by in seen
    assert {pid: answer for pid, answer in seen.items()} == {pid: (200, {"segments": segments}) for pid in seen}


def test_every_worker_records_into_and_reads_the_same_journal(server):
    assert _call(server, "/_mock/reset", {})[0] == 200
    # calls until both workers served some (the kernel decides who accepts; 12 in a row may all go to one)
    served: list[int] = []
    while len(served) < 12 or set(served) != _children(server):
        assert len(served) < 90, f"only {set(served)} served 90 calls"  # under the journal's default limit (100)
        served.append(_call(server, f"{LIST}&n={len(served)}")[2])
    journals = _until_served_by_both(server, lambda: _call(server, f"/_mock/requests?apikey={KEY}"))
    for status, body in journals.values():
        assert status == 200 and len(body["requests"]) == len(served)
        assert all(entry["path"].endswith("get_enrolled_speakers") for entry in body["requests"])
    first, second = (body for _, body in journals.values())
    assert first == second


def test_a_job_whose_worker_is_killed_is_done_by_another_worker(server):
    # Both workers booted first. The killed one's job is taken over by the survivor (at its next heartbeat) or
    # by the replacement (at its start), whichever looks first; once either way.
    _until_served_by_both(server, lambda: _call(server, LIST))
    audio, receiver = AudioHost(), WebhookReceiver()
    try:
        assert _call(server, "/_mock/faults", {"match": {"path": "get_enrolled_speakers"}, "times": 1000,
                                               "status": 502})[0] == 200
        status, _, runner = _call(server, f"/audio/generic/api/v2/async/diarization/identify?apikey={KEY}"
                                          f"&webhook={receiver.url}/h&request_id=orphan",
                                  {"url": audio.url + "/held/o", "speakerIds": ["alice"]})
        assert status == 202 and audio.held.wait(20)  # the worker that accepted the job is running it
        os.kill(runner, signal.SIGKILL)
        audio.release.set()
        now = _wait_for_replacement(server, runner)
        assert len(now) == 2 and runner not in now
        delivery = receiver.wait_for("orphan", timeout=60)
        assert {s["speaker_id"] for s in delivery.body["response"]["segments"]} == {"alice"}
        assert audio.held_count == 2  # run again from its stored request
        # What the admin API armed lives in the store, so the new worker honours it too.
        seen = _until_served_by_both(server, lambda: _call(server, LIST))
        assert {status for status, _ in seen.values()} == {502} and set(seen) == now
    finally:
        receiver.close()
        audio.close()


def test_a_workers_jobs_are_left_to_it_by_a_sibling_booting_later_and_by_the_others_heartbeats(
        tmp_path, enrolled_db):
    # Every worker takes over the work of runners that are gone, at its start and then at each heartbeat; a live
    # sibling's running and queued jobs are not that (a booting worker used to take the queued ones).
    data = tmp_path / "data"
    shutil.copytree(enrolled_db, data)
    server = LiveServer("--processes", "2", "--job-workers", "1", "--url-timeout", "180", data_dir=data).start()
    audio, receiver = AudioHost(), WebhookReceiver()
    audio.hold_seconds = 180  # held until released, however slowly the new worker boots
    try:
        _until_served_by_both(server, lambda: _call(server, LIST))
        accepted: dict[int, list[str]] = {}
        while max((len(ids) for ids in accepted.values()), default=0) < 2:  # at most 3 jobs, 2 workers
            request_id = f"held-{sum(map(len, accepted.values()))}"
            status, _, pid = _call(server, f"/audio/generic/api/v2/async/diarization/identify?apikey={KEY}"
                                           f"&webhook={receiver.url}/h&request_id={request_id}",
                                   {"url": f"{audio.url}/held/{request_id}", "speakerIds": ["alice"]})
            assert status == 202
            accepted.setdefault(pid, []).append(request_id)
        holder = next(pid for pid, ids in accepted.items() if len(ids) == 2)
        running, queued = accepted[holder]  # its one job worker is busy with the first; the second waits
        wait_until(lambda: audio.held_count == len(accepted), timeout=20)
        before = _children(server)
        os.kill(server.process.pid, signal.SIGTTIN)  # gunicorn's master: one worker more
        newcomer = wait_until(lambda: (_children(server) - before or {0}).pop(), timeout=20)
        # until the new worker serves (its job runner started before that)
        wait_until(lambda: _call(server, LIST)[2] == newcomer, timeout=60, interval=0,
                   message=f"the new worker {newcomer} served no call")
        time.sleep(3.0)  # a few heartbeats of every worker

        def status_of(request_id: str) -> str:
            return _call(server, f"/_mock/jobs/{request_id}")[1]["jobs"][0]["status"]

        assert (status_of(running), status_of(queued)) == ("running", "queued")
        audio.release.set()
        ids = sorted(request_id for ids in accepted.values() for request_id in ids)
        for request_id in ids:
            receiver.wait_for(request_id, timeout=60)
        assert server.stop() == 0
        assert sorted(str(d.body["request_id"]) for d in receiver.deliveries) == ids  # once each
    finally:
        server.stop()
        receiver.close()
        audio.close()


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_restart_begins_with_no_faults_stubs_or_journal_but_the_speakers(tmp_path, enrolled_db, processes):
    data = tmp_path / "data"
    shutil.copytree(enrolled_db, data)
    first = LiveServer("--processes", processes, data_dir=data).start()
    try:
        assert _call(first, "/_mock/faults", {"status": 503, "times": 5})[0] == 200
        assert _call(first, "/_mock/stubs", {"response": {"segments": []}})[0] == 200
        assert _call(first, LIST)[0] == 503
    finally:
        assert first.stop() == 0
    again = LiveServer("--processes", processes, data_dir=data).start()
    try:
        assert _call(again, "/_mock/faults")[1] == {"faults": []}
        assert _call(again, "/_mock/stubs")[1] == {"stubs": []}
        assert _call(again, "/_mock/requests")[1] == {"requests": []}
        assert _call(again, "/_mock/faults", {"status": 500})[1]["fault"]["id"] == "fault-1"  # ids start over
        assert _call(again, LIST)[0] == 500  # the fault just armed
        _call(again, "/_mock/faults", method="DELETE")
        status, listed, _ = _call(again, LIST)
        assert status == 200 and len(listed["enrolled_speaker_ids"]) == 4  # the store's speakers stay
    finally:
        assert again.stop() == 0


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="tells a live process from a gone one through /proc")
@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_server_started_by_a_test_run_that_is_killed_stops_too(tmp_path, processes):
    # a pytest run killed by a CI timeout (SIGTERM, SIGKILL) runs no fixture teardown: LiveServer's server, started
    # with --exit-with-parent, must not live on
    script = ("import sys, time\nfrom mock_server.testing import LiveServer\n"
              f"live = LiveServer('--processes', '{processes}', '--no-grpc', data_dir=sys.argv[1]).start()\n"
              "print(live.process.pid, flush=True)\ntime.sleep(120)\n")
    runner = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    server = 0
    try:
        server = int(runner.stdout.readline())
        assert _running(server)
        runner.kill()
        runner.wait(10)
        deadline = time.monotonic() + 20
        while _running(server) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(server), "the server outlived the process that started it"
    finally:
        runner.kill()
        runner.wait(10)
        runner.stdout.close()
        if server and _running(server):   # failed: no server outlives the test
            os.kill(server, signal.SIGKILL)


def _running(pid: int) -> bool:
    """Whether ``pid`` is a process that is not a zombie (an orphan's zombie waits for init to reap it)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            return not any(line.startswith("State:") and "Z" in line.split()[1] for line in status)
    except FileNotFoundError:
        return False
