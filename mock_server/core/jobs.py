"""Async identify jobs: a bounded worker pool that runs them, and a scheduler that delivers their webhooks.

Every job and every pending delivery lives in the store first, so a crash or a restart loses nothing. Each
runner (one per server process) registers in the store and holds the jobs it accepted or adopted (``claimed_by``)
until they are done and their webhooks delivered or given up; nobody else runs or POSTs them, so two runners
(gunicorn workers, or two servers on one data dir) never do the same job twice.

Holding is a lease: a runner refreshes its heartbeat every HEARTBEAT_SECONDS, and every runner, at start and
then at each heartbeat, adopts the work of runners that are gone (a running job starts over). Gone means, for a
runner on this machine (same boot and pid namespace), that its process no longer exists, is a zombie, or its pid
now belongs to a process started at another time; where that cannot be checked (another machine or container),
that it has not heartbeated for LEASE_SECONDS. A stopping runner lets go of what it still holds.
"""
from __future__ import annotations

import heapq
import logging
import os
import queue
import threading
import time
import urllib.parse
import uuid
from collections import Counter, deque
from typing import Callable

from mock_server import errors
from mock_server.audio import AudioSource
from mock_server.core.config import ServerConfig
from mock_server.core.service import SpeakerService
from mock_server.core.webhooks import Attempt, backoff_delay, deliver_webhook
from mock_server.store import Job, Runner, Store
from mock_server.urls import mask_url

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 1.0    # how often a runner renews its lease and looks for work of runners that are gone
LEASE_SECONDS = 15.0       # a runner whose process cannot be checked is gone once not heard of for this long
HUNG_SECONDS = 600.0       # one whose process still runs here but has not heartbeated for this long is hung
STORE_RETRY_SECONDS = (0.5, 30.0)   # first and longest wait before writing again to a store that failed a write
DELIVERY_THREADS = 8       # webhook POSTs under way at once
PER_RECEIVER = 2           # ... to one receiver (a webhook url without its query), and
PER_HOST = 3               # ... to one host (scheme, host and port): receivers that never answer, each POST held for
                           # up to --webhook-timeout, take at most these many threads, and the others' POSTs go on
                           # (tests often give each case its own path on one local receiver)


