"""The OpenAPI 3.1 description of everything the mock serves, at GET /openapi.json, and a readable page at /docs.

The document is a plain Python dict built here, so the limits it states (id lengths, sample rates, encodings)
come from the same constants the handlers check. Admin paths (``/_mock/...``) are left out when the server runs
with ``--no-admin``, as those routes do not exist then.
"""
from __future__ import annotations

import copy
import json

from flask import Blueprint, Flask, current_app, jsonify, render_template

from . import __version__, audio
from .api import API_VERSIONS, ASYNC_API_NAME, MAX_ID_LENGTH, MAX_SPEAKER_IDS

docs = Blueprint("docs", __name__)

API_PREFIX = "/audio/generic/api/{version}"
HTTP_METHODS = ("get", "put", "post", "delete", "patch")


def register_docs(app: Flask) -> None:
    app.register_blueprint(docs)


@docs.get("/openapi.json")
def openapi_json():
    return jsonify(build_document(admin=_admin_on()))


@docs.get("/docs")
def docs_page():
    document = build_document(admin=_admin_on())
    return render_template("docs.html", doc=document, operations=operations(document),
                           example=_example_json)


def _admin_on() -> bool:
    return bool(current_app.extensions["speaker_id_mock"].config.admin)


# --- schema pieces --------------------------------------------------------------------------------------------

def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _error_response(description: str, code: str, message: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": _ref("Error"),
                                             "example": {"error": {"code": code, "message": message}}}}}


def _json_response(description: str, schema: dict, example=None) -> dict:
    content: dict = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"description": description, "content": {"application/json": content}}


def _json_body(schema: dict, example: dict, *, required: bool = True) -> dict:
    return {"required": required, "content": {"application/json": {"schema": schema, "example": example}}}


def _errors(*statuses: int) -> dict:
    return {str(s): {"$ref": f"#/components/responses/Error{s}"} for s in statuses}


SPEAKER_ID = {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH,
              "description": "A speaker id chosen by the caller; unique per api key.", "examples": ["alice"]}

AUDIO_PROPERTIES = {
    "content": {"type": "string", "contentEncoding": "base64",
                "description": "The audio file's bytes, base64-encoded. Exactly one of content and url."},
    "url": {"type": "string", "format": "uri",
            "description": "An http(s) url the server downloads the audio from. Exactly one of content and url."},
    "encoding": {"type": "string", "examples": list(audio.SUPPORTED_ENCODINGS),
                 "description": "Audio format, matched loosely (case, spaces, dashes: 'MPEG Audio', 'MPEG-4'). "
                                "Files in any container FFmpeg reads are recognised from their bytes, whatever the "
                                "label; the label decides only for headerless data: LINEAR16 (16-bit PCM), MULAW, "
                                "ALAW, or a raw PCM format such as S16BE, U8, F32LE."},
    "sampleRate": {"type": "integer", "minimum": audio.MIN_SAMPLE_RATE, "maximum": audio.MAX_SAMPLE_RATE,
                   "description": "Samples per second; needed for headerless data, otherwise the file header's "
                                  "rate is used."},
    "languageCode": {"type": "string", "default": "en-US", "description": "Language spoken; accepted, not used."},
}

EXACTLY_ONE_SOURCE = [{"required": ["content"], "not": {"required": ["url"]}},
                      {"required": ["url"], "not": {"required": ["content"]}}]

