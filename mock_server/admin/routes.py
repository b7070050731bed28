"""The admin API under /_mock: reset state, read the request journal and webhook deliveries, inject faults,
stub identify answers and seed request ids. JSON in and out, no api key; loopback clients only unless the
server runs with --admin-remote, and absent altogether with --no-admin.

Routes (the OpenAPI document lists the same):

- ``POST /_mock/reset``                 ``{"apikey": KEY}`` optional -> ``{"reset": "all" | "key"}``
- ``GET  /_mock/requests?apikey=&limit=`` -> ``{"requests": [entry, ...]}`` newest first
- ``GET  /_mock/webhooks?apikey=&limit=`` -> ``{"webhooks": [attempt, ...]}`` newest first
- ``GET  /_mock/jobs/<request_id>?apikey=`` -> ``{"jobs": [job, ...]}``
- ``POST /_mock/faults``, ``GET /_mock/faults``, ``DELETE /_mock/faults``, ``DELETE /_mock/faults/<id>``
- ``POST /_mock/stubs``, ``GET /_mock/stubs``, ``DELETE /_mock/stubs``, ``DELETE /_mock/stubs/<id>``
- ``POST /_mock/seed``                  ``{"seed": int | string | null}`` -> ``{"seed": ...}``
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from mock_server import errors
from mock_server.admin import schemas
from mock_server.admin.faults import Fault, Stub, preset_fields
from mock_server.admin.journal import DEFAULT_LIMIT, async_segments
from mock_server.admin.plugin import admin_state, require_loopback
from mock_server.api.parsing import check_spec, json_body, optional_string, query_int
from mock_server.core import auth
from mock_server.core.profiles import UNKNOWN_SPEAKER
from mock_server.state import current_state
from mock_server.urls import mask_url

admin = Blueprint("admin", __name__, url_prefix="/_mock")


@admin.before_request
def _loopback_only():
    require_loopback("the /_mock admin API")


# --- state ----------------------------------------------------------------------------------------------------

@admin.post("/reset")
def reset():
    """Forget everything, or with ``{"apikey": KEY}`` only that key's speakers, jobs, deliveries, journal,
    faults and stubs. Answers ``{"reset": "all"}`` or ``{"reset": "key"}``."""
    body = _body(schemas.RESET_SCHEMA, "reset body", optional=True)
    key = optional_string(body, "apikey")
    state = current_state()
    tenant = auth.tenant_of(key) if key else None
    state.store.reset(tenant)
    admin_state().reset(tenant)
    if state.rate_limiter is not None:
        state.rate_limiter.reset(tenant)
    if tenant is None:
        state.request_ids.seed(None)
    return jsonify({"reset": "key" if tenant else "all"})


@admin.post("/seed")
def seed():
    """Make generated request ids reproducible: ``{"seed": 42}``; ``{"seed": null}`` makes them random again."""
    value = _body(schemas.SEED_SCHEMA, "seed body")["seed"]
    current_state().request_ids.seed(value)
    return jsonify({"seed": value})


# --- observation ----------------------------------------------------------------------------------------------

@admin.get("/requests")
def requests_journal():
    """Recent public API calls, newest first: ``{"requests": [{"time", "method", "path", "key" (masked),
    "status", "duration_ms", "request_id", "speakerIds", "segments"}]}``; ``?apikey=`` keeps one key's,
    ``?limit=`` (default 100, at most 1000) caps the count."""
    state = current_state()
    entries = admin_state().journal.entries(tenant=_query_tenant(),
                                            limit=query_int("limit", default=DEFAULT_LIMIT, low=1,
                                                            high=schemas.JOURNAL_MAX))
    out = []
    for entry in entries:
        item = entry.to_dict()
        if entry.segments is None:
            item["segments"] = async_segments(state.store, entry)
        out.append(item)
    return jsonify({"requests": out})


@admin.get("/webhooks")
def webhooks():
    """Every webhook delivery attempt, newest first: ``{"webhooks": [{"request_id", "url", "attempt",
    "status", "error", "time"}]}``; ``?apikey=`` keeps one key's, ``?limit=`` (default 200) caps the count."""
    rows = current_state().store.webhook_attempts(
        tenant=_query_tenant(), limit=query_int("limit", default=200, low=1, high=schemas.WEBHOOK_LOG_MAX))
    return jsonify({"webhooks": [{k: r[k] for k in ("request_id", "url", "attempt", "status", "error", "time")}
                                 for r in rows]})


