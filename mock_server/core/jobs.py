"""Async identify jobs: a bounded worker pool that runs them, and a scheduler that delivers their webhooks.

Every job and every pending delivery lives in the store first, so a crash or a restart loses nothing: on
start the runner picks up what was queued, half-done, or still owed to a webhook. Claims in the store keep
two workers (or two server processes on one store) from doing the same job twice.
"""
from __future__ import annotations

import heapq
import logging
import os
import queue
import threading
import time
import uuid
from typing import Callable

from mock_server.audio import AudioSource
from mock_server.core import errors
from mock_server.core.config import ServerConfig
from mock_server.core.service import SpeakerService
from mock_server.core.webhooks import Attempt, backoff_delay, deliver_webhook
from mock_server.store import Job, Store
from mock_server.urls import mask_url

log = logging.getLogger(__name__)

# A claim older than this belongs to a worker that died without releasing it (jobs take well under this).
STALE_CLAIM_SECONDS = 600.0


class JobRunner:
    """Runs queued identify jobs on ``job_workers`` threads and delivers their webhooks with retries."""

    def __init__(self, store: Store, service: SpeakerService, config: ServerConfig,
                 *, before_delivery: Callable[[Job], Attempt | None] | None = None):
        self.store = store
        self.service = service
        self.config = config
        self.owner = f"{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # (job id, admitted) items; admitted ones hold one of the job_queue_size slots until a worker takes them.
        # The queue itself is unbounded so the resume pass never blocks; admission is bounded by the slots.
        self._jobs: queue.Queue[tuple[int, bool] | None] = queue.Queue()
        self._slots = threading.BoundedSemaphore(config.job_queue_size)
        self._delivering = 0
        self._due: list[tuple[float, int]] = []  # heap of (time, job id) webhook deliveries
        self._due_changed = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._busy = 0
        self._busy_lock = threading.Lock()
        # Lets the admin API fail or delay deliveries; returns an Attempt to use instead of a real POST.
        self.before_delivery = before_delivery

    # --- life cycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        for n in range(self.config.job_workers):
            self._spawn(self._work, f"job-worker-{n}")
        for n in range(2):
            self._spawn(self._deliver_loop, f"webhook-{n}")
        self._spawn(self._resume, "job-resume")

    def _spawn(self, target, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> bool:
        """Finish queued and running jobs, and the webhook POSTs due now, within ``timeout``.

        Returns True when everything got done; retries scheduled for later stay in the store for the next start.
        """
        deadline = time.monotonic() + timeout
        drained = self.wait_idle(timeout) and self._wait_deliveries(max(0.0, deadline - time.monotonic()))
        self._stopping.set()
        for _ in range(self.config.job_workers):
            self._jobs.put(None)
        with self._due_changed:
            self._due_changed.notify_all()
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
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
                if self._delivering == 0 and not (self._due and self._due[0][0] <= time.time()):
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
                                           params=params, audio=source.content)
        except BaseException:
            self._slots.release()
            raise
        self._jobs.put((job_id, True))

    def _resume(self) -> None:
        """Pick up work a previous run (or a dead process) left unfinished."""
        for job_id in self.store.unfinished_jobs():
            job = self.store.job(job_id)
            if job is None or self._stopping.is_set():
                continue
            if job.status in ("queued", "running"):
                self._jobs.put((job_id, False))
            else:
                self.schedule_delivery(job_id, job.next_attempt)

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

    def _run(self, job_id: int) -> None:
        job = self.store.claim_job(job_id, owner=self.owner, stale_after=self._stale_after(job_id))
        if job is None:
            return  # another worker or process has it, or it is done already
        source = AudioSource(content=job.audio, url=job.params.get("url"), encoding=job.params.get("encoding"),
                             sample_rate=job.params.get("sampleRate"))
        try:
            segments = job.params.get("stubbedSegments")
            if segments is None:
                segments = self.service.listen(job.tenant, job.params["speakerIds"], source)
            response: dict = {"segments": segments}
        except errors.ApiError as exc:
            response = exc.to_dict(api="identify")
        except Exception:
            log.exception("async job %s crashed", job.request_id)
            response = errors.fault_body(status=500, code="internal_error", api="identify",
                                         message="The mock server failed on this job; this is a bug, please report "
                                                 "it.")
        if self.store.finish_job(job.id, {"request_id": job.request_id, "response": response}, owner=self.owner):
            self.schedule_delivery(job.id, time.time())
        else:
            log.warning("job %s was taken over by another worker while it ran; keeping that one's result", job.id)

    def _stale_after(self, job_id: int) -> float:
        """A claim is stale at once if the process that made it is gone, else after STALE_CLAIM_SECONDS."""
        owner = self.store.job_owner(job_id)
        if owner and owner != self.owner and not _process_alive(owner):
            return -1.0
        return STALE_CLAIM_SECONDS

    # --- webhooks -----------------------------------------------------------------------------------------------

    def schedule_delivery(self, job_id: int, when: float) -> None:
        with self._due_changed:
            heapq.heappush(self._due, (when, job_id))
            self._due_changed.notify()

    def _deliver_loop(self) -> None:
        while not self._stopping.is_set():
            with self._due_changed:
                while not self._stopping.is_set():
                    now = time.time()
                    if self._due and self._due[0][0] <= now:
                        _, job_id = heapq.heappop(self._due)
                        self._delivering += 1
                        break
                    self._due_changed.wait(min(1.0, self._due[0][0] - now) if self._due else 1.0)
                else:
                    return
            try:
                self._deliver(job_id)
            except Exception:
                log.exception("webhook delivery of job %s failed unexpectedly", job_id)
            finally:
                with self._due_changed:
                    self._delivering -= 1

    def _deliver(self, job_id: int) -> None:
        job = self.store.claim_delivery(job_id, owner=self.owner, stale_after=self._stale_after(job_id))
        if job is None or job.result is None:
            return
        attempt_no = job.attempts + 1
        try:
            attempt = self.before_delivery(job) if self.before_delivery else None
            if attempt is None:
                attempt = deliver_webhook(job.webhook, job.result, timeout=self.config.webhook_timeout_seconds,
                                          success=self.config.webhook_success)
        except Exception as exc:  # never leave the delivery claimed: that would hold it for STALE_CLAIM_SECONDS
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
        self.store.record_attempt(job, attempt=attempt_no, status=attempt.status, error=attempt.error,
                                  outcome=outcome, next_attempt=when, url=mask_url(job.webhook))
        log.info("webhook for request %s attempt %d: %s", job.request_id, attempt_no,
                 attempt.status if attempt.status is not None else attempt.error)
        if outcome == "pending":
            self.schedule_delivery(job.id, when)



def _process_alive(owner: str) -> bool:
    """Whether the process named in a claim ("pid:token") still runs on this machine."""
    try:
        pid = int(owner.split(":", 1)[0])
    except ValueError:
        return False
    if pid == os.getpid():
        return False  # same pid, different token: an earlier run of this process that died
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
