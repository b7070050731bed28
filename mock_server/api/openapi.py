"""The OpenAPI 3.1 description of everything the mock serves, at GET /openapi.json, and a readable page at /docs.

The document is a plain Python dict built here, so the limits it states (id lengths, sample rates, encodings)
come from the same constants the handlers check. Admin paths (``/_mock/...``) are left out when the server runs
with ``--no-admin``, as those routes do not exist then.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field

from flask import Blueprint, Flask, current_app, jsonify, render_template

from mock_server import __version__, audio, errors
from mock_server.api.parsing import BOOLEAN_PATTERN, MAX_ID_LENGTH
from mock_server.api.routes import API_VERSIONS, ASYNC_API_NAME, MAX_SPEAKER_IDS
from mock_server.errors import fault_body

docs = Blueprint("docs", __name__, template_folder="templates")

API_PREFIX = "/audio/generic/api/{version}"
HTTP_METHODS = ("get", "put", "post", "delete", "patch")


_EXTENSIONS_KEY = "speaker_id_mock.openapi"


@dataclass(frozen=True)
class DocExtension:
    """Paths, schemas and responses a plug-in (the admin API) adds to the document while it is mounted."""

    paths: dict = field(default_factory=dict)
    schemas: dict = field(default_factory=dict)
    responses: dict = field(default_factory=dict)


def register_docs(app: Flask) -> None:
    app.register_blueprint(docs)
    doc_extensions(app)


def extend_docs(app: Flask, extension: DocExtension) -> None:
    """Add a plug-in's part to this app's /openapi.json and /docs."""
    doc_extensions(app).append(extension)


def doc_extensions(app: Flask | None = None) -> list[DocExtension]:
    """The plug-ins' parts of ``app``'s (default: the current app's) /openapi.json and /docs."""
    return (current_app if app is None else app).extensions.setdefault(_EXTENSIONS_KEY, [])


@docs.get("/openapi.json")
def openapi_json():
    return jsonify(build_document(doc_extensions()))


@docs.get("/docs")
def docs_page():
    document = build_document(doc_extensions())
    return render_template("docs.html", doc=document, operations=operations(document),
                           example=_example_json)


# --- schema pieces --------------------------------------------------------------------------------------------

def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def error_response(description: str, code: str, message: str, *, status: int = 400, gateway: bool = False,
                   vendor_code: str | None = None, vendor_text: str | None = None) -> dict:
    example = fault_body(status=status, code=code, message=message, gateway=gateway, vendor_code=vendor_code,
                         vendor_text=vendor_text)
    return {"description": description,
            "content": {"application/json": {"schema": ref("Error"), "example": example}}}


def json_response(description: str, schema: dict, example=None) -> dict:
    content: dict = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"description": description, "content": {"application/json": content}}


def request_body(schema: dict, example: dict, *, required: bool = True) -> dict:
    return {"required": required, "content": {"application/json": {"schema": schema, "example": example}}}


def error_refs(*statuses: int | str) -> dict:
    return {str(s): {"$ref": f"#/components/responses/Error{s}"} for s in statuses}


SPEAKER_ID = {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH,
              "description": "A speaker id chosen by the caller; unique per api key.", "examples": ["alice"]}

AUDIO_PROPERTIES = {
    "content": {"type": "string", "contentEncoding": "base64",
                "description": "The audio file's bytes, base64-encoded. Exactly one of content and url (an "
                               "empty content next to a url counts as absent)."},
    "url": {"type": "string", "format": "uri",
            "description": "An http(s) url the server downloads the audio from. Exactly one of content and url "
                           "(an empty or blank url counts as absent)."},
    "encoding": {"type": "string", "examples": list(audio.SUPPORTED_ENCODINGS),
                 "description": "Audio format, matched loosely (case, spaces, dashes: 'MPEG Audio', 'MPEG-4'). "
                                "Files in any container FFmpeg reads are recognised from their bytes, whatever the "
                                "label; the label decides only for headerless data: LINEAR16 (16-bit PCM), MULAW, "
                                "ALAW, or a raw PCM format such as S16BE, U8, F32LE."},
    "sampleRate": {"type": "integer", "minimum": audio.MIN_SAMPLE_RATE, "maximum": audio.MAX_SAMPLE_RATE,
                   "description": "Samples per second; needed, and checked against this range, for headerless "
                                  "data. Otherwise the file header's rate is used and this field is ignored, "
                                  "whatever its value (one that is not a positive whole number is still a 400)."},
    "languageCode": {"type": "string", "default": "en-US", "description": "Language spoken; accepted, not used."},
}

FAULT_DETAIL = {
    "code": {"type": "string", "pattern": "^[a-z0-9_]+$", "description": "The mock's stable snake_case code.",
             "examples": ["unknown_speakers"]},
    "message": {"type": "string", "description": "What went wrong and how to fix it."},
}

