"""The admin API's published contract: the request bodies it takes (checked against these very schemas by
``mock_server.api.parsing.check_spec``, so every limit is written once) and the paths and answers
``/openapi.json`` lists while the plug-in is mounted."""
from __future__ import annotations

from mock_server.admin.faults import PRESETS, WEBHOOK_ERRORS
from mock_server.api.openapi import (
    SEGMENTS_EXAMPLE,
    DocExtension,
    error_refs,
    error_response,
    json_response,
    ref,
    request_body,
)

MAX_DELAY_MS = 60_000       # an injected delay longer than a minute is a typo, not a test
MAX_TIMES = 1_000_000
# A stub's segment times, in seconds: one day. Far above any audio the server takes by default (--max-audio-seconds
# 7200) and any stream; a later time is a typo (ms for s) or a probe (1e308), and would stretch the dashboard's
# timeline and every consumer's arithmetic.
MAX_STUB_SECONDS = 86_400

_STRING = {"type": "string"}

MATCH_API = {"type": "object", "additionalProperties": False, "properties": {
    "path": {**_STRING, "description": "Substring of the request path."},
    "method": {**_STRING, "description": "HTTP method, any case."},
    "apikey": {**_STRING, "minLength": 1, "description": "Only this api key's calls."}}}

MATCH_WEBHOOK = {"type": "object", "additionalProperties": False, "properties": {
    "apikey": {**_STRING, "minLength": 1, "description": "Only deliveries of this api key's jobs."},
    "request_id": {**_STRING, "description": "Only this async request's deliveries."}}}

FAULT_SCHEMA = {
    "type": "object", "additionalProperties": False,
    "description": "api target: fail (status 400-599, code, message) and/or delay (delay_ms) the next `times` "
                   "public calls matching match.path (substring), match.method and match.apikey that reach an "
                   "endpoint (a path nothing routes, or a method its endpoint does not take, keeps its own 404 or "
                   "405 and leaves the fault armed). webhook "
                   "target: make the next `times` deliveries (match.apikey, match.request_id) fail with a "
                   "status (100-599) or error (connection | timeout) and/or delay them.",
    "properties": {"target": {"type": "string", "enum": ["api", "webhook"], "default": "api"},
                   "match": {"type": "object"},
                   "times": {"type": "integer", "minimum": 1, "maximum": MAX_TIMES, "default": 1},
                   "status": {"type": "integer", "minimum": 100, "maximum": 599},
                   "code": {"type": "string", "minLength": 1, "pattern": "\\S"},
                   "message": _STRING,
                   "error": {"type": "string", "enum": list(WEBHOOK_ERRORS)},
                   "delay_ms": {"type": "integer", "minimum": 0, "maximum": MAX_DELAY_MS},
                   "preset": {"type": "string", "enum": list(PRESETS),
                              "description": "api target, instead of status and code: one of the vendor's "
                                             "documented errors (rate_limit answers 429 with Retry-After)."}},
    "if": {"required": ["target"], "properties": {"target": {"const": "webhook"}}},
    "then": {"properties": {"match": MATCH_WEBHOOK, "code": False, "message": False, "preset": False}},
    "else": {"properties": {"match": MATCH_API, "error": False,
                            "status": {"minimum": 400, "description": "api faults answer 400-599."}}},
}

SEGMENT = {"type": "object", "required": ["speaker_id", "start", "end"], "additionalProperties": False, "properties": {
    "speaker_id": {"type": "string", "minLength": 1, "maxLength": 256, "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f]+$",
                   "description": "One of match.speakerIds or \"UserNotIdentified\", as identify answers (another id "
                                  "is refused). Without match.speakerIds any id: the stub then answers only calls "
                                  "whose speakerIds include every id its segments name. No control characters."},
    "start": {"type": "number", "minimum": 0, "maximum": MAX_STUB_SECONDS,
              "description": "Seconds (at most a day); stored rounded to 2 decimals, as identify answers. Before end, "
                             "and not before the previous segment's end."},
    "end": {"type": "number", "minimum": 0, "maximum": MAX_STUB_SECONDS,
            "description": "Seconds (at most a day); stored rounded to 2 decimals; after start."}}}