SCHEMAS: dict = {
    "Error": {
        "type": "object", "required": ["error"],
        "description": "Every 4xx and 5xx answer has this body.",
        "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string", "pattern": "^[a-z0-9_]+$", "description": "Stable snake_case code.",
                     "examples": ["unknown_speakers"]},
            "message": {"type": "string", "description": "What went wrong and how to fix it."}}}},
    },
    "EnrollRequest": {
        "type": "object", "required": ["speakerId"], "oneOf": EXACTLY_ONE_SOURCE,
        "properties": {"speakerId": SPEAKER_ID, **AUDIO_PROPERTIES},
    },
    "IdentifyRequest": {
        "type": "object", "required": ["speakerIds"], "oneOf": EXACTLY_ONE_SOURCE,
        "properties": {"speakerIds": {"type": "array", "minItems": 1, "maxItems": MAX_SPEAKER_IDS,
                                      "items": SPEAKER_ID,
                                      "description": "Enrolled speakers to look for (each fully enrolled)."},
                       **AUDIO_PROPERTIES},
    },
    "DeleteRequest": {"type": "object", "required": ["speakerId"], "properties": {"speakerId": SPEAKER_ID}},
    "EnrollResponse": {
        "type": "object", "required": ["message"],
        "properties": {"message": {"type": "string", "enum": ["Success", "Complete"],
                                   "description": "Complete once the speaker has enough enrollments "
                                                  "(--enrollments-required, 3 by default)."}},
    },
    "DeleteResponse": {"type": "object", "required": ["message"],
                       "properties": {"message": {"type": "string", "const": "Success"}}},
    "EnrolledSpeakers": {
        "type": "object", "required": ["developer_id", "enrolled_speaker_ids"],
        "properties": {
            "developer_id": {"type": "string"},
            "enrolled_speaker_ids": {"type": "array", "items": {
                "type": "object", "required": ["speaker_id", "enrollment_complete"],
                "properties": {"speaker_id": {"type": "string"},
                               "enrollment_complete": {"type": "string", "enum": ["True", "False"]}}}}},
    },
    "Segment": {
        "type": "object", "required": ["speaker_id", "start", "end"],
        "properties": {"speaker_id": {"type": "string",
                                      "description": "One of the requested speakerIds, or \"unknown\"."},
                       "start": {"type": "number", "description": "Seconds from the start of the audio."},
                       "end": {"type": "number", "description": "Seconds from the start of the audio."}},
    },
    "IdentifyResponse": {"type": "object", "required": ["segments"],
                         "properties": {"segments": {"type": "array", "items": _ref("Segment")}}},
    "AsyncAccepted": {
        "type": "object", "required": ["request_id", "api"],
        "properties": {"request_id": {"type": "string", "description": "The given request_id, or a new UUID."},
                       "api": {"type": "string", "const": ASYNC_API_NAME}},
    },
    "WebhookPayload": {
        "type": "object", "required": ["request_id", "response"],
        "description": "POSTed to the webhook url once the async job is done; retried with backoff until "
                       "the receiver answers 2xx.",
        "properties": {"request_id": {"type": "string"},
                       "response": {"oneOf": [_ref("IdentifyResponse"), _ref("Error")]}},
    },
    "Health": {
        "type": "object", "required": ["status", "version", "uptime_seconds"],
        "properties": {"status": {"type": "string", "const": "ok"}, "version": {"type": "string"},
                       "uptime_seconds": {"type": "number", "minimum": 0}},
    },
}

FAULT_SCHEMA = {
    "type": "object",
    "description": "api target: fail (status 400-599, code, message) and/or delay (delay_ms) the next `times` "
                   "public calls matching match.path (substring), match.method and match.apikey. webhook "
                   "target: make the next `times` deliveries (match.apikey, match.request_id) fail with a "
                   "status or error (connection | timeout) and/or delay them.",
    "properties": {"target": {"type": "string", "enum": ["api", "webhook"], "default": "api"},
                   "match": {"type": "object", "properties": {
                       "path": {"type": "string"}, "method": {"type": "string"}, "apikey": {"type": "string"},
                       "request_id": {"type": "string"}}},
                   "times": {"type": "integer", "minimum": 1, "default": 1},
                   "status": {"type": "integer", "minimum": 100, "maximum": 599},
                   "code": {"type": "string"}, "message": {"type": "string"},
                   "error": {"type": "string", "enum": ["connection", "timeout"]},
                   "delay_ms": {"type": "integer", "minimum": 0, "maximum": 60000}},
}

STUB_SCHEMA = {
    "type": "object", "required": ["response"],
    "description": "Answer identify calls (sync and async) naming exactly match.speakerIds and/or carrying "
                   "match.request_id (under apikey, if given) with these segments instead of listening.",
    "properties": {"match": {"type": "object", "properties": {
                       "speakerIds": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                       "request_id": {"type": "string"}}},
                   "apikey": {"type": "string"},
                   "response": {"type": "object", "required": ["segments"], "properties": {
                       "segments": {"type": "array", "items": _ref("Segment")}}}},
}

