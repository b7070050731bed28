"""The admin plug-in: mounting it adds /_mock (control API and dashboard), the request journal, injected faults
and stubs to an app. It installs its own hooks on the app and on the core (a stub lookup on the service, a
delivery hook on the job runner); with --no-admin it is never imported, and none of it exists.
"""
from __future__ import annotations

import ipaddress
import logging
import time
from dataclasses import dataclass

from flask import Flask, Response, g, request

from mock_server import errors
from mock_server.admin.faults import FaultRegistry, StubRegistry
from mock_server.admin.journal import Journal, JournalEntry
from mock_server.api.openapi import extend_docs
from mock_server.core import auth
from mock_server.state import CallSummary, MockState, current_call, current_state
from mock_server.store import Store

log = logging.getLogger(__name__)

API_PREFIX = "/audio/generic/api/"


@dataclass
class AdminState:
    """What only the admin plug-in holds: the journal of public calls, armed faults, registered stubs. They are
    kept in the store, not in memory, so every server process over one data dir sees the same ones."""

    journal: Journal
    faults: FaultRegistry
    stubs: StubRegistry

    @classmethod
    def over(cls, store: Store) -> AdminState:
        return cls(journal=Journal(store=store), faults=FaultRegistry(store), stubs=StubRegistry(store))

    def stubbed_segments(self, tenant: str, speaker_ids, request_id: str | None) -> list[dict] | None:
        """The service's stub lookup: a matching stub's segments, else None."""
        stub = self.stubs.match(tenant, speaker_ids, request_id)
        return stub.segments if stub is not None else None

    def before_delivery(self, job):
        """The job runner's delivery hook: the Attempt an armed webhook fault stands for, or None."""
        fault = self.faults.take_delivery(job.tenant, job.request_id)
        if fault is None:
            return None
        if fault.delay_ms:
            time.sleep(fault.delay_ms / 1000)
        return fault.attempt()

    def before_call(self, method: str, path: str, tenant: str | None) -> None:
        """CallHooks: the oldest armed fault matching a non-REST call (delay, then raise its error)."""
        fault = self.faults.take_api(method, path, tenant)
        if fault is None:
            return
        if fault.delay_ms:
            time.sleep(fault.delay_ms / 1000)
        error = fault.api_error()
        if error is not None:
            raise error

    def after_call(self, call: CallSummary) -> None:
        """CallHooks: journal a finished non-REST call."""
        self.journal_or_log(JournalEntry(
            time=time.time(), method=call.method, path=call.path, key=call.key, tenant=call.tenant,
            status=call.status, duration_ms=call.duration_ms, speaker_ids=call.speaker_ids, segments=call.segments))

    def journal_or_log(self, entry: JournalEntry) -> None:
        """Journal a call already answered; if the store cannot take the line, log that and go on: a journal
        line is not worth failing an answer (a committed 200 turned 500, a finished stream turned UNKNOWN)."""
        try:
            self.journal.record(entry)
        except Exception as exc:
            log.warning("could not journal %s %s -> %d: %s", entry.method, entry.path, entry.status,
                        exc.message if isinstance(exc, errors.ApiError) else type(exc).__name__)

    def reset(self, tenant: str | None = None) -> None:
        self.journal.reset(tenant)
        self.faults.reset(tenant)
        self.stubs.reset(tenant)


def init_app(app: Flask, state: MockState) -> AdminState:
    """Mount the admin plug-in on ``app`` (after the app's timing hook, so injected delays count)."""
    from mock_server.admin import routes, schemas
    from mock_server.admin.dashboard import register_dashboard

    admin = state.admin = state.call_hooks = AdminState.over(state.store)
    state.service.stub_lookup = admin.stubbed_segments
    state.runner.before_delivery = admin.before_delivery
    app.register_blueprint(routes.admin)
    register_dashboard(app)
    extend_docs(app, schemas.doc_extension())
    app.before_request(_inject_api_fault)
    app.after_request(_record_api_call)
    return admin


def admin_state() -> AdminState:
    """The admin part of the current app's state (only reachable where the plug-in is mounted)."""
    admin = current_state().admin
    assert admin is not None, "the admin plug-in is not mounted on this app"
    return admin


def is_loopback(addr: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback (with or without an IPv6 zone)."""
    try:
        ip = ipaddress.ip_address((addr or "").split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def require_loopback(what: str) -> None:
    """Refuse a client not on this machine (403) unless the server runs with --admin-remote."""
    if not current_state().config.admin_remote and not is_loopback(request.remote_addr):
        raise errors.AdminForbidden(f"{what} only answers clients on this machine; start the server with "
                                    "--admin-remote to allow others.")


def _api_tenant() -> str | None:
    try:
        return auth.tenant_of(auth.api_key_from(request.args, request.headers))
    except errors.ApiError:
        return None


def _reaches_an_endpoint() -> bool:
    """True when routing found the endpoint this request calls: not for a path nothing routes (404) or a method the
    endpoint does not take (405), nor for the OPTIONS answer Flask makes itself. Only such calls are the vendor's
    API calls a fault stands in for; the others keep their own answers and leave the faults armed."""
    rule = request.url_rule
    return (rule is not None and request.routing_exception is None
            and not (request.method == "OPTIONS" and rule.provide_automatic_options))


def _inject_api_fault():
    """Before a public API call: apply the oldest matching armed fault (delay, then fail or go on)."""
    if not request.path.startswith(API_PREFIX) or not _reaches_an_endpoint():
        return None
    fault = admin_state().faults.take_api(request.method, request.path, _api_tenant())
    if fault is None:
        return None
    if fault.delay_ms:
        time.sleep(fault.delay_ms / 1000)
    error = fault.api_error()
    if error is not None:
        raise error
    return None


def _record_api_call(response: Response) -> Response:
    """After a public API call: journal it from what the front door parsed and answered (the key masked)."""
    if not request.path.startswith(API_PREFIX):
        return response
    call = current_call()
    key = call.api_key
    if key is None:
        try:
            key = auth.api_key_from(request.args, request.headers)
        except errors.ApiError:
            key = None
    started = g.get("started", time.perf_counter())
    entry = JournalEntry(
        time=time.time(), method=request.method, path=request.path, key=auth.mask_key(key) if key else None,
        tenant=auth.tenant_of(key) if key else None, status=response.status_code,
        duration_ms=round((time.perf_counter() - started) * 1000, 1), request_id=call.request_id,
        speaker_ids=call.speaker_ids, segments=call.segments if response.status_code == 200 else None)
    admin_state().journal_or_log(entry)
    return response
