"""The application factory: settings in, a wired Flask app out (store, service, job runner, blueprints)."""
from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from pathlib import Path

from flask import Flask, g, jsonify, request

from . import __version__, errors
from .admin import before_delivery, record_api_call, register_admin
from .api import ASYNC_API_NAME, register_api
from .audio import AudioSource
from .config import ServerConfig
from .dashboard import register_dashboard
from .faults import FaultRegistry, StubRegistry
from .jobs import JobRunner
from .journal import Journal
from .openapi import register_docs
from .ratelimit import RateLimiter
from .service import SpeakerService
from .store import Store

log = logging.getLogger("mock_server")


class MockState:
    """Everything a running mock holds, reachable from handlers as ``current_app.extensions[...]``."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self.started = time.time()
        self.store = Store(config.db_path)
        self.service = SpeakerService(self.store, config)
        self.runner = JobRunner(self.store, self.service, config, before_delivery=self._before_delivery)
        self.journal = Journal()
        self.faults = FaultRegistry()
        self.stubs = StubRegistry()
        self.rate_limiter = (RateLimiter(Path(config.data_dir) / "ratelimit.sqlite3", config.rate_limits)
                             if config.rate_limits else None)
        self._ids = random.Random()
        self._ids_seeded = False
        self._ids_lock = threading.Lock()

    def new_request_id(self) -> str:
        """A UUID4, reproducible after ``seed_request_ids``."""
        with self._ids_lock:
            if not self._ids_seeded:
                return str(uuid.uuid4())
            return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def seed_request_ids(self, seed: int | str | None) -> None:
        with self._ids_lock:
            self._ids_seeded = seed is not None
            self._ids.seed(seed)

    def submit_job(self, *, request_id: str, tenant: str, webhook: str, speaker_ids: list[str],
                   source: AudioSource) -> None:
        self.runner.submit(request_id=request_id, tenant=tenant, api=ASYNC_API_NAME, webhook=webhook,
                           speaker_ids=speaker_ids, source=source,
                           stubbed=self.stubbed_segments(tenant, speaker_ids, request_id=request_id))

    def stubbed_segments(self, tenant: str, speaker_ids: list[str], *, request_id: str | None):
        """A canned identify answer registered through the admin API, if one matches (else None)."""
        stub = self.stubs.match(tenant, speaker_ids, request_id)
        return stub.segments if stub is not None else None

    def _before_delivery(self, job):
        """Webhook faults armed through the admin API: an Attempt to record instead of a real POST, or None."""
        return before_delivery(self, job)


def create_app(config: ServerConfig | None = None, *, start_workers: bool = True) -> Flask:
    """Build the mock: ``config`` defaults to ServerConfig(); workers start unless told otherwise."""
    config = config or ServerConfig()
    app = Flask(__name__)
    app.json.sort_keys = False
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    state = MockState(config)
    app.extensions["speaker_id_mock"] = state
    errors.register_error_handlers(app)
    register_api(app)
    register_docs(app)

    @app.get("/health")
    def health():
        return jsonify({"status": "ok", "version": __version__,
                        "uptime_seconds": round(time.time() - state.started, 3)})

    @app.before_request
    def _start_clock():
        g.started = time.perf_counter()

    @app.after_request
    def _log_request(response):
        elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        # request.path, never the full url: the api key travels in the query string.
        log.info("%s %s -> %s in %.1f ms", request.method, request.path, response.status_code, elapsed)
        if config.admin:
            record_api_call(state, response, elapsed)
        return response

    if config.admin:
        register_admin(app)  # after _start_clock: injected delays count in the journal's duration
        register_dashboard(app)

    if start_workers:
        state.runner.start()
    return app
