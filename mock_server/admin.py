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

import ipaddress
import json
import time

from flask import Blueprint, Flask, current_app, g, jsonify, request

from . import auth, errors
from .faults import Fault, Stub, preset_fields
from .journal import DEFAULT_LIMIT, JOURNAL_SIZE, JournalEntry
from .webhooks import mask_url

admin = Blueprint("admin", __name__, url_prefix="/_mock")

API_PREFIX = "/audio/generic/api/"
MAX_DELAY_MS = 60_000       # an injected delay longer than a minute is a typo, not a test
MAX_TIMES = 1_000_000
WEBHOOK_ERRORS = ("connection", "timeout")


def register_admin(app: Flask) -> None:
    """Mount /_mock and the fault-injection hook on the public API (call after the timing hook)."""
    app.register_blueprint(admin)
    app.before_request(_inject_api_fault)


def _state():
    return current_app.extensions["speaker_id_mock"]


@admin.before_request
def _loopback_only():
    if _state().config.admin_remote:
        return
    if not _is_loopback(request.remote_addr):
        raise errors.AdminForbidden("the /_mock admin API only answers clients on this machine; start the server "
                                    "with --admin-remote to allow others.")


def _is_loopback(addr: str | None) -> bool:
    try:
        ip = ipaddress.ip_address((addr or "").split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


# --- state ----------------------------------------------------------------------------------------------------

@admin.post("/reset")
def reset():
    """Forget everything, or with ``{"apikey": KEY}`` only that key's speakers, jobs, deliveries, journal,
    faults, stubs and rate-limit counts. Answers ``{"reset": "all"}`` or ``{"reset": "key"}``."""
    body = _optional_json_object()
    key = _optional_string(body, "apikey")
    state = _state()
    tenant = auth.tenant_of(key) if key else None
    state.store.reset(tenant)
    state.journal.reset(tenant)
    state.faults.reset(tenant)
    state.stubs.reset(tenant)
    if state.rate_limiter is not None:
        state.rate_limiter.reset(tenant)
    if tenant is None:
        state.seed_request_ids(None)
    return jsonify({"reset": "key" if tenant else "all"})


@admin.post("/seed")
def seed():
    """Make generated request ids reproducible: ``{"seed": 42}``; ``{"seed": null}`` makes them random again."""
    body = _json_object()
    if "seed" not in body:
        raise errors.MissingParameter('seed is required: an integer or a string, or null to go back to random ids.')
    value = body["seed"]
    if isinstance(value, bool) or not isinstance(value, (int, str, type(None))):
        raise errors.InvalidParameter(f"seed must be an integer, a string or null, not a JSON {_json_type(value)}.")
    _state().seed_request_ids(value)
    return jsonify({"seed": value})


# --- observation ----------------------------------------------------------------------------------------------

@admin.get("/requests")
def requests_journal():
    """Recent public API calls, newest first: ``{"requests": [{"time", "method", "path", "key" (masked),
    "status", "duration_ms", "request_id", "speakerIds", "segments"}]}``; ``?apikey=`` keeps one key's,
    ``?limit=`` (default 100, at most 1000) caps the count."""
    state = _state()
    entries = state.journal.entries(tenant=_query_tenant(), limit=_limit(DEFAULT_LIMIT, JOURNAL_SIZE))
    out = []
    for entry in entries:
        item = entry.to_dict()
        if entry.request_id and entry.segments is None and entry.tenant:
            item["segments"] = _async_segments(state, entry)
        out.append(item)
    return jsonify({"requests": out})


def _async_segments(state, entry: JournalEntry) -> list[dict] | None:
    """An async call's segments, from its job once done (the journal entry was written before)."""
    for job in state.store.jobs_by_request_id(entry.request_id, entry.tenant):
        response = (job.result or {}).get("response") or {}
        if isinstance(response.get("segments"), list):
            return response["segments"]
    return None


@admin.get("/webhooks")
def webhooks():
    """Every webhook delivery attempt, newest first: ``{"webhooks": [{"request_id", "url", "attempt",
    "status", "error", "time"}]}``; ``?apikey=`` keeps one key's, ``?limit=`` (default 200) caps the count."""
    rows = _state().store.webhook_attempts(tenant=_query_tenant(), limit=_limit(200, 10_000))
    return jsonify({"webhooks": [{k: r[k] for k in ("request_id", "url", "attempt", "status", "error", "time")}
                                 for r in rows]})


@admin.get("/jobs/<path:request_id>")
def jobs(request_id: str):
    """The async jobs with this request id (``?apikey=`` keeps one key's): ``{"jobs": [...]}``, 404 if none."""
    found = _state().store.jobs_by_request_id(request_id, _query_tenant())
    if not found:
        raise errors.NotFound(f"no async job with request_id {request_id!r}.")
    return jsonify({"jobs": [{**job.to_dict(), "webhook": mask_url(job.webhook)} for job in found]})


# --- faults ---------------------------------------------------------------------------------------------------

@admin.post("/faults")
def add_fault():
    """Fail or delay the next ``times`` (default 1) matching calls.

    API: ``{"match": {"path": substring, "method": "POST", "apikey": KEY}, "times": 1, "status": 500,
    "code": "injected_fault", "message": "...", "delay_ms": 0}``; with only ``delay_ms`` the call is delayed
    then served; ``"preset": "rate_limit" | "quota_exceeded" | ...`` (faults.PRESETS) instead of status and
    code answers one of the vendor's documented errors. Webhooks: ``{"target": "webhook", "match": {"apikey":
    KEY, "request_id": ID}, "times": 1, "status": 503 | "error": "connection" | "timeout", "delay_ms": 0}``.
    Answers ``{"fault": {..., "id"}}``."""
    state = _state()
    fault = _parse_fault(_json_object(), state.faults.new_id())
    state.faults.add(fault)
    return jsonify({"fault": fault.to_dict()})


@admin.get("/faults")
def list_faults():
    """The faults still armed: ``{"faults": [...]}``, ``times`` counting what is left."""
    return jsonify({"faults": [f.to_dict() for f in _state().faults.all()]})


@admin.delete("/faults")
def clear_faults():
    """Disarm every fault."""
    _state().faults.reset()
    return jsonify({"faults": []})


@admin.delete("/faults/<fault_id>")
def delete_fault(fault_id: str):
    """Disarm one fault; 404 if it is unknown or already used up."""
    if not _state().faults.remove(fault_id):
        raise errors.NotFound(f"no armed fault with id {fault_id!r}; list them with GET /_mock/faults.")
    return jsonify({"deleted": fault_id})


def _parse_fault(body: dict, fault_id: str) -> Fault:
    target = body.get("target", "api")
    if target not in ("api", "webhook"):
        raise errors.InvalidParameter(f'target must be "api" or "webhook", not {target!r}.')
    match = body.get("match")
    match = {} if match is None else match
    if not isinstance(match, dict):
        raise errors.InvalidParameter(f"match must be an object, not a JSON {_json_type(match)}.")
    key = _optional_string(match, "apikey", where="match.")
    times = _int(body, "times", default=1, low=1, high=MAX_TIMES)
    delay = _int(body, "delay_ms", default=0, low=0, high=MAX_DELAY_MS)
    common = {"id": fault_id, "target": target, "times": times, "delay_ms": delay,
              "tenant": auth.tenant_of(key) if key else None, "key": auth.mask_key(key) if key else None}
    if "preset" in body:
        return Fault(**common, **preset_fields(body, target), message=_optional_string(body, "message"),
                     path=_optional_string(match, "path", where="match."),
                     method=(_optional_string(match, "method", where="match.") or "").upper() or None)
    if target == "webhook":
        error = body.get("error")
        if error is not None and error not in WEBHOOK_ERRORS:
            raise errors.InvalidParameter(f'error must be one of {", ".join(WEBHOOK_ERRORS)}, not {error!r}.')
        status = _int(body, "status", default=None, low=100, high=599)
        if status is not None and error is not None:
            raise errors.InvalidParameter("give a webhook fault either a status or an error, not both.")
        if status is None and error is None and not delay:
            status = 503
        return Fault(**common, request_id=_optional_string(match, "request_id", where="match."),
                     status=status, error=error)
    status = _int(body, "status", default=None if delay else 500, low=400, high=599)
    code = body.get("code", "injected_fault")
    if not isinstance(code, str) or not code.strip():
        raise errors.InvalidParameter("code must be a non-empty string such as \"injected_fault\".")
    message = _optional_string(body, "message")
    method = _optional_string(match, "method", where="match.")
    return Fault(**common, path=_optional_string(match, "path", where="match."),
                 method=method.upper() if method else None, status=status, code=code,
                 message=message or (f"injected fault: the test asked for a {status}" if status else None))


def _inject_api_fault():
    """Before a public API call: apply the oldest matching armed fault (delay, then fail or go on)."""
    if not request.path.startswith(API_PREFIX):
        return None
    state = _state()
    try:
        tenant = auth.tenant_of(auth.api_key_from(request.args, request.headers))
    except errors.ApiError:
        tenant = None
    fault = state.faults.take_api(request.method, request.path, tenant)
    if fault is None:
        return None
    if fault.delay_ms:
        time.sleep(fault.delay_ms / 1000)
    error = fault.api_error()
    if error is not None:
        raise error
    return None


def before_delivery(state, job):
    """JobRunner hook: the Attempt an armed webhook fault stands for, or None to deliver for real."""
    fault = state.faults.take_delivery(job.tenant, job.request_id)
    if fault is None:
        return None
    if fault.delay_ms:
        time.sleep(fault.delay_ms / 1000)
    return fault.attempt()


# --- stubs ----------------------------------------------------------------------------------------------------

@admin.post("/stubs")
def add_stub():
    """Answer matching identify calls (sync and async) with canned segments instead of listening:
    ``{"match": {"speakerIds": [...] (same set), "request_id": "..."}, "apikey": KEY,
    "response": {"segments": [{"speaker_id", "start", "end"}]}}``. Answers ``{"stub": {..., "id"}}``."""
    state = _state()
    body = _json_object()
    match = body.get("match")
    match = {} if match is None else match
    if not isinstance(match, dict):
        raise errors.InvalidParameter(f"match must be an object, not a JSON {_json_type(match)}.")
    speaker_ids = match.get("speakerIds")
    if speaker_ids is not None and (not isinstance(speaker_ids, list) or not speaker_ids
                                    or not all(isinstance(s, str) for s in speaker_ids)):
        raise errors.InvalidParameter("match.speakerIds must be a non-empty list of strings.")
    response = body.get("response")
    if not isinstance(response, dict) or not isinstance(response.get("segments"), list):
        raise errors.MissingParameter('response is required: {"segments": [{"speaker_id": "alice", "start": 0.0, '
                                      '"end": 1.5}, ...]}.')
    segments = response["segments"]
    for i, segment in enumerate(segments):
        if (not isinstance(segment, dict) or not isinstance(segment.get("speaker_id"), str)
                or not all(_is_number(segment.get(k)) for k in ("start", "end"))):
            raise errors.InvalidParameter(f"response.segments[{i}] must be an object with a string speaker_id and "
                                          "numbers start and end.")
    key = _optional_string(body, "apikey")
    stub = Stub(id=state.stubs.new_id(), segments=segments,
                speaker_ids=frozenset(speaker_ids) if speaker_ids is not None else None,
                request_id=_optional_string(match, "request_id", where="match."),
                tenant=auth.tenant_of(key) if key else None, key=auth.mask_key(key) if key else None)
    state.stubs.add(stub)
    return jsonify({"stub": stub.to_dict()})


@admin.get("/stubs")
def list_stubs():
    """The registered stubs: ``{"stubs": [...]}``."""
    return jsonify({"stubs": [s.to_dict() for s in _state().stubs.all()]})


@admin.delete("/stubs")
def clear_stubs():
    """Remove every stub."""
    _state().stubs.reset()
    return jsonify({"stubs": []})


@admin.delete("/stubs/<stub_id>")
def delete_stub(stub_id: str):
    """Remove one stub; 404 if it is unknown."""
    if not _state().stubs.remove(stub_id):
        raise errors.NotFound(f"no stub with id {stub_id!r}; list them with GET /_mock/stubs.")
    return jsonify({"deleted": stub_id})


# --- the journal hook -----------------------------------------------------------------------------------------

def record_api_call(state, response, duration_ms: float) -> None:
    """After a public API call: add it to the journal (the key masked, the body's ids and answer kept)."""
    if not request.path.startswith(API_PREFIX):
        return
    try:
        key = auth.api_key_from(request.args, request.headers)
    except errors.ApiError:
        key = None
    speaker_ids = request_id = segments = None
    if request.method == "POST":
        body = g.get("json_body")
        if body is None:
            try:
                body = json.loads(request.get_data(cache=True) or b"null")
            except Exception:  # not JSON, or a body too large to read (413): no ids to show
                body = None
        if isinstance(body, dict):
            ids = body.get("speakerIds", [body["speakerId"]] if "speakerId" in body else None)
            if isinstance(ids, list) and all(isinstance(i, str) for i in ids):
                speaker_ids = ids
    if response.is_json and response.status_code == 200:
        answer = response.get_json(silent=True) or {}
        if isinstance(answer.get("segments"), list):
            segments = answer["segments"]
        if isinstance(answer.get("request_id"), str):
            request_id = answer["request_id"]
    state.journal.record(JournalEntry(
        time=time.time(), method=request.method, path=request.path, key=auth.mask_key(key) if key else None,
        tenant=auth.tenant_of(key) if key else None, status=response.status_code,
        duration_ms=round(duration_ms, 1), request_id=request_id, speaker_ids=speaker_ids, segments=segments))


# --- parsing --------------------------------------------------------------------------------------------------

def _json_object() -> dict:
    body = _optional_json_object()
    if body is None:
        raise errors.MalformedJson("the request body is empty; send a JSON object.")
    return body


def _optional_json_object() -> dict | None:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise errors.MalformedJson("the request body is not valid JSON; send a JSON object.") from None
    if not isinstance(body, dict):
        raise errors.MalformedJson(f"the request body must be a JSON object, not a JSON {_json_type(body)}.")
    return body


def _optional_string(body: dict | None, name: str, *, where: str = "") -> str | None:
    value = (body or {}).get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise errors.InvalidParameter(f"{where}{name} must be a string, not a JSON {_json_type(value)}.")
    return value


def _int(body: dict, name: str, *, default, low: int, high: int):
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.InvalidParameter(f"{name} must be a whole number, not a JSON {_json_type(value)}.")
    if not low <= value <= high:
        raise errors.InvalidParameter(f"{name} must be between {low} and {high}, got {value}.")
    return value


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _query_tenant() -> str | None:
    key = (request.args.get("apikey") or "").strip()
    return auth.tenant_of(key) if key else None


def _limit(default: int, maximum: int) -> int:
    raw = request.args.get("limit")
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise errors.InvalidParameter(f"limit must be a whole number between 1 and {maximum}, got {raw!r}.")
    return int(raw)


def _json_type(value) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")