ADMIN_SCHEMAS: dict = {
    "ResetRequest": {"type": "object", "properties": {"apikey": {
        "type": "string", "description": "Forget only this key's state; all state when absent."}}},
    "ResetResponse": {"type": "object", "required": ["reset"],
                      "properties": {"reset": {"type": "string", "enum": ["all", "key"]}}},
    "JournalEntry": {
        "type": "object", "required": ["time", "method", "path", "key", "status", "duration_ms"],
        "properties": {"time": {"type": "number"}, "method": {"type": "string"}, "path": {"type": "string"},
                       "key": {"type": ["string", "null"], "description": "Masked api key (key#xxxxxxxx)."},
                       "status": {"type": "integer"}, "duration_ms": {"type": "number"},
                       "request_id": {"type": ["string", "null"]},
                       "speakerIds": {"type": ["array", "null"], "items": {"type": "string"}},
                       "segments": {"type": ["array", "null"], "items": _ref("Segment")}},
    },
    "Journal": {"type": "object", "required": ["requests"],
                "properties": {"requests": {"type": "array", "items": _ref("JournalEntry")}}},
    "WebhookAttempt": {
        "type": "object", "required": ["request_id", "url", "attempt", "status", "error", "time"],
        "properties": {"request_id": {"type": "string"}, "url": {"type": "string"},
                       "attempt": {"type": "integer", "minimum": 1}, "status": {"type": ["integer", "null"]},
                       "error": {"type": ["string", "null"]}, "time": {"type": "number"}},
    },
    "WebhookLog": {"type": "object", "required": ["webhooks"],
                   "properties": {"webhooks": {"type": "array", "items": _ref("WebhookAttempt")}}},
    "Job": {
        "type": "object", "required": ["request_id", "api", "webhook", "status", "webhook_status", "attempts"],
        "properties": {"request_id": {"type": "string"}, "api": {"type": "string"}, "webhook": {"type": "string"},
                       "status": {"type": "string", "enum": ["queued", "running", "done"]},
                       "webhook_status": {"type": ["string", "null"], "enum": ["pending", "delivered", "failed", None]},
                       "attempts": {"type": "integer", "minimum": 0},
                       "speakerIds": {"type": ["array", "null"], "items": {"type": "string"}},
                       "result": {"oneOf": [{"type": "null"}, _ref("WebhookPayload")]},
                       "created": {"type": "number"}, "updated": {"type": "number"}},
    },
    "Jobs": {"type": "object", "required": ["jobs"],
             "properties": {"jobs": {"type": "array", "minItems": 1, "items": _ref("Job")}}},
    "FaultRequest": FAULT_SCHEMA,
    "FaultCreated": {"type": "object", "required": ["fault"],
                     "properties": {"fault": {"type": "object", "required": ["id", "target", "times"],
                                              "properties": {"id": {"type": "string"}}}}},
    "FaultList": {"type": "object", "required": ["faults"],
                  "properties": {"faults": {"type": "array", "items": {"type": "object"}}}},
    "StubRequest": STUB_SCHEMA,
    "StubCreated": {"type": "object", "required": ["stub"],
                    "properties": {"stub": {"type": "object", "required": ["id", "response"],
                                            "properties": {"id": {"type": "string"}}}}},
    "StubList": {"type": "object", "required": ["stubs"],
                 "properties": {"stubs": {"type": "array", "items": {"type": "object"}}}},
    "Deleted": {"type": "object", "required": ["deleted"], "properties": {"deleted": {"type": "string"}}},
    "Seed": {"type": "object", "required": ["seed"],
             "properties": {"seed": {"type": ["integer", "string", "null"]}}},
}