STUB_SCHEMA = {
    "type": "object", "required": ["response"], "additionalProperties": False,
    "description": "Answer identify calls (sync, async and realtime streams) naming exactly match.speakerIds "
                   "and/or carrying match.request_id (under apikey, if given) with these segments instead of "
                   "listening. Without match (or with an empty one) the stub answers every identify call of the "
                   "key (of every key without apikey) that asks for the speakers its segments name. When several "
                   "stubs match a call, the one naming more match fields wins (speakerIds and request_id over "
                   "either, either over none), then one key's over every key's, then the newest.",
    "properties": {"match": {"type": "object", "additionalProperties": False, "properties": {
                       "speakerIds": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                       "request_id": _STRING}},
                   "apikey": {**_STRING, "minLength": 1},
                   "response": {"type": "object", "required": ["segments"], "additionalProperties": False,
                                "properties": {"segments": {"type": "array", "items": SEGMENT}}}},
}

RESET_SCHEMA = {"type": "object", "additionalProperties": False, "properties": {"apikey": {
    "type": "string", "minLength": 1, "description": "Forget only this key's state; all state when absent."}}}

SEED_SCHEMA = {"type": "object", "required": ["seed"], "additionalProperties": False,
               "properties": {"seed": {"type": ["integer", "string", "null"],
                                       "description": "Seed for generated request ids; null: random again."}}}

JOURNAL_MAX = 1000
WEBHOOK_LOG_MAX = 10_000

ADMIN_SCHEMAS: dict = {
    "ResetRequest": RESET_SCHEMA,
    "ResetResponse": {"type": "object", "required": ["reset"],
                      "properties": {"reset": {"type": "string", "enum": ["all", "key"]}}},
    "JournalEntry": {
        "type": "object", "required": ["time", "method", "path", "key", "status", "duration_ms"],
        "properties": {"time": {"type": "number"}, "method": {"type": "string"}, "path": {"type": "string"},
                       "key": {"type": ["string", "null"], "description": "Masked api key (key#xxxxxxxx)."},
                       "status": {"type": "integer"}, "duration_ms": {"type": "number"},
                       "request_id": {"type": ["string", "null"]},
                       "speakerIds": {"type": ["array", "null"], "items": {"type": "string"}},
                       "segments": {"type": ["array", "null"], "items": ref("Segment")}},
    },
    "Journal": {"type": "object", "required": ["requests"],
                "properties": {"requests": {"type": "array", "items": ref("JournalEntry")}}},
    "WebhookAttempt": {
        "type": "object", "required": ["request_id", "url", "attempt", "status", "error", "time"],
        "properties": {"request_id": {"type": "string"}, "url": {"type": "string"},
                       "attempt": {"type": "integer", "minimum": 1}, "status": {"type": ["integer", "null"]},
                       "error": {"type": ["string", "null"]}, "time": {"type": "number"}},
    },
    "WebhookLog": {"type": "object", "required": ["webhooks"],
                   "properties": {"webhooks": {"type": "array", "items": ref("WebhookAttempt")}}},
    "Job": {
        "type": "object", "required": ["request_id", "api", "webhook", "status", "webhook_status", "attempts"],
        "properties": {"request_id": {"type": "string"}, "api": {"type": "string"}, "webhook": {"type": "string"},
                       "status": {"type": "string", "enum": ["queued", "running", "done"]},
                       "webhook_status": {"type": ["string", "null"], "enum": ["pending", "delivered", "failed", None]},
                       "attempts": {"type": "integer", "minimum": 0},
                       "speakerIds": {"type": ["array", "null"], "items": {"type": "string"}},
                       "result": {"oneOf": [{"type": "null"}, ref("WebhookPayload")]},
                       "created": {"type": "number"}, "updated": {"type": "number"}},
    },
    "Jobs": {"type": "object", "required": ["jobs"],
             "properties": {"jobs": {"type": "array", "minItems": 1, "items": ref("Job")}}},
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
    "Seed": SEED_SCHEMA,
}


