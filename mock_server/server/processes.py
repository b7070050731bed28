"""``--processes N`` (N > 1): N gunicorn worker processes (gthread: ``--threads`` threads each) over one
listening socket and one store.

This process becomes gunicorn's master: it binds the socket (port 0 picks a free one, whose URL goes to
``--url-file``), runs ``--preload`` once, clears what the admin API armed in an earlier run, then forks the
workers and supervises them (a worker that dies is replaced). Each worker builds its own app after the fork
(threads and SQLite connections do not survive a fork), starts its job runner once booted and drains it on
exit. SIGTERM: every worker stops accepting, finishes its requests in flight and its async jobs within
``--drain-seconds``, then the master exits 0. SIGINT (Ctrl-C) and SIGQUIT stop at once, as gunicorn does.
"""
from __future__ import annotations

import logging
import math
import os
import signal
import socket
import threading
import time

from gunicorn.app.base import BaseApplication

from mock_server.core.config import ServerConfig
from mock_server.server.main import cannot_listen, forget_stale_url_file, forget_url_file, os_reason
from mock_server.server.wsgi import limit_body, served_by

log = logging.getLogger("mock_server")

# The master waits this much longer than --drain-seconds before it kills a worker still draining: the worker's
# own deadline comes first, so a drain that fits in --drain-seconds is never cut.
KILL_MARGIN_SECONDS = 2.0


def serve_processes(config: ServerConfig) -> int:
    """Run gunicorn's master until SIGTERM; returns the exit code (0 after a drain, 2 if --preload failed)."""
    # Imported here, before the fork, so workers start with the app's modules (numpy and the pipeline) loaded.
    from mock_server.app import create_app  # noqa: F401
    from mock_server.store.database import Store

    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    try:   # first: a server that cannot listen leaves the data dir to the one still running there
        sock = socket.create_server((config.host, config.port), family=family, backlog=1024)
    except OSError as exc:
        log.error("cannot start: %s", cannot_listen(config.host, config.port, os_reason(exc)))
        return 1
    forget_stale_url_file(config.url_file)
    host = config.host if ":" not in config.host else f"[{config.host}]"
    url = f"http://{host}:{sock.getsockname()[1]}"
    if config.preload_dir:  # once, here, before any worker exists: they would race each other
        from mock_server.server.preload import preload_at_start
        if preload_at_start(config):
            sock.close()
            return 2
    store = Store(config.db_path, busy_seconds=config.store_busy_seconds)  # migrates once, before the workers
    store.clear_controls()         # faults, stubs and journal last one server run, as they did in memory
    store.close()
    sock.set_inheritable(True)
    application = MockApplication(config, fd=sock.detach(), url=url)  # gunicorn owns (and closes) the socket now
    master = os.getpid()
    try:
        application.run()
    except SystemExit as done:  # the master ends with sys.exit(status); so does a forked worker, in here too
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    finally:
        if os.getpid() == master:   # a worker leaving (restarted, timed out) is not the server stopping
            forget_url_file(config.url_file, url)
    return 0


