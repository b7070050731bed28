"""Job runners' leases (core/jobs.py, store runners): when a runner counts as gone, so its jobs are taken over,
and what adoption takes. Real child processes stand for the runners' processes: a live one, a zombie, a pid
whose process is gone, a pid now used by a process started later. The end-to-end cases (kill -9 of a server
left unreaped, a second server on one data dir, --processes) are in test_durability.py and test_multiprocess.py.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from mock_server.core.jobs import HOST_ID, HUNG_SECONDS, LEASE_SECONDS, process_start, runner_gone
from mock_server.store import Runner, Store
from mock_server.testing import wait_until

pytestmark = pytest.mark.skipif(not HOST_ID, reason="needs Linux /proc (boot id, pid namespace)")


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


@pytest.fixture
def sleeper():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield child
    child.kill()
    child.wait()


@pytest.fixture
def zombie():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    start = process_start(child.pid)
    wait_until(lambda: _state(child.pid) == "Z", timeout=20)  # exited; not reaped until wait() below
    yield child, start
    child.wait()


def _reaped_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _runner(pid: int, start: str, *, host: str = HOST_ID, age: float = 0.0) -> Runner:
    return Runner(owner=f"{pid}:test", pid=pid, host=host, proc_start=start, heartbeat=time.time() - age)


def test_a_runner_whose_process_runs_here_keeps_its_jobs_until_it_is_hung(sleeper):
    start = process_start(sleeper.pid)
    assert start
    now = time.time()
    assert not runner_gone(_runner(sleeper.pid, start), now)
    assert not runner_gone(_runner(sleeper.pid, start, age=LEASE_SECONDS * 4), now)  # late, but provably alive
    assert runner_gone(_runner(sleeper.pid, start, age=HUNG_SECONDS + 1), now)


def test_a_zombie_is_gone_at_once(zombie):
    child, start = zombie
    assert runner_gone(_runner(child.pid, start), time.time())


def test_a_pid_now_used_by_a_process_started_later_is_not_its_old_runner(sleeper):
    earlier = str(int(process_start(sleeper.pid)) - 1)
    assert runner_gone(_runner(sleeper.pid, earlier), time.time())


def test_a_pid_with_no_process_is_gone_at_once():
    assert runner_gone(_runner(_reaped_pid(), "12345"), time.time())


def test_a_runner_on_another_machine_or_container_is_gone_only_when_its_lease_expired(sleeper):
    now = time.time()
    elsewhere = "other-boot-id/pid:[1]"
    start = process_start(sleeper.pid)
    assert not runner_gone(_runner(_reaped_pid(), start, host=elsewhere), now)  # its pid means nothing here
    assert not runner_gone(_runner(sleeper.pid, "1", host=elsewhere, age=LEASE_SECONDS - 2), now)
    assert runner_gone(_runner(sleeper.pid, start, host=elsewhere, age=LEASE_SECONDS + 1), now)
    assert runner_gone(_runner(sleeper.pid, "", age=LEASE_SECONDS + 1), now)  # start time unknown: lease only
    assert not runner_gone(_runner(sleeper.pid, "", age=1), now)


def _job(store: Store, request_id: str, owner: str | None) -> int:
    return store.create_job(request_id=request_id, tenant="t", api="diarization/identify", webhook="http://x/h",
                            params={"speakerIds": ["alice"]}, audio=None, owner=owner)


def test_adoption_takes_the_work_of_gone_runners_and_of_nobody_but_not_of_live_ones(tmp_path, sleeper, zombie):
    store = Store(tmp_path / "db")
    store.register_runner("me", pid=os.getpid(), host=HOST_ID, proc_start=process_start(os.getpid()))
    store.register_runner("sibling", pid=sleeper.pid, host=HOST_ID, proc_start=process_start(sleeper.pid))
    store.register_runner("zombie", pid=zombie[0].pid, host=HOST_ID, proc_start=zombie[1])
    sibling_queued, sibling_running = _job(store, "sq", "sibling"), _job(store, "sr", "sibling")
    assert store.claim_job(sibling_running, owner="sibling") is not None
    zombie_queued, zombie_running, zombie_owed = (_job(store, n, "zombie") for n in ("zq", "zr", "zo"))
    for job_id in (zombie_running, zombie_owed):
        assert store.claim_job(job_id, owner="zombie") is not None
    assert store.finish_job(zombie_owed, {"request_id": "zo", "response": {"segments": []}}, owner="zombie")
    assert store.claim_delivery(zombie_owed, owner="zombie") is not None  # its POST was under way
    nobodys = _job(store, "n", None)  # e.g. a data dir from before runners, or a runner that let go of it

    assert store.claim_job(zombie_queued, owner="me") is None  # held by another runner: not mine to run
    gone = [r for r in store.runners() if r.owner != "me" and runner_gone(r, time.time())]
    assert [r.owner for r in gone] == ["zombie"]
    adopted = store.adopt_jobs("me", gone=gone)
    assert [(job_id, status) for job_id, status, _ in adopted] == [
        (zombie_queued, "queued"), (zombie_running, "queued"), (zombie_owed, "done"), (nobodys, "queued")]
    assert [r.owner for r in store.runners()] == ["me", "sibling"]
    assert store.job(zombie_running).status == "queued"  # starts over
    assert store.claim_job(zombie_running, owner="me") is not None
    assert store.claim_delivery(zombie_owed, owner="me") is not None
    assert store.claim_job(sibling_queued, owner="me") is None  # the live sibling's stay its own
    assert store.job(sibling_running).status == "running"
    assert store.adopt_jobs("me") == [] and not store.has_orphaned_jobs()


def test_a_runner_heard_of_again_is_not_dropped(tmp_path, sleeper):
    store = Store(tmp_path / "db")
    store.register_runner("late", pid=sleeper.pid, host="elsewhere", proc_start="1")
    job_id = _job(store, "r", "late")
    seen = store.runners()
    time.sleep(0.01)
    store.register_runner("late", pid=sleeper.pid, host="elsewhere", proc_start="1")  # its heartbeat came in
    assert store.adopt_jobs("me", gone=seen) == []
    assert store.claim_job(job_id, owner="late") is not None


def test_a_stopping_runner_lets_go_of_its_work(tmp_path):
    store = Store(tmp_path / "db")
    store.register_runner("a", pid=os.getpid(), host=HOST_ID, proc_start=process_start(os.getpid()))
    queued, running = _job(store, "q", "a"), _job(store, "r", "a")
    assert store.claim_job(running, owner="a") is not None
    store.unregister_runner("a")
    assert store.runners() == [] and store.has_orphaned_jobs()
    assert [status for _, status, _ in store.adopt_jobs("b")] == ["queued", "queued"]
    assert store.claim_job(queued, owner="b") is not None and store.claim_job(running, owner="b") is not None