SPEAKER_STATUS = {
    "type": "object",
    "required": ["speaker_id", "enrollment_complete", "total_speech_duration", "total_enroll_duration",
                 "enroll_quality"],
    "properties": {"speaker_id": {"type": "string"}, "enrollment_complete": {"type": "boolean"},
                   "total_speech_duration": {"type": "number", "minimum": 0,
                                             "description": "Seconds of speech heard, over all enrollments."},
                   "total_enroll_duration": {"type": "number", "minimum": 0,
                                             "description": "Seconds of audio, over all enrollments."},
                   "enroll_quality": {"type": "string", "enum": ["poor", "average", "good", "high"]}},
}

EXACTLY_ONE_SOURCE = [{"required": ["content"], "not": {"required": ["url"]}},
                      {"required": ["url"], "not": {"required": ["content"]}}]

SCHEMAS: dict = {
    "Error": {
        "description": "Every 4xx and 5xx answer: the vendor's fault body, in its gateway's shape (missing or "
                       "invalid key, rate limit, quota, unknown route) or its service's (everything else). "
                       "detail.code and detail.message are the mock's stable code and how-to-fix text.",
        "oneOf": [ref("GatewayFault"), ref("ServiceFault")],
    },
    "GatewayFault": {
        "type": "object", "required": ["fault"],
        "properties": {"fault": {"type": "object", "required": ["faultstring", "detail"], "properties": {
            "faultstring": {"type": "string", "examples": ["Invalid ApiKey"]},
            "detail": {"type": "object", "required": ["errorcode", "code", "message"], "properties": {
                "errorcode": {"type": "string", "examples": ["oauth.v2.InvalidApiKey"]}, **FAULT_DETAIL}}}}},
    },
    "ServiceFault": {
        "type": "object", "required": ["fault"],
        "properties": {"fault": {"type": "object", "required": ["fault_string", "detail"], "properties": {
            "fault_string": {"type": "string",
                             "examples": ["Error in enroll: Insufficent speech content in audio"]},
            "detail": {"type": "object", "required": ["error_code", "code", "message"], "properties": {
                "error_code": {"type": "string", "examples": ["com.deepaffects.BadRequest"]}, **FAULT_DETAIL}}}}},
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
        "description": "--api-profile 2020 (default): the speaker's status after this enrollment. 2019: "
                       "Success, then Complete once the speaker has --enrollments-required enrollments.",
        "oneOf": [{"allOf": [SPEAKER_STATUS, {"type": "object", "required": ["message"],
                                             "properties": {"message": {"const": "Success"}}}]},
                  {"type": "object", "required": ["message"], "additionalProperties": False,
                   "properties": {"message": {"type": "string", "enum": ["Success", "Complete"]}}}],
    },
    "SpeakerStatus": SPEAKER_STATUS,
    "DeleteResponse": {"type": "object", "required": ["message"],
                       "properties": {"message": {"type": "string", "const": "Success"}}},
    "EnrolledSpeakers": {
        "type": "object", "required": ["developer_id", "enrolled_speaker_ids"],
        "properties": {
            "developer_id": {"type": "string"},
            "enrolled_speaker_ids": {"type": "array", "items": {"oneOf": [SPEAKER_STATUS, {
                "type": "object", "required": ["speaker_id", "enrollment_complete"], "additionalProperties": False,
                "description": "--api-profile 2019",
                "properties": {"speaker_id": {"type": "string"},
                               "enrollment_complete": {"type": "string", "enum": ["True", "False"]}}}]}}},
    },
    "Segment": {
        "type": "object", "required": ["speaker_id", "start", "end"],
        "properties": {"speaker_id": {"type": "string",
                                      "description": "One of the requested speakerIds, or \"UserNotIdentified\"."},
                       "start": {"type": "number", "description": "Seconds from the start of the audio."},
                       "end": {"type": "number", "description": "Seconds from the start of the audio."}},
    },
    "IdentifyResponse": {"type": "object", "required": ["segments"],
                         "properties": {"segments": {"type": "array", "items": ref("Segment")}}},
    "AsyncAccepted": {
        "type": "object", "required": ["request_id", "api"],
        "properties": {"request_id": {"type": "string", "description": "The given request_id, or a new UUID."},
                       "api": {"type": "string", "const": ASYNC_API_NAME}},
    },
    "WebhookPayload": {
        "type": "object", "required": ["request_id", "response"],
        "description": "POSTed to the webhook url once the async job is done; anything but HTTP 200 (any 2xx "
                       "with --webhook-success 2xx) is retried with exponential backoff, 5 attempts in all by "
                       "default.",
        "properties": {"request_id": {"type": "string"},
                       "response": {"oneOf": [ref("IdentifyResponse"), ref("Error")]}},
    },
    "Health": {
        "type": "object", "required": ["status", "version", "uptime_seconds"],
        "properties": {"status": {"type": "string", "const": "ok"}, "version": {"type": "string"},
                       "uptime_seconds": {"type": "number", "minimum": 0}},
    },
}