class MockApplication(BaseApplication):
    """gunicorn's application API: settings from our ServerConfig, and one app per worker, built after the fork."""

    def __init__(self, config: ServerConfig, *, fd: int, url: str):
        self.config = config
        self.fd = fd
        self.url = url
        self.state = None   # the worker's MockState, once load() built it
        super().__init__()

    def load_config(self) -> None:
        c = self.config
        settings = {
            "bind": [f"fd://{self.fd}"],
            "workers": c.processes,
            "worker_class": "gthread",
            "threads": c.threads,
            # gthread answers on a pool of --threads threads; beyond that connections wait (kept-alive ones
            # are parked in its poller, not on a thread).
            "worker_connections": max(1000, c.threads * 4),
            "graceful_timeout": math.ceil(c.drain_seconds + KILL_MARGIN_SECONDS),  # whole seconds only
            "timeout": 60,                 # a worker whose main loop stalls this long is replaced
            "keepalive": 5,
            "limit_request_line": 8190,    # gunicorn's maximum; the api key and a webhook url ride in it
            "limit_request_field_size": 65536,
            "accesslog": None,             # the app logs every request itself (path only: keys stay out)
            "loglevel": c.log_level.lower(),
            "proc_name": "speaker-id-mock",
            "control_socket_disable": True,  # no gunicorn.ctl under $HOME: nothing outside --data-dir
            "when_ready": self._when_ready,
            "post_worker_init": self._post_worker_init,
            "worker_int": self._worker_int,
            "worker_exit": self._worker_exit,
        }
        for name, value in settings.items():
            self.cfg.set(name, value)

    def load(self):
        """In each worker, after the fork: a fresh app (its runner starts in post_worker_init)."""
        from mock_server.app import create_app, state_of

        app = create_app(self.config, start_workers=False)
        self.state = state_of(app)
        return served_by(limit_body(app, self.config.max_body_bytes))

    # --- hooks (gunicorn calls them with the arbiter or the worker) -----------------------------------------

    def _when_ready(self, arbiter) -> None:
        """Master, listening, before the workers fork: tell whoever waits for the URL."""
        if self.config.url_file:
            self.config.url_file.write_text(self.url + "\n")
        print(f"speaker-id-mock listening on {self.url} with {self.config.processes} processes "
              f"(gunicorn gthread, {self.config.threads} threads each)", flush=True)
        if self.config.grpc_port is not None:
            # one gRPC server cannot be shared by forked workers the way the REST socket is; say so plainly
            print("speaker-id-mock: realtime gRPC is not served with --processes > 1; run a --processes 1 server "
                  "for realtime streams", flush=True)

    def _post_worker_init(self, worker) -> None:
        """Worker, app built, before it serves: start the job runner (it resumes unfinished jobs from the
        store) and start draining it as soon as SIGTERM comes, alongside the requests in flight."""
        self.state.runner.start()
        threading.Thread(target=self.state.service.warm_up, name="pipeline-warm-up", daemon=True).start()
        self._stop_started: float | None = None
        self._jobs_drain: threading.Thread | None = None
        on_term = signal.getsignal(signal.SIGTERM)  # gunicorn's: stop accepting, finish in-flight requests

        def term(signum, frame):
            if self._stop_started is None:
                self._stop_started = time.monotonic()
                self._jobs_drain = threading.Thread(target=self._drain_jobs, args=(self.config.drain_seconds,),
                                                    name="drain-jobs", daemon=True)
                self._jobs_drain.start()
            if callable(on_term):
                on_term(signum, frame)

        signal.signal(signal.SIGTERM, term)
        signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn had it: a SIGTERM does not break a request's I/O
        # printed whatever --log-level, as the listening line is: LiveServer.start waits for this line from every
        # worker
        print(f"speaker-id-mock: worker {worker.pid} ready", flush=True)

    def _worker_int(self, worker) -> None:
        """Worker, SIGINT/SIGQUIT: gunicorn exits at once; worker_exit still drains the jobs."""
        log.info("worker %s interrupted; not waiting for requests in flight", worker.pid)

    def _worker_exit(self, arbiter, worker) -> None:
        """Worker, leaving (requests drained or abandoned): finish the job drain within --drain-seconds."""
        if self.state is None:  # stopped while it was still building its app: no store open, no job taken
            log.info("worker %s stopped before it was ready (nothing to drain)", worker.pid)
            return
        started = getattr(self, "_stop_started", None)
        if started is None:  # no SIGTERM (SIGINT, SIGQUIT, master gone): drain now with the whole allowance
            self._drain_jobs(self.config.drain_seconds)
        elif self._jobs_drain is not None:
            self._jobs_drain.join(max(0.0, started + self.config.drain_seconds - time.monotonic()))
        drained = self.state.drained
        self.state.store.close()
        log.info("worker %s stopped (%s)", worker.pid,
                 "drained" if drained else "drain deadline reached; unfinished jobs resume next start")

    def _drain_jobs(self, seconds: float) -> None:
        self.state.drained = self.state.runner.stop(timeout=seconds)
