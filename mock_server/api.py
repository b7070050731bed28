"""The vendor's API, under /audio/generic/api/v1/ and /v2/: parse, validate, authenticate, shape the answer."""
from __future__ import annotations

import json
import math

from flask import Blueprint, Flask, current_app, g, jsonify, request

from . import audio, auth, errors, webhooks
from .audio import AudioSource

api = Blueprint("api", __name__)

API_VERSIONS = ("v1", "v2")
MAX_ID_LENGTH = 256         # speaker ids and request ids; longer is a caller's bug, not a voice
MAX_SPEAKER_IDS = 100       # per identify request


def register_api(app: Flask) -> None:
    for version in API_VERSIONS:
        app.register_blueprint(api, url_prefix=f"/audio/generic/api/{version}", name=f"api_{version}")


def _state():
    return current_app.extensions["speaker_id_mock"]


def _tenant() -> str:
    key = auth.api_key_from(request.args, request.headers)
    auth.check_api_key(key, _state().config.api_keys)
    return auth.tenant_of(key)


@api.before_request
def _gateway_rate_limit():
    """With --rate-limit: the vendor's gateway counts each call per key and API before the API sees it."""
    limiter = _state().rate_limiter
    if limiter is not None:
        # "/audio/generic/api/v2/sync/diarization/identify" -> "sync/diarization/identify": v1 and v2 count as one.
        limiter.check(_tenant(), request.path.split("/", 5)[-1])


# --- endpoints ------------------------------------------------------------------------------------------------

@api.post("/sync/diarization/enroll")
def enroll():
    tenant = _tenant()
    body = _json_object()
    speaker_id = _identifier(body, "speakerId")
    source = _audio_source(body)
    message = _state().service.enroll(tenant, speaker_id, source)
    return jsonify({"message": message})


@api.post("/sync/diarization/delete")
def delete():
    tenant = _tenant()
    speaker_id = _identifier(_json_object(), "speakerId")
    _state().service.delete(tenant, speaker_id)
    return jsonify({"message": "Success"})


@api.get("/sync/diarization/get_enrolled_speakers")
def get_enrolled_speakers():
    tenant = _tenant()
    return jsonify({"developer_id": auth.developer_id(tenant),
                    "enrolled_speaker_ids": _state().service.list_speakers(tenant)})


@api.post("/sync/diarization/identify")
def identify_sync():
    tenant = _tenant()
    body = _json_object()
    speaker_ids = _speaker_ids(body)
    source = _audio_source(body)
    state = _state()
    stubbed = state.stubbed_segments(tenant, speaker_ids, request_id=None)
    if stubbed is not None:
        return jsonify({"segments": stubbed})
    return jsonify({"segments": state.service.identify(tenant, speaker_ids, source, sync=True)})


@api.post("/async/diarization/identify")
def identify_async():
    tenant = _tenant()
    webhook = (request.args.get("webhook") or "").strip()
    if not webhook:
        raise errors.MissingWebhook("async requests need a webhook: add ?webhook=https://your-host/path to the url "
                                    "(the result is POSTed there), or call the sync endpoint instead.")
    webhook = webhooks.check_webhook_url(webhook)  # spaces and non-ASCII percent-encoded, as it is POSTed to
    request_id = _request_id()
    body = _json_object()
    speaker_ids = _speaker_ids(body)
    source = _audio_source(body)
    state = _state()
    state.service.check_speakers(tenant, speaker_ids)
    state.submit_job(request_id=request_id, tenant=tenant, webhook=webhook, speaker_ids=speaker_ids, source=source)
    return jsonify({"request_id": request_id, "api": ASYNC_API_NAME})


ASYNC_API_NAME = "diarization/identify"


# --- request parsing ------------------------------------------------------------------------------------------

def _json_object() -> dict:
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise errors.MalformedJson("the request body is empty; send a JSON object, e.g. "
                                   '{"content": "<base64>", "encoding": "WAV", "speakerIds": ["alice"]}.')
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.MalformedJson(f"the request body is not valid JSON ({_first_line(exc)}); send a JSON object "
                                   "with Content-Type: application/json.") from None
    except RecursionError:  # "[[[[..." thousands deep exhausts the parser's stack
        raise errors.MalformedJson("the request body nests JSON arrays or objects too deeply; send a flat JSON "
                                   "object.") from None
    if not isinstance(body, dict):
        raise errors.MalformedJson(f"the request body must be a JSON object, not a JSON {_json_type(body)}.")
    g.json_body = body
    return body