RESPONSES = {
    "Error400": error_response("The request is malformed or names unknown speakers.", "missing_parameter",
                                "speakerId is required: a non-empty string naming the speaker."),
    "Error401": error_response("No api key, or a key the server was not started with.", "missing_api_key",
                               "an api key is required: add ?apikey=YOUR_KEY to the url or send an 'apikey' header.",
                               status=401, gateway=True, vendor_code=errors.MissingApiKey.vendor_code,
                               vendor_text=errors.MissingApiKey.vendor_text),
    "Error404": error_response("No such speaker or resource.", "speaker_not_found",
                               "speaker 'alice' is not enrolled under this api key.", status=404),
    "Error405": error_response("This call does not exist in the profile in force (--api-profile).",
                               "method_not_allowed", "This endpoint does not take that HTTP method.", status=405),
    "Error413": error_response("The body or the audio is too large or too long.", "payload_too_large",
                               "The request body is larger than the server accepts (--max-body-mb).", status=413),
    "Error402": error_response("The plan's quota is used up (the vendor's gateway; a /_mock/faults preset here).",
                               "quota_exceeded", "the plan's quota is used up.", status=402, gateway=True,
                               vendor_code="policies.ratelimit.QuotaViolation"),
    "Error429": error_response("Too many requests: the async queue is full (queue_full), or --rate-limit's "
                               "window for this key and API is (rate_limit); retry after the Retry-After delay.",
                               "queue_full", "the async job queue is full; retry in a second.", status=429),
    # vendor-docs-2020.md, "Errors": "50X internal error"; here the api_error preset or a 5xx /_mock/faults fault
    "Error5XX": error_response("The vendor's 50X internal error (here: the api_error preset, or a /_mock/faults "
                               "fault with a 5xx status; otherwise a bug of the mock).", "internal_error",
                               "internal error: retry later.", status=500),
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
        f"{prefix}/sync/diarization/enroll": {"get": {
            "operationId": f"enrollment_status_{version}", "tags": tag, "summary": "One speaker's enrollment status",
            "description": "2020 profile only (the 2019 docs had no such call: 405 there).",
            "parameters": [{"name": "speakerId", "in": "query", "required": True, "schema": SPEAKER_ID}],
            "responses": {"200": json_response("The speaker's status.", ref("SpeakerStatus"), {
                "speaker_id": "alice", "enrollment_complete": True, "total_speech_duration": 20.0,
                "total_enroll_duration": 30.0, "enroll_quality": "average"}),
                **error_refs(400, 401, 402, 404, 405, 429, "5XX")},
        }, "post": {
            "operationId": f"enroll_{version}", "tags": tag, "summary": "Enroll one recording of a speaker",
            "description": "Each call adds one enrollment. 2020 profile (default): at least 6 s of speech per "
                           "enrollment; the speaker is usable for identification once enrollment_complete is "
                           "true (12 s of speech in total). 2019 profile: once the answer is \"Complete\".",
            "requestBody": request_body(ref("EnrollRequest"), {**EXAMPLE_AUDIO, "speakerId": "alice"}),
            "responses": {"200": json_response("Enrollment stored.", ref("EnrollResponse"), {   # the 2020 answer
                "message": "Success", "speaker_id": "alice", "enrollment_complete": False,
                "total_speech_duration": 8.2, "total_enroll_duration": 10.0, "enroll_quality": "poor"}),
                **error_refs(400, 401, 402, 413, 429, "5XX")},
        }},
        f"{prefix}/sync/diarization/delete": {"post": {
            "operationId": f"delete_{version}", "tags": tag, "summary": "Forget an enrolled speaker",
            "requestBody": request_body(ref("DeleteRequest"), {"speakerId": "alice"}),
            "responses": {"200": json_response("Speaker deleted.", ref("DeleteResponse"), {"message": "Success"}),
                          **error_refs(400, 401, 402, 404, 413, 429, "5XX")},
        }},
        f"{prefix}/sync/diarization/get_enrolled_speakers": {"get": {
            "operationId": f"get_enrolled_speakers_{version}", "tags": tag,
            "summary": "List the speakers enrolled under this api key",
            "description": "2020 profile: complete speakers only, unless getAllSpeakers=True.",
            "parameters": [{"name": "getAllSpeakers", "in": "query", "required": False,
                            "description": "True: list incomplete speakers too (2020 profile). True/False, 1/0, "
                                           "in any case; any other value (an empty one or one with spaces "
                                           "too) answers 400 invalid_parameter.",
                            "schema": {"type": "string", "pattern": BOOLEAN_PATTERN}}],
            "responses": {"200": json_response("The speakers, oldest first.", ref("EnrolledSpeakers"), {
                "developer_id": "dev-0123456789ab",
                "enrolled_speaker_ids": [{"speaker_id": "alice", "enrollment_complete": True,
                                          "total_speech_duration": 20.0, "total_enroll_duration": 30.0,
                                          "enroll_quality": "average"}]}),
                **error_refs(400, 401, 402, 429, "5XX")},
        }},
        f"{prefix}/sync/diarization/identify": {"post": {
            "operationId": f"identify_sync_{version}", "tags": tag, "summary": "Who speaks when (synchronous)",
            "requestBody": request_body(ref("IdentifyRequest"), {**EXAMPLE_AUDIO, "speakerIds": ["alice", "bob"]}),
            "responses": {"200": json_response("Segments in time order.", ref("IdentifyResponse"),
                                                SEGMENTS_EXAMPLE), **error_refs(400, 401, 402, 413, 429, "5XX")},
        }},
        f"{prefix}/async/diarization/identify": {"post": {
            "operationId": f"identify_async_{version}", "tags": tag,
            "summary": "Who speaks when (asynchronous, result POSTed to a webhook)",
            "parameters": [webhook_param, request_id_param],
            "requestBody": request_body(ref("IdentifyRequest"), {**EXAMPLE_AUDIO, "speakerIds": ["alice", "bob"]}),
            "responses": {"202": json_response("Accepted; the result follows at the webhook.",
                                                ref("AsyncAccepted"),
                                                {"request_id": "8bdd983a-c6bd-4159-982d-6a2471406d62",
                                                 "api": ASYNC_API_NAME}),
                          **error_refs(400, 401, 402, 413, 429, "5XX")},
            "callbacks": {"identifyResult": {"{$request.query.webhook}": {"post": {
                "summary": "The async result",
                "requestBody": request_body(ref("WebhookPayload"),
                                          {"request_id": "8bdd983a-c6bd-4159-982d-6a2471406d62",
                                           "response": SEGMENTS_EXAMPLE}),
                "responses": {"200": {"description": "A 200 ends delivery (any 2xx with --webhook-success 2xx); "
                                                     "anything else is retried, 5 attempts in all with exponential "
                                                     "backoff by default. 307 and 308 are followed with the POST; "
                                                     "other redirects count as failed attempts."}},
            }}}},
        }},
    }