@admin.get("/jobs/<path:request_id>")
def jobs(request_id: str):
    """The async jobs with this request id (``?apikey=`` keeps one key's): ``{"jobs": [...]}``, 404 if none."""
    found = current_state().store.jobs_by_request_id(request_id, _query_tenant())
    if not found:
        raise errors.NotFound(f"no async job with request_id {request_id!r}.")
    return jsonify({"jobs": [{**job.to_dict(), "webhook": mask_url(job.webhook)} for job in found]})


# --- faults ---------------------------------------------------------------------------------------------------

@admin.post("/faults")
def add_fault():
    """Fail or delay the next ``times`` (default 1) matching calls that reach an API endpoint (a path nothing
    routes, or a method its endpoint does not take, answers its own 404 or 405 and leaves the fault armed).

    API: ``{"match": {"path": substring, "method": "POST", "apikey": KEY}, "times": 1, "status": 500,
    "code": "injected_fault", "message": "...", "delay_ms": 0}``; with only ``delay_ms`` the call is delayed
    then served; ``"preset": "rate_limit" | "quota_exceeded" | ...`` (faults.PRESETS) instead of status and
    code answers one of the vendor's documented errors. Webhooks: ``{"target": "webhook", "match": {"apikey": KEY,
    "request_id": ID}, "times": 1,
    "status": 503 | "error": "connection" | "timeout", "delay_ms": 0}``. Answers ``{"fault": {..., "id"}}``."""
    faults = admin_state().faults
    fault = _parse_fault(_body(schemas.FAULT_SCHEMA, "fault"), faults.new_id())
    faults.add(fault)
    return jsonify({"fault": fault.to_dict()})


@admin.get("/faults")
def list_faults():
    """The faults still armed: ``{"faults": [...]}``, ``times`` counting what is left."""
    return jsonify({"faults": [f.to_dict() for f in admin_state().faults.all()]})


@admin.delete("/faults")
def clear_faults():
    """Disarm every fault."""
    admin_state().faults.reset()
    return jsonify({"faults": []})


@admin.delete("/faults/<fault_id>")
def delete_fault(fault_id: str):
    """Disarm one fault; 404 if it is unknown or already used up."""
    if not admin_state().faults.remove(fault_id):
        raise errors.NotFound(f"no armed fault with id {fault_id!r}; list them with GET /_mock/faults.")
    return jsonify({"deleted": fault_id})


def _parse_fault(body: dict, fault_id: str) -> Fault:
    """A Fault from a body already checked against FAULT_SCHEMA (types, ranges, fields per target)."""
    target = body.get("target", "api")
    match = body.get("match") or {}
    key = optional_string(match, "apikey", where="match.")
    delay = body.get("delay_ms", 0)
    common = {"id": fault_id, "target": target, "times": body.get("times", 1), "delay_ms": delay,
              "tenant": auth.tenant_of(key) if key else None, "key": auth.mask_key(key) if key else None}
    if "preset" in body:
        method = optional_string(match, "method", where="match.")
        return Fault(**common, **preset_fields(body, target), message=optional_string(body, "message"),
                     path=optional_string(match, "path", where="match."), method=method.upper() if method else None)
    status = body.get("status")
    if target == "webhook":
        error = body.get("error")
        if status is not None and error is not None:
            raise errors.InvalidParameter("give a webhook fault either a status or an error, not both.")
        if status is None and error is None and not delay:
            status = 503
        return Fault(**common, request_id=optional_string(match, "request_id", where="match."),
                     status=status, error=error)
    if status is None and not delay:
        status = 500
    code = body.get("code", "injected_fault")
    message = optional_string(body, "message")
    method = optional_string(match, "method", where="match.")
    return Fault(**common, path=optional_string(match, "path", where="match."),
                 method=method.upper() if method else None, status=status, code=code,
                 message=message or (f"injected fault: the test asked for a {status}" if status else None))


# --- stubs ----------------------------------------------------------------------------------------------------