RESPONSES = {
    "Error400": _error_response("The request is malformed or names unknown speakers.", "missing_parameter",
                                "speakerId is required: a non-empty string naming the speaker."),
    "Error401": _error_response("No api key, or a key the server was not started with.", "missing_api_key",
                                "an api key is required: add ?apikey=YOUR_KEY to the url or send an 'apikey' header."),
    "Error403": _error_response("The admin API only answers loopback clients (see --admin-remote).",
                                "admin_forbidden",
                                "the admin API only answers clients on this machine."),
    "Error404": _error_response("No such speaker or resource.", "speaker_not_found",
                                "speaker 'alice' is not enrolled under this api key."),
    "Error413": _error_response("The body or the audio is too large or too long.", "payload_too_large",
                                "The request body is larger than the server accepts (--max-body-mb)."),
    "Error429": _error_response("The async queue is full; retry after the Retry-After delay.", "queue_full",
                                "the async job queue is full; retry in a second."),
}

EXAMPLE_AUDIO = {"content": "UklGRiQAAABXQVZFZm10IBAAAAABAAEAgD4AAAB9AAACABAAZGF0YQAAAAA=", "encoding": "WAV",
                 "sampleRate": 16000, "languageCode": "en-US"}

SEGMENTS_EXAMPLE = {"segments": [{"speaker_id": "alice", "start": 0.0, "end": 2.4},
                                 {"speaker_id": "bob", "start": 2.4, "end": 5.1}]}


def _public_paths(version: str) -> dict:
    prefix = API_PREFIX.format(version=version)
    tag = [f"speaker id {version}"]
    webhook_param = {"name": "webhook", "in": "query", "required": True,
                     "description": "Absolute http(s) url the result is POSTed to.",
                     "schema": {"type": "string", "format": "uri"}}
    request_id_param = {"name": "request_id", "in": "query", "required": False,
                        "description": "Your id for this request, echoed in the answer and the webhook; "
                                       "a UUID is generated when absent.",
                        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH}}
    return {
        f"{prefix}/sync/diarization/enroll": {"post": {
            "operationId": f"enroll_{version}", "tags": tag, "summary": "Enroll one recording of a speaker",
            "description": "Each call adds one enrollment; the speaker is usable for identification once the "
                           "answer is \"Complete\".",
            "requestBody": _json_body(_ref("EnrollRequest"), {**EXAMPLE_AUDIO, "speakerId": "alice"}),
            "responses": {"200": _json_response("Enrollment stored.", _ref("EnrollResponse"),
                                                {"message": "Success"}), **_errors(400, 401, 413)},
        }},
        f"{prefix}/sync/diarization/delete": {"post": {
            "operationId": f"delete_{version}", "tags": tag, "summary": "Forget an enrolled speaker",
            "requestBody": _json_body(_ref("DeleteRequest"), {"speakerId": "alice"}),
            "responses": {"200": _json_response("Speaker deleted.", _ref("DeleteResponse"), {"message": "Success"}),
                          **_errors(400, 401, 404, 413)},
        }},
        f"{prefix}/sync/diarization/get_enrolled_speakers": {"get": {
            "operationId": f"get_enrolled_speakers_{version}", "tags": tag,
            "summary": "List the speakers enrolled under this api key",
            "responses": {"200": _json_response("The speakers, oldest first.", _ref("EnrolledSpeakers"), {
                "developer_id": "dev-0123456789ab",
                "enrolled_speaker_ids": [{"speaker_id": "alice", "enrollment_complete": "True"}]}),
                **_errors(401)},
        }},
        f"{prefix}/sync/diarization/identify": {"post": {
            "operationId": f"identify_sync_{version}", "tags": tag, "summary": "Who speaks when (synchronous)",
            "requestBody": _json_body(_ref("IdentifyRequest"), {**EXAMPLE_AUDIO, "speakerIds": ["alice", "bob"]}),
            "responses": {"200": _json_response("Segments in time order.", _ref("IdentifyResponse"),
                                                SEGMENTS_EXAMPLE), **_errors(400, 401, 413)},
        }},
        f"{prefix}/async/diarization/identify": {"post": {
            "operationId": f"identify_async_{version}", "tags": tag,
            "summary": "Who speaks when (asynchronous, result POSTed to a webhook)",
            "parameters": [webhook_param, request_id_param],
            "requestBody": _json_body(_ref("IdentifyRequest"), {**EXAMPLE_AUDIO, "speakerIds": ["alice", "bob"]}),
            "responses": {"200": _json_response("Accepted; the result follows at the webhook.",
                                                _ref("AsyncAccepted"),
                                                {"request_id": "8bdd983a-c6bd-4159-982d-6a2471406d62",
                                                 "api": ASYNC_API_NAME}),
                          **_errors(400, 401, 413, 429)},
            "callbacks": {"identifyResult": {"{$request.query.webhook}": {"post": {
                "summary": "The async result",
                "requestBody": _json_body(_ref("WebhookPayload"),
                                          {"request_id": "8bdd983a-c6bd-4159-982d-6a2471406d62",
                                           "response": SEGMENTS_EXAMPLE}),
                "responses": {"200": {"description": "Any 2xx ends delivery; 5xx, 429 and network errors are "
                                                     "retried with exponential backoff."}},
            }}}},
        }},
    }