def _meta_paths() -> dict:
    html = {"description": "An HTML page.", "content": {"text/html": {"schema": {"type": "string"}}}}
    return {
        "/health": {"get": {"operationId": "health", "tags": ["meta"], "summary": "Liveness and version",
                            "security": [],
                            "responses": {"200": json_response("Serving.", ref("Health"))}}},
        "/openapi.json": {"get": {"operationId": "openapi", "tags": ["meta"], "summary": "This document",
                                  "security": [],
                                  "responses": {"200": json_response("OpenAPI 3.1", {"type": "object"})}}},
        "/docs": {"get": {"operationId": "docs", "tags": ["meta"], "summary": "This document as a web page",
                          "security": [], "responses": {"200": html}}},
    }


def build_document(extensions: list[DocExtension] | tuple = ()) -> dict:
    """The OpenAPI 3.1 document of the public API, plus each mounted plug-in's ``extensions``."""
    paths: dict = {}
    for version in API_VERSIONS:
        paths.update(_public_paths(version))
    paths.update(_meta_paths())
    schemas = dict(SCHEMAS)
    responses = dict(RESPONSES)
    for extension in extensions:
        paths.update(extension.paths)
        schemas.update(extension.schemas)
        responses.update(extension.responses)
    admin = (", plus the mock's own admin API under /_mock (loopback clients only)"
             if any(p.startswith("/_mock/") for p in paths) else "")
    return copy.deepcopy({
        "openapi": "3.1.0",
        "info": {"title": "speaker-id-mock", "version": __version__,
                 "description": "Offline drop-in mock of the Speaker Identification API (enroll, identify, "
                                f"delete, list), v1 and v2 prefixes alike{admin}. Every error is the vendor's fault "
                                'body ({"fault": {"fault_string" | "faultstring", "detail": {...}}}), with the '
                                "mock's stable code and how-to-fix message in fault.detail."},
        "servers": [{"url": "/"}],
        "security": [{"apikeyQuery": []}, {"apikeyHeader": []}],
        "paths": paths,
        "webhooks": {"identifyResult": {"post": {
            "summary": "The async identify result, POSTed to the request's webhook url",
            "requestBody": request_body(ref("WebhookPayload"), {"request_id": "8bdd983a-c6bd-4159-982d-6a2471406d62",
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