def admin_paths() -> dict:
    tag = ["admin"]

    def op(op_id: str, summary: str, schema: str, *errors: int, **extra) -> dict:
        return {"operationId": op_id, "tags": tag, "summary": summary, "security": [],
                "responses": {"200": json_response("OK", ref(schema)), **error_refs(*errors, 403)}, **extra}

    def query(name: str, description: str, schema: dict) -> dict:
        return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}

    apikey_q = query("apikey", "Only this api key's entries.", {"type": "string"})
    limit_q = lambda maximum: query("limit", f"At most this many (1-{maximum}).",  # noqa: E731
                                    {"type": "integer", "minimum": 1, "maximum": maximum})
    path_id = lambda name: {"name": name, "in": "path", "required": True,  # noqa: E731
                            "schema": {"type": "string", "minLength": 1}}
    return {
        "/_mock/reset": {"post": op("admin_reset", "Forget all state, or one api key's", "ResetResponse", 400,
                                    requestBody=request_body(ref("ResetRequest"), {"apikey": "test-key"},
                                                           required=False))},
        "/_mock/requests": {"get": op("admin_requests", "Recent public API calls (journal), newest first",
                                      "Journal", 400, parameters=[apikey_q, limit_q(JOURNAL_MAX)])},
        "/_mock/webhooks": {"get": op("admin_webhooks", "Webhook delivery attempts, newest first", "WebhookLog",
                                      400, parameters=[apikey_q, limit_q(WEBHOOK_LOG_MAX)])},
        "/_mock/jobs/{request_id}": {"get": op("admin_jobs", "The async jobs with this request id", "Jobs", 404,
                                               parameters=[path_id("request_id"), apikey_q])},
        "/_mock/faults": {
            "post": op("admin_add_fault", "Inject a failure or delay into matching calls or deliveries",
                       "FaultCreated", 400,
                       requestBody=request_body(ref("FaultRequest"),
                                              {"match": {"path": "sync/diarization/identify"}, "status": 503,
                                               "times": 1})),
            "get": op("admin_faults", "The armed faults", "FaultList"),
            "delete": op("admin_clear_faults", "Disarm every fault", "FaultList"),
        },
        "/_mock/faults/{fault_id}": {"delete": op("admin_delete_fault", "Disarm one fault", "Deleted", 404,
                                                  parameters=[path_id("fault_id")])},
        "/_mock/stubs": {
            "post": op("admin_add_stub", "Register a canned identify answer", "StubCreated", 400,
                       requestBody=request_body(ref("StubRequest"),
                                              {"match": {"speakerIds": ["alice", "bob"]},
                                               "response": SEGMENTS_EXAMPLE})),
            "get": op("admin_stubs", "The registered stubs", "StubList"),
            "delete": op("admin_clear_stubs", "Remove every stub", "StubList"),
        },
        "/_mock/stubs/{stub_id}": {"delete": op("admin_delete_stub", "Remove one stub", "Deleted", 404,
                                                parameters=[path_id("stub_id")])},
        "/_mock/seed": {"post": op("admin_seed", "Make generated request ids reproducible (null: random again)",
                                   "Seed", 400, requestBody=request_body(ref("Seed"), {"seed": 42}))},
        "/_mock/ui": {"get": {"operationId": "admin_dashboard", "tags": tag, "security": [],
                              "summary": "Dashboard: speakers, recent requests, webhooks, identify timelines",
                              "responses": {"200": {"description": "An HTML page.",
                                                    "content": {"text/html": {"schema": {"type": "string"}}}},
                                            **error_refs(403)}}},
    }


ERROR_403 = error_response("The admin API only answers loopback clients (see --admin-remote).",
                           "admin_forbidden", "the admin API only answers clients on this machine.", status=403)


def doc_extension() -> DocExtension:
    """The admin API's part of /openapi.json."""
    return DocExtension(paths=admin_paths(), schemas=ADMIN_SCHEMAS, responses={"Error403": ERROR_403})