def _admin_paths() -> dict:
    tag = ["admin"]

    def op(op_id: str, summary: str, schema: str, *errors: int, **extra) -> dict:
        return {"operationId": op_id, "tags": tag, "summary": summary, "security": [],
                "responses": {"200": _json_response("OK", _ref(schema)), **_errors(*errors, 403)}, **extra}

    def query(name: str, description: str, schema: dict) -> dict:
        return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}

    apikey_q = query("apikey", "Only this api key's entries.", {"type": "string"})
    limit_q = lambda maximum: query("limit", f"At most this many (1-{maximum}).",  # noqa: E731
                                    {"type": "integer", "minimum": 1, "maximum": maximum})
    path_id = lambda name: {"name": name, "in": "path", "required": True,  # noqa: E731
                            "schema": {"type": "string", "minLength": 1}}
    return {
        "/_mock/reset": {"post": op("admin_reset", "Forget all state, or one api key's", "ResetResponse", 400,
                                    requestBody=_json_body(_ref("ResetRequest"), {"apikey": "test-key"},
                                                           required=False))},
        "/_mock/requests": {"get": op("admin_requests", "Recent public API calls (journal), newest first",
                                      "Journal", 400, parameters=[apikey_q, limit_q(1000)])},
        "/_mock/webhooks": {"get": op("admin_webhooks", "Webhook delivery attempts, newest first", "WebhookLog",
                                      400, parameters=[apikey_q, limit_q(10000)])},
        "/_mock/jobs/{request_id}": {"get": op("admin_jobs", "The async jobs with this request id", "Jobs", 404,
                                               parameters=[path_id("request_id"), apikey_q])},
        "/_mock/faults": {
            "post": op("admin_add_fault", "Inject a failure or delay into matching calls or deliveries",
                       "FaultCreated", 400,
                       requestBody=_json_body(_ref("FaultRequest"),
                                              {"match": {"path": "sync/diarization/identify"}, "status": 503,
                                               "times": 1})),
            "get": op("admin_faults", "The armed faults", "FaultList"),
            "delete": op("admin_clear_faults", "Disarm every fault", "FaultList"),
        },
        "/_mock/faults/{fault_id}": {"delete": op("admin_delete_fault", "Disarm one fault", "Deleted", 404,
                                                  parameters=[path_id("fault_id")])},
        "/_mock/stubs": {
            "post": op("admin_add_stub", "Register a canned identify answer", "StubCreated", 400,
                       requestBody=_json_body(_ref("StubRequest"),
                                              {"match": {"speakerIds": ["alice", "bob"]},
                                               "response": SEGMENTS_EXAMPLE})),
            "get": op("admin_stubs", "The registered stubs", "StubList"),
            "delete": op("admin_clear_stubs", "Remove every stub", "StubList"),
        },
        "/_mock/stubs/{stub_id}": {"delete": op("admin_delete_stub", "Remove one stub", "Deleted", 404,
                                                parameters=[path_id("stub_id")])},
        "/_mock/seed": {"post": op("admin_seed", "Make generated request ids reproducible (null: random again)",
                                   "Seed", 400, requestBody=_json_body(_ref("Seed"), {"seed": 42}))},
        "/_mock/ui": {"get": {"operationId": "admin_dashboard", "tags": tag, "security": [],
                              "summary": "Dashboard: speakers, recent requests, webhooks, identify timelines",
                              "responses": {"200": {"description": "An HTML page.",
                                                    "content": {"text/html": {"schema": {"type": "string"}}}},
                                            **_errors(403)}}},
    }