@admin.post("/stubs")
def add_stub():
    """Answer matching identify calls (sync, async and streams) with canned segments instead of listening:
    ``{"match": {"speakerIds": [...] (same set), "request_id": "..."}, "apikey": KEY,
    "response": {"segments": [{"speaker_id", "start", "end"}]}}``. Answers ``{"stub": {..., "id"}}``.

    The segments must be an answer the API could give (``_stub_segments``); times are stored rounded to 2
    decimals, as the API answers them. Without match fields the stub answers every identify call of its key (or
    of every key) that asks for the speakers its segments name; a stub naming speakerIds or a request_id wins
    over it (``StubRegistry.match``)."""
    body = _body(schemas.STUB_SCHEMA, "stub")
    match = body.get("match") or {}
    speaker_ids = match.get("speakerIds")
    segments = _stub_segments(body["response"]["segments"], speaker_ids)
    key = optional_string(body, "apikey")
    stubs = admin_state().stubs
    stub = Stub(id=stubs.new_id(), segments=segments,
                speaker_ids=frozenset(speaker_ids) if speaker_ids is not None else None,
                request_id=optional_string(match, "request_id", where="match."),
                tenant=auth.tenant_of(key) if key else None, key=auth.mask_key(key) if key else None)
    stubs.add(stub)
    return jsonify({"stub": stub.to_dict()})


def _stub_segments(given: list[dict], speaker_ids: list[str] | None) -> list[dict]:
    """A stub's segments (already checked against schemas.SEGMENT) as identify would answer them: times rounded to
    2 decimals; each starting before it ends and not before the one before it ends; each naming one of the stub's
    speakerIds or UNKNOWN_SPEAKER (a stub without speakerIds may name any speaker: it then answers only requests
    asking for them, see faults.Stub)."""
    segments: list[dict] = []
    for i, item in enumerate(given):
        speaker, start, end = item["speaker_id"], _seconds(item["start"]), _seconds(item["end"])
        if speaker_ids is not None and speaker not in speaker_ids and speaker != UNKNOWN_SPEAKER:
            asked = ", ".join(repr(s) for s in sorted(set(speaker_ids)))
            raise errors.InvalidParameter(
                f"response.segments[{i}].speaker_id {speaker!r} is neither one of match.speakerIds ({asked}) nor "
                f"{UNKNOWN_SPEAKER!r}, the label of speech of none of them: identify only answers with speakers it "
                "was asked for. Add it to match.speakerIds or name one of those.")
        exact = (start, end) == (item["start"], item["end"])
        rounded = "" if exact else " once rounded to 2 decimals, as identify answers"
        if not start < end:
            raise errors.InvalidParameter(f"response.segments[{i}] must start before it ends (start {start!r}, end "
                                          f"{end!r}{rounded}).")
        if segments and start < segments[-1]["end"]:
            raise errors.InvalidParameter(f"response.segments[{i}] starts at {start!r}{rounded}, before the one "
                                          f"before it ends ({segments[-1]['end']!r}): identify answers are sorted "
                                          "and never overlap.")
        segments.append({"speaker_id": speaker, "start": start, "end": end})
    return segments


def _seconds(value: int | float) -> float:
    """A segment time (a JSON number the schema held to [0, MAX_STUB_SECONDS]) as identify answers it: a float
    with 2 decimals."""
    return round(float(value), 2)


@admin.get("/stubs")
def list_stubs():
    """The registered stubs: ``{"stubs": [...]}``."""
    return jsonify({"stubs": [s.to_dict() for s in admin_state().stubs.all()]})


@admin.delete("/stubs")
def clear_stubs():
    """Remove every stub."""
    admin_state().stubs.reset()
    return jsonify({"stubs": []})


@admin.delete("/stubs/<stub_id>")
def delete_stub(stub_id: str):
    """Remove one stub; 404 if it is unknown."""
    if not admin_state().stubs.remove(stub_id):
        raise errors.NotFound(f"no stub with id {stub_id!r}; list them with GET /_mock/stubs.")
    return jsonify({"deleted": stub_id})


# --- parsing --------------------------------------------------------------------------------------------------

def _body(schema: dict, name: str, *, optional: bool = False) -> dict:
    """The request body checked against its published schema (an empty optional body is ``{}``)."""
    body = json_body(optional=optional, example="(see /openapi.json)")
    if body is None:
        return {}
    check_spec(body, schema, name=name)
    return body


def _query_tenant() -> str | None:
    key = request.args.get("apikey") or ""  # exactly as the API calls sent it (keys are never trimmed)
    return auth.tenant_of(key) if key else None