class JobRunner:
    """Runs queued identify jobs on ``job_workers`` threads and delivers their webhooks with retries."""

    def __init__(self, store: Store, service: SpeakerService, config: ServerConfig,
                 *, before_delivery: Callable[[Job], Attempt | None] | None = None):
        self.store = store
        self.service = service
        self.config = config
        self.owner = f"{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # (job id, admitted) items; admitted ones hold one of the job_queue_size slots until a worker takes them.
        # The queue itself is unbounded so the adoption pass never blocks; admission is bounded by the slots.
        self._jobs: queue.Queue[tuple[int, bool] | None] = queue.Queue()
        self._slots = threading.BoundedSemaphore(config.job_queue_size)
        self._delivering = 0
        self._due: list[tuple[float, int]] = []  # heap of (time, job id) webhook deliveries
        self._receiver: dict[int, tuple[str, str]] = {}   # job id -> its webhook's (receiver, host), if known
        self._held: dict[str, deque[tuple[float, int, str]]] = {}   # receiver -> its due (time, job id, host)
        self._posting: Counter[str] = Counter()            # receiver -> POSTs to it under way
        self._posting_host: Counter[str] = Counter()       # host -> POSTs to it under way
        self._due_changed = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._draining = threading.Event()  # set by stop(): keep the lease, adopt nothing more
        self._registered = False
        self._busy = 0
        self._busy_lock = threading.Lock()
        # Lets the admin API fail or delay deliveries; returns an Attempt to use instead of a real POST.
        self.before_delivery = before_delivery

    # --- life cycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._heartbeat()  # registered before it holds anything: a runner adopts what no registered one holds
        self._registered = True
        for n in range(self.config.job_workers):
            self._spawn(self._work, f"job-worker-{n}")
        for n in range(DELIVERY_THREADS):
            self._spawn(self._deliver_loop, f"webhook-{n}")
        self._spawn(self._lease_loop, "job-leases")

    def _spawn(self, target, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> bool:
        """Finish queued and running jobs, and the webhook POSTs due now, within ``timeout``.

        Returns True when everything got done. What is left (jobs still queued or running at the deadline, webhook
        retries due later) stays in the store, let go of: a server still running on it takes it over, or the next
        start does.
        """
        deadline = time.monotonic() + timeout
        self._draining.set()
        drained = self.wait_idle(timeout) and self._wait_deliveries(max(0.0, deadline - time.monotonic()))
        self._stopping.set()
        for _ in range(self.config.job_workers):
            self._jobs.put(None)
        with self._due_changed:
            self._due_changed.notify_all()
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._registered:
            self._registered = False
            try:  # what is left (queued, running past the deadline, retries due later) goes to another runner
                self.store.unregister_runner(self.owner)
            except Exception:  # it is then taken over once this process is gone
                log.exception("could not hand back the unfinished jobs of runner %s", self.owner)
        return drained

    def wait_idle(self, timeout: float) -> bool:
        """Block until no job is queued or running (webhook retries may still be scheduled)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._busy_lock:
                if self._busy == 0 and self._jobs.empty():
                    return True
            time.sleep(0.02)
        return False

    def _wait_deliveries(self, timeout: float) -> bool:
        """Block until no webhook POST is running or due now."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._due_changed:
                if self._delivering == 0 and not self._held and not (self._due and self._due[0][0] <= time.time()):
                    return True
            time.sleep(0.02)
        return False

    # --- jobs ---------------------------------------------------------------------------------------------------

    def submit(self, *, request_id: str, tenant: str, api: str, webhook: str, speaker_ids: list[str],
               source: AudioSource, stubbed: list[dict] | None = None) -> None:
        """Store a job, then queue it; refuse with 429 when the queue is full (nothing is stored then).

        ``stubbed``: canned segments (from /_mock/stubs) the job answers with instead of listening."""
        if not self._slots.acquire(blocking=False):
            raise errors.QueueFull(f"the async queue is full ({self.config.job_queue_size} jobs); retry shortly.",
                                   headers={"Retry-After": "1"})
        params = {"speakerIds": speaker_ids, "encoding": source.encoding, "sampleRate": source.sample_rate,
                  "url": source.url}
        if stubbed is not None:
            params["stubbedSegments"] = stubbed
        try:
            job_id = self.store.create_job(request_id=request_id, tenant=tenant, api=api, webhook=webhook,
                                           params=params, audio=source.content,
                                           owner=self.owner if self._registered else None)
        except BaseException:
            self._slots.release()
            raise
        self._jobs.put((job_id, True))

    # --- leases -------------------------------------------------------------------------------------------------

    def _heartbeat(self) -> None:
        self.store.register_runner(self.owner, pid=os.getpid(), host=HOST_ID, proc_start=process_start(os.getpid()))

    def _lease_loop(self) -> None:
        """Renew this runner's lease, and take over the work of runners that are gone: at start (what a previous
        run left) and then at every heartbeat (a sibling process that died while this one runs)."""
        while True:
            try:
                self._heartbeat()
                if not self._draining.is_set():
                    self._adopt()
            except Exception:
                log.exception("job lease pass failed; trying again in %.0f s", HEARTBEAT_SECONDS)
            if self._stopping.wait(HEARTBEAT_SECONDS):
                return

    def _adopt(self) -> None:
        now = time.time()
        gone = [r for r in self.store.runners() if r.owner != self.owner and runner_gone(r, now)]
        if not gone and not self.store.has_orphaned_jobs():
            return
        adopted = self.store.adopt_jobs(self.owner, gone=gone)
        for runner in gone:
            log.info("job runner %s (pid %s) is gone; its unfinished jobs are taken over", runner.owner, runner.pid)
        try:
            owed = self.store.webhook_urls([job_id for job_id, status, _ in adopted if status != "queued"])
        except Exception:  # adopted is committed: schedule them anyway, each as a receiver of its own
            log.exception("could not read the webhooks of %d adopted job(s)", len(adopted))
            owed = {}
        for job_id, status, next_attempt in adopted:
            if status == "queued":
                self._jobs.put((job_id, False))
            else:
                self.schedule_delivery(job_id, next_attempt, owed.get(job_id))
        if adopted:
            log.info("took over %d unfinished job(s)", len(adopted))

    def _work(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            job_id, admitted = item
            with self._busy_lock:
                self._busy += 1
            if admitted:
                self._slots.release()
            try:
                self._run(job_id)
            except Exception:
                log.exception("job %s failed unexpectedly", job_id)
            finally:
                with self._busy_lock:
                    self._busy -= 1

    def _stored(self, write: Callable, what: str):
        """``write()``, tried again while the store is unavailable (errors.StoreUnavailable: a full disk, a lock
        held past the busy timeout), with waits doubling from STORE_RETRY_SECONDS[0] to [1], until it succeeds or
        the runner stops (then the error is raised). A job or delivery whose state could not be written is not
        dropped: nobody else takes over the work of a runner that is alive."""
        wait, warned = STORE_RETRY_SECONDS[0], False
        while True:
            try:
                return write()
            except errors.StoreUnavailable as exc:
                if self._stopping.is_set():
                    raise
                if not warned:
                    log.warning("%s: %s Trying again until it can be written.", what, exc.message)
                    warned = True
                self._stopping.wait(wait)
                wait = min(2 * wait, STORE_RETRY_SECONDS[1])

    def _run(self, job_id: int) -> None:
        job = self._stored(lambda: self.store.claim_job(job_id, owner=self.owner), f"starting job {job_id}")
        if job is None:
            return  # another runner holds it, or it is running or done already
        source = AudioSource(content=job.audio, url=job.params.get("url"), encoding=job.params.get("encoding"),
                             sample_rate=job.params.get("sampleRate"))
        try:
            segments = job.params.get("stubbedSegments")
            if segments is None:   # a store failing to read the voices is waited for, not the job's answer
                segments = self._stored(lambda: self.service.listen(job.tenant, job.params["speakerIds"], source),
                                        f"reading the voices of job {job.id}")
            response: dict = {"segments": segments}
        except errors.StoreUnavailable:   # only while stopping: the job stays running, and is taken over next start
            raise
        except errors.ApiError as exc:
            response = exc.to_dict(api="identify")
        except Exception:
            log.exception("async job %s crashed", job.request_id)
            response = errors.fault_body(status=500, code="internal_error", api="identify",
                                         message="The mock server failed on this job; this is a bug, please report "
                                                 "it.")
        result = {"request_id": job.request_id, "response": response}
        if self._stored(lambda: self.store.finish_job(job.id, result, owner=self.owner),
                        f"storing the result of job {job.id}"):
            self.schedule_delivery(job.id, time.time(), job.webhook)
        else:
            log.warning("job %s was taken over by another runner while it ran; keeping that one's result", job.id)

    # --- webhooks -----------------------------------------------------------------------------------------------

    def schedule_delivery(self, job_id: int, when: float, webhook: str | None = None) -> None:
        """POST job_id's result at ``when`` (epoch s) to its ``webhook`` (None: unknown, counted as a receiver and
        host of its own)."""
        with self._due_changed:
            if webhook is not None:
                self._receiver[job_id] = _receiver(webhook)
            heapq.heappush(self._due, (when, job_id))
            self._due_changed.notify()

    def _next_due(self) -> tuple[int, str, str] | None:
        """The delivery to POST now: of those due, the earliest whose receiver has fewer than PER_RECEIVER and whose
        host fewer than PER_HOST POSTs under way; (job id, receiver, host), taken off the schedule, or None.
        Deliveries come due into a queue per receiver, so a choice looks at each receiver's first one only: a
        backlog for one busy receiver costs nothing per choice. Called with _due_changed held."""
        now = time.time()
        while self._due and self._due[0][0] <= now:
            when, job_id = heapq.heappop(self._due)
            receiver, host = self._receiver.pop(job_id, (f"job {job_id}", f"job {job_id}"))
            self._held.setdefault(receiver, deque()).append((when, job_id, host))
        best: tuple[float, str] | None = None
        for receiver, waiting in self._held.items():
            when, _, host = waiting[0]
            if (self._posting[receiver] < PER_RECEIVER and self._posting_host[host] < PER_HOST
                    and (best is None or when < best[0])):
                best = (when, receiver)
        if best is None:
            return None
        waiting = self._held[best[1]]
        _, job_id, host = waiting.popleft()
        if not waiting:
            del self._held[best[1]]
        return job_id, best[1], host

    def _deliver_loop(self) -> None:
        while not self._stopping.is_set():
            with self._due_changed:
                while not self._stopping.is_set():
                    found = self._next_due()
                    if found is not None:
                        job_id, receiver, host = found
                        self._posting[receiver] += 1
                        self._posting_host[host] += 1
                        self._delivering += 1
                        break
                    # nothing due, or only POSTs to busy receivers: wait for the next due time or a POST's end
                    wait = min(1.0, self._due[0][0] - time.time()) if self._due else 1.0
                    self._due_changed.wait(max(wait, 0.001))
                else:
                    return
            try:
                self._deliver(job_id)
            except Exception:
                log.exception("webhook delivery of job %s failed unexpectedly", job_id)
            finally:
                with self._due_changed:
                    self._delivering -= 1
                    for counts, key in ((self._posting, receiver), (self._posting_host, host)):
                        counts[key] -= 1
                        if not counts[key]:
                            del counts[key]
                    self._due_changed.notify()        # a receiver is free again: one waiting thread may take it

    def _deliver(self, job_id: int) -> None:
        job = self._stored(lambda: self.store.claim_delivery(job_id, owner=self.owner),
                           f"starting the webhook delivery of job {job_id}")
        if job is None or job.result is None:
            return
        attempt_no = job.attempts + 1
        try:
            attempt = self.before_delivery(job) if self.before_delivery else None
            if attempt is None:
                attempt = deliver_webhook(job.webhook, job.result, timeout=self.config.webhook_timeout_seconds,
                                          success=self.config.webhook_success)
        except Exception as exc:  # never leave the delivery claimed: nobody would POST it while this runner lives
            # No traceback (log.exception): an exception's text may hold the webhook url and so its password.
            log.error("webhook delivery of request %s raised %s", job.request_id, type(exc).__name__)
            attempt = Attempt(None, f"{type(exc).__name__}: delivery raised unexpectedly")
        if attempt.delivered(self.config.webhook_success):
            outcome, when = "delivered", 0.0
        elif attempt_no < self.config.webhook_attempts:  # the vendor retries anything but a 200, 4xx included
            outcome = "pending"
            when = time.time() + backoff_delay(attempt_no, first=self.config.webhook_backoff_seconds,
                                               maximum=self.config.webhook_backoff_max_seconds)
        else:
            outcome, when = "failed", 0.0
        # the POST was made: its outcome is recorded, however long the store takes, rather than POSTed again
        self._stored(lambda: self.store.record_attempt(job, attempt=attempt_no, status=attempt.status,
                                                       error=attempt.error, outcome=outcome, next_attempt=when,
                                                       url=mask_url(job.webhook), owner=self.owner),
                     f"recording webhook attempt {attempt_no} of request {job.request_id}")
        log.info("webhook for request %s attempt %d: %s", job.request_id, attempt_no,
                 attempt.status if attempt.status is not None else attempt.error)
        if outcome == "pending":
            self.schedule_delivery(job.id, when, job.webhook)


def _receiver(webhook: str) -> tuple[str, str]:
    """Who receives a webhook: (its url without query, fragment or credentials; its scheme, host and port). A url
    that does not parse is a receiver and host of its own."""
    try:
        parts = urllib.parse.urlsplit(webhook)
        host = f"{parts.scheme}://{parts.hostname}:{parts.port}".lower()
    except ValueError:
        return webhook, webhook
    return host + parts.path, host


def runner_gone(runner: Runner, now: float) -> bool:
    """Whether a registered runner is gone, so its jobs may be taken over (see the module's docstring)."""
    alive_here = _alive_here(runner)
    if alive_here is False:
        return True
    return now - runner.heartbeat > (HUNG_SECONDS if alive_here else LEASE_SECONDS)


def _alive_here(runner: Runner) -> bool | None:
    """Whether the runner's process runs: None where that cannot be told (another machine, container or boot)."""
    if not (runner.host and runner.host == HOST_ID and runner.proc_start):
        return None
    try:
        state, started = _process_stat(runner.pid)
    except FileNotFoundError:
        return False  # no such process
    except (OSError, ValueError, IndexError):
        return None
    # A zombie (Z, or X while it is being reaped) has exited; a pid with another start time was reused.
    return state not in ("Z", "X", "x") and started == runner.proc_start


def _process_stat(pid: int) -> tuple[str, str]:
    """(state letter, start time in clock ticks since boot) from /proc/<pid>/stat (fields 3 and 22)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().decode("ascii", "replace").rsplit(")", 1)[1].split()  # the command name may hold ")"
    return fields[0], fields[19]


def process_start(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot), as runners record it; '' where unknown."""
    try:
        return _process_stat(pid)[1]
    except (OSError, ValueError, IndexError):
        return ""


def _host_id() -> str:
    """This machine's boot and pid namespace: where a pid and a start time name one process ('' unknown)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
        return f"{boot}/{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return ""


HOST_ID = _host_id()