def _meta_paths() -> dict:
    html = {"description": "An HTML page.", "content": {"text/html": {"schema": {"type": "string"}}}}
    return {
        "/health": {"get": {"operationId": "health", "tags": ["meta"], "summary": "Liveness and version",
                            "security": [],
                            "responses": {"200": _json_response("Serving.", _ref("Health"))}}},
        "/openapi.json": {"get": {"operationId": "openapi", "tags": ["meta"], "summary": "This document",
                                  "security": [],
                                  "responses": {"200": _json_response("OpenAPI 3.1", {"type": "object"})}}},
        "/docs": {"get": {"operationId": "docs", "tags": ["meta"], "summary": "This document as a web page",
                          "security": [], "responses": {"200": html}}},
    }


def build_document(*, admin: bool) -> dict:
    """The OpenAPI 3.1 document; ``admin`` adds the /_mock paths (they exist only when admin is on)."""
    paths: dict = {}
    for version in API_VERSIONS:
        paths.update(_public_paths(version))
    paths.update(_meta_paths())
    schemas = dict(SCHEMAS)
    responses = dict(RESPONSES)
    if admin:
        paths.update(_admin_paths())
        schemas.update(ADMIN_SCHEMAS)
    else:
        responses.pop("Error403")
    return copy.deepcopy({
        "openapi": "3.1.0",
        "info": {"title": "speaker-id-mock", "version": __version__,
                 "description": "Offline drop-in mock of the Speaker Identification API (enroll, identify, "
                                "delete, list), v1 and v2 prefixes alike, plus the mock's own admin API under "
                                "/_mock (loopback clients only). Every error is "
                                '{"error": {"code", "message"}}.'},
        "servers": [{"url": "/"}],
        "security": [{"apikeyQuery": []}, {"apikeyHeader": []}],
        "paths": paths,
        "webhooks": {"identifyResult": {"post": {
            "summary": "The async identify result, POSTed to the request's webhook url",
            "requestBody": _json_body(_ref("WebhookPayload"), {"request_id": "8bdd983a-c6bd-4159-982d-6a2471406d62",
                                                              "response": SEGMENTS_EXAMPLE}),
            "responses": {"200": {"description": "Delivered."}}}}},
        "components": {
            "securitySchemes": {
                "apikeyQuery": {"type": "apiKey", "in": "query", "name": "apikey",
                                "description": "As the vendor's SDK sends it: ?apikey=YOUR_KEY."},
                "apikeyHeader": {"type": "apiKey", "in": "header", "name": "apikey"},
            },
            "schemas": schemas,
            "responses": responses,
        },
    })


# --- for the /docs page ---------------------------------------------------------------------------------------

def operations(document: dict) -> list[dict]:
    """Every (path, method) of ``document`` flattened for display: params, body example, responses."""
    out = []
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            op = item.get(method)
            if op is None:
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            secured = op.get("security", document.get("security")) != []
            params = list(op.get("parameters", []))
            if secured:
                params.insert(0, {"name": "apikey", "in": "query or header", "required": True,
                                  "description": "Your api key.", "schema": {"type": "string"}})
            out.append({
                "path": path, "method": method.upper(), "id": op.get("operationId", f"{method}-{path}"),
                "summary": op.get("summary", ""), "description": op.get("description", ""),
                "tag": (op.get("tags") or ["other"])[0], "params": params,
                "body_schema": _resolve(document, body.get("schema")), "body_example": body.get("example"),
                "responses": [{"status": status, "description": _resolve(document, r).get("description", ""),
                               "example": _response_example(document, r)}
                              for status, r in op.get("responses", {}).items()],
                "callbacks": sorted(op.get("callbacks", {})),
            })
    return out


def _resolve(document: dict, node):
    while isinstance(node, dict) and "$ref" in node:
        where = node["$ref"].lstrip("#/").split("/")
        node = document
        for part in where:
            node = node[part]
    return node or {}


def _response_example(document: dict, response: dict):
    content = _resolve(document, response).get("content", {}).get("application/json", {})
    return content.get("example")


def _example_json(value) -> str:
    return json.dumps(value, indent=2)