def _identifier(body: dict, name: str) -> str:
    value = body.get(name)
    if value is None or value == "":
        raise errors.MissingParameter(f"{name} is required: a non-empty string naming the speaker.")
    if not isinstance(value, str):
        raise errors.InvalidParameter(f"{name} must be a string, not a JSON {_json_type(value)}.")
    _check_id(value, name)
    return value


def _check_id(value: str, name: str) -> None:
    if not value.strip():
        raise errors.InvalidParameter(f"{name} must not be blank.")
    if len(value) > MAX_ID_LENGTH:
        raise errors.InvalidParameter(f"{name} is {len(value)} characters long; the limit is {MAX_ID_LENGTH}.")
    if any(ord(c) < 32 for c in value):
        raise errors.InvalidParameter(f"{name} must not contain control characters.")


def _speaker_ids(body: dict) -> list[str]:
    value = body.get("speakerIds")
    if value is None:
        raise errors.MissingParameter('speakerIds is required: a non-empty list of enrolled speaker ids, '
                                      'e.g. ["alice", "bob"].')
    if not isinstance(value, list):
        raise errors.InvalidParameter(f"speakerIds must be a list of strings, not a JSON {_json_type(value)}.")
    if not value:
        raise errors.InvalidParameter("speakerIds must not be empty: name the enrolled speakers to look for.")
    if len(value) > MAX_SPEAKER_IDS:
        raise errors.InvalidParameter(f"speakerIds has {len(value)} entries; the limit is {MAX_SPEAKER_IDS}.")
    bad = [i for i, v in enumerate(value) if not isinstance(v, str)]
    if bad:
        raise errors.InvalidParameter(f"speakerIds must hold only strings; entries at positions {bad[:10]} are not.")
    for v in value:
        _check_id(v, "each of speakerIds")
    return list(dict.fromkeys(value))  # duplicates would only double the work


def _audio_source(body: dict) -> AudioSource:
    content, url = body.get("content"), body.get("url")
    if content is not None and url is not None:
        raise errors.AudioSourceConflict("send exactly one of content and url, not both.")
    if content is None and url is None:
        raise errors.AudioSourceConflict("send exactly one of content (base64 audio) and url (http(s) link to audio); "
                                         "neither was given.")
    for name, value in (("content", content), ("url", url)):
        if value is not None and not isinstance(value, str):
            raise errors.InvalidParameter(f"{name} must be a string, not a JSON {_json_type(value)}.")
    encoding = body.get("encoding")
    if encoding is not None and not isinstance(encoding, str):
        raise errors.InvalidParameter(f"encoding must be a string such as \"WAV\", not a JSON {_json_type(encoding)}.")
    language = body.get("languageCode")
    if language is not None and not isinstance(language, str):
        raise errors.InvalidParameter(f"languageCode must be a string such as \"en-US\", not a JSON "
                                      f"{_json_type(language)}.")
    source = AudioSource(content=audio.decode_base64(content) if content is not None else None,
                         url=audio.check_http_url(url, field="url") if url is not None else None,
                         encoding=audio.normalise_encoding(encoding), sample_rate=_sample_rate(body))
    return source


def _sample_rate(body: dict) -> int | None:
    value = body.get("sampleRate")
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())  # some hand-written clients quote numbers
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise errors.InvalidParameter(f"sampleRate must be a number of samples per second such as 16000, not a JSON "
                                      f"{_json_type(value)}.")
    if not math.isfinite(value) or value != int(value) or value <= 0:
        raise errors.InvalidParameter(f"sampleRate must be a positive whole number such as 16000, got {value!r}.")
    if not audio.MIN_SAMPLE_RATE <= value <= audio.MAX_SAMPLE_RATE:
        raise errors.InvalidParameter(f"sampleRate {int(value)} is out of range; use a rate between "
                                      f"{audio.MIN_SAMPLE_RATE} and {audio.MAX_SAMPLE_RATE} Hz.")
    return int(value)


def _request_id() -> str:
    given = request.args.get("request_id")
    if given is None or given.strip() == "":
        return _state().new_request_id()
    _check_id(given, "request_id")
    return given


def _json_type(value) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
