"""What a running mock holds, and the one typed way to reach it from a request handler.

``MockState`` is built once per app by ``mock_server.app.create_app``; the front doors reach it with
``current_state()`` (inside a Flask request) or are handed it (the gRPC door, the server process). The admin
plug-in, when enabled, adds its own part (``state.admin``); the core never looks at it.

``CallRecord`` is what a front door tells observers (the admin journal) about the call it is answering: the
values it parsed and answered, so nobody parses a body twice.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from flask import Flask, current_app, g

from mock_server.core.config import ServerConfig
from mock_server.core.jobs import JobRunner
from mock_server.core.request_ids import RequestIds
from mock_server.core.service import SpeakerService
from mock_server.store import Store
from mock_server.store.ratelimit import RateLimiter

if TYPE_CHECKING:  # the admin plug-in's part; imported for the annotation only (core never imports admin)
    from mock_server.admin.plugin import AdminState

STATE_KEY = "speaker_id_mock"


@dataclass(slots=True)
class MockState:
    """Everything a running mock holds: settings, the store, the core service and its job runner.

    Slotted: every attribute anyone sets is declared here, typed (setting an undeclared one raises AttributeError).
    """

    config: ServerConfig
    store: Store
    service: SpeakerService
    runner: JobRunner
    request_ids: RequestIds = field(default_factory=RequestIds)
    started: float = field(default_factory=time.time)
    admin: AdminState | None = None        # set by the admin plug-in; None with --no-admin
    call_hooks: CallHooks | None = None    # what doors outside Flask (gRPC) tell a plug-in about their calls
    rate_limiter: RateLimiter | None = None  # the vendor's rate limits, with --rate-limit
    # Set by the server process when it stops (server/main.py, server/processes.py): True when the job runner
    # drained (every job run and delivered or given up) within --drain-seconds; False until then, or when the
    # deadline came first (unfinished jobs resume on the next start). Only the "stopped (...)" log line reads it.
    drained: bool = False

    @classmethod
    def build(cls, config: ServerConfig) -> MockState:
        store = Store(config.db_path, busy_seconds=config.store_busy_seconds)
        service = SpeakerService(store, config)
        limiter = (RateLimiter(Path(config.data_dir) / "ratelimit.sqlite3", config.rate_limits,
                               busy_seconds=config.store_busy_seconds) if config.rate_limits else None)
        return cls(config=config, store=store, service=service, runner=JobRunner(store, service, config),
                   rate_limiter=limiter)

    def close(self, timeout: float = 5.0) -> bool:
        """Stop the job runner (draining it for up to ``timeout`` seconds) and close this thread's store
        connection, even if stopping fails; True when the runner drained in time. Safe on a runner never started."""
        try:
            return self.runner.stop(timeout=timeout)
        finally:
            self.store.close()


def state_of(app: Flask) -> MockState:
    """The state of an app made by ``create_app``."""
    return app.extensions[STATE_KEY]


def current_state() -> MockState:
    """The state of the app serving the current request."""
    return current_app.extensions[STATE_KEY]


@dataclass(frozen=True)
class CallSummary:
    """One finished call of a door that is not a Flask route (the gRPC stream), for the journal."""

    method: str                           # "GRPC"
    path: str                             # the RPC's full method name
    key: str | None                       # masked
    tenant: str | None
    status: int                           # the HTTP-equivalent status (200, 4xx, 499 cancelled, 5xx)
    duration_ms: float
    speaker_ids: list[str] | None = None
    segments: list[dict] | None = None


class CallHooks(Protocol):
    """Installed by the admin plug-in: faults before a call, the journal after it."""

    def before_call(self, method: str, path: str, tenant: str | None) -> None:
        """Apply an armed fault (sleep for its delay, raise its ApiError), or return."""

    def after_call(self, call: CallSummary) -> None:
        """Record a finished call."""


@dataclass
class CallRecord:
    """What the front door parsed and answered for one public API call (all optional: a call may fail early)."""

    api_key: str | None = None
    speaker_ids: list[str] | None = None
    request_id: str | None = None
    segments: list[dict] | None = None


def current_call() -> CallRecord:
    """This request's CallRecord, created on first use."""
    record = g.get("call_record")
    if record is None:
        record = g.call_record = CallRecord()
    return record
