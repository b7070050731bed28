"""The vendor's API, under /audio/generic/api/v1/ and /v2/: parse, validate, authenticate, shape the answer."""
from __future__ import annotations

import math

from flask import Blueprint, Flask, jsonify, request
from werkzeug.exceptions import MethodNotAllowed

from mock_server import audio, errors
from mock_server.api.parsing import check_id, json_body, json_type, misspelt, query_bool
from mock_server.audio import AudioSource
from mock_server.core import auth, webhooks
from mock_server.state import current_call, current_state

api = Blueprint("api", __name__)

API_VERSIONS = ("v1", "v2")
MAX_SPEAKER_IDS = 100       # per identify request


def register_api(app: Flask) -> None:
    for version in API_VERSIONS:
        app.register_blueprint(api, url_prefix=f"/audio/generic/api/{version}", name=f"api_{version}")


def _tenant() -> str:
    key = auth.api_key_from(request.args, request.headers)
    auth.check_api_key(key, current_state().config.api_keys)
    current_call().api_key = key
    return auth.tenant_of(key)


@api.before_request
def _gateway_rate_limit():
    """With --rate-limit: the vendor's gateway counts each call per key and API before the API sees it."""
    limiter = current_state().rate_limiter
    if limiter is None:
        return
    # "/audio/generic/api/v2/sync/diarization/identify" -> "sync/diarization/identify": v1 and v2 count as one.
    api_name = request.path.split("/", 5)[-1]
    refusal = limiter.admit(_tenant(), api_name)
    if refusal is not None:
        raise errors.RateLimited(
            f"rate limit exceeded: at most {refusal.limit} requests per {refusal.window} to {api_name} with one "
            f"api key (the vendor's plan; this server runs with --rate-limit). Retry after {refusal.retry_after} "
            "s, or spread the calls out.", headers={"Retry-After": str(refusal.retry_after)})


# --- endpoints ------------------------------------------------------------------------------------------------

@api.post("/sync/diarization/enroll")
def enroll():
    tenant = _tenant()
    body = _json_object(ENROLL_EXAMPLE)
    speaker_id = _identifier(body, "speakerId")
    source = _audio_source(body)
    return jsonify(current_state().service.enroll(tenant, speaker_id, source))


@api.get("/sync/diarization/enroll")
def enrollment_status():
    """One speaker's enrollment status (the 2020 docs; the 2019 docs had no such call: 405 there)."""
    tenant = _tenant()
    service = current_state().service
    if not service.rules.measures_speech:
        raise MethodNotAllowed(valid_methods=["POST"])
    speaker_id = request.args.get("speakerId") or ""  # exactly as sent, as delete and identify take it
    if not speaker_id:
        raise errors.MissingParameter("speakerId is required: add ?speakerId=ID to the url.")
    check_id(speaker_id, "speakerId")
    return jsonify(service.enrollment_status(tenant, speaker_id))


@api.post("/sync/diarization/delete")
def delete():
    tenant = _tenant()
    speaker_id = _identifier(_json_object(DELETE_EXAMPLE), "speakerId")
    current_state().service.delete(tenant, speaker_id)
    return jsonify({"message": "Success"})


@api.get("/sync/diarization/get_enrolled_speakers")
def get_enrolled_speakers():
    tenant = _tenant()
    everyone = query_bool("getAllSpeakers")  # the docs write True; true, 1 and any case too
    return jsonify({"developer_id": auth.developer_id(tenant),
                    "enrolled_speaker_ids": current_state().service.list_speakers(tenant,
                                                                                 include_incomplete=everyone)})


@api.post("/sync/diarization/identify")
def identify_sync():
    tenant = _tenant()
    body = _json_object(IDENTIFY_EXAMPLE)
    speaker_ids = _speaker_ids(body)
    source = _audio_source(body)
    del body  # its base64 string (13 MB for 10 minutes) is decoded into source: not kept through the listening
    segments = current_state().service.identify(tenant, speaker_ids, source, sync=True)
    current_call().segments = segments
    return jsonify({"segments": segments})


@api.post("/async/diarization/identify")
def identify_async():
    tenant = _tenant()
    webhook = (request.args.get("webhook") or "").strip()
    if not webhook:
        try:
            peek = request.get_json(silent=True)
        except Exception:   # RecursionError for deeply nested JSON: json_body names that, in its turn
            peek = None
        in_body = (" (a 'webhook' in the JSON body is not read: the vendor takes it from the url)"
                   if isinstance(peek, dict) and "webhook" in peek else "")
        raise errors.MissingWebhook(f"async requests need a webhook: add ?webhook=https://your-host/path to the url"
                                    f"{in_body} (the result is POSTed there), or call the sync endpoint instead.")
    webhook = webhooks.check_webhook_url(webhook)  # spaces and non-ASCII percent-encoded, as it is POSTed to
    request_id = _request_id()
    body = _json_object(IDENTIFY_EXAMPLE)
    speaker_ids = _speaker_ids(body)
    source = _audio_source(body)
    state = current_state()
    stubbed = state.service.prepare_identify(tenant, speaker_ids, request_id=request_id)
    state.runner.submit(request_id=request_id, tenant=tenant, api=ASYNC_API_NAME, webhook=webhook,
                        speaker_ids=speaker_ids, source=source, stubbed=stubbed)
    current_call().request_id = request_id
    return jsonify({"request_id": request_id, "api": ASYNC_API_NAME}), 202  # the docs' status table: accepted


ASYNC_API_NAME = "diarization/identify"


# --- request parsing ------------------------------------------------------------------------------------------

# Each endpoint's body, as an empty one is told to send (the vendor's fields for that endpoint).
ENROLL_EXAMPLE = '{"speakerId": "alice", "content": "<base64 audio>"}'
IDENTIFY_EXAMPLE = '{"speakerIds": ["alice", "bob"], "content": "<base64 audio>"}'
DELETE_EXAMPLE = '{"speakerId": "alice"}'


def _json_object(example: str) -> dict:
    body = json_body(example=example)
    ids = body.get("speakerIds", [body["speakerId"]] if "speakerId" in body else None)
    if isinstance(ids, list) and all(isinstance(i, str) for i in ids):
        current_call().speaker_ids = ids
    return body


def _identifier(body: dict, name: str) -> str:
    value = body.get(name)
    if value is None or value == "":
        raise errors.MissingParameter(f"{name} is required: a non-empty string naming the speaker."
                                      + misspelt(body, name))
    if not isinstance(value, str):
        raise errors.InvalidParameter(f"{name} must be a string, not a JSON {json_type(value)}.")
    check_id(value, name)
    return value


def _speaker_ids(body: dict) -> list[str]:
    value = body.get("speakerIds")
    if value is None:
        raise errors.MissingParameter('speakerIds is required: a non-empty list of enrolled speaker ids, '
                                      'e.g. ["alice", "bob"].' + misspelt(body, "speakerIds", "speakerId"))
    if not isinstance(value, list):
        raise errors.InvalidParameter(f"speakerIds must be a list of strings, not a JSON {json_type(value)}.")
    if not value:
        raise errors.InvalidParameter("speakerIds must not be empty: name the enrolled speakers to look for.")
    if len(value) > MAX_SPEAKER_IDS:
        raise errors.InvalidParameter(f"speakerIds has {len(value)} entries; the limit is {MAX_SPEAKER_IDS}.")
    bad = [i for i, v in enumerate(value) if not isinstance(v, str)]
    if bad:
        raise errors.InvalidParameter(f"speakerIds must hold only strings; entries at positions {bad[:10]} are not.")
    for v in value:
        check_id(v, "each of speakerIds")
    return list(dict.fromkeys(value))  # duplicates would only double the work


def _audio_source(body: dict) -> AudioSource:
    content, url = body.get("content"), body.get("url")
    # Clients fill the source they do not use with "" (as they send null): a blank url is no url, and a blank
    # content next to a url is no content. A blank content alone stays, to be refused as empty audio.
    blank_url = _is_blank(url)
    if blank_url:
        url = None
    if url is not None and _is_blank(content):
        content = None
    if content is not None and url is not None:
        raise errors.AudioSourceConflict("send exactly one of content and url, not both.")
    if content is None and url is None:
        raise errors.AudioSourceConflict("send exactly one of content (base64 audio) and url (http(s) link to audio); "
                                         f"neither was given{' (an empty url counts as absent)' if blank_url else ''}.")
    for name, value in (("content", content), ("url", url)):
        if value is not None and not isinstance(value, str):
            raise errors.InvalidParameter(f"{name} must be a string, not a JSON {json_type(value)}.")
    encoding = body.get("encoding")
    if encoding is not None and not isinstance(encoding, str):
        raise errors.InvalidParameter(f"encoding must be a string such as \"WAV\", not a JSON {json_type(encoding)}.")
    language = body.get("languageCode")
    if language is not None and not isinstance(language, str):
        raise errors.InvalidParameter(f"languageCode must be a string such as \"en-US\", not a JSON "
                                      f"{json_type(language)}.")
    data = audio.decode_base64(content) if content is not None else None
    checked_url = audio.check_http_url(url, field="url") if url is not None else None
    encoding = audio.normalise_encoding(encoding)
    # A container's header wins over sampleRate (README, "Audio"): its range matters only for bytes read as
    # headerless samples, checked here when they came as content (an async job is refused before it is queued);
    # a url's bytes are judged once downloaded (audio.decode_audio).
    headerless = data is not None and audio.reads_as_headerless(data, encoding)
    return AudioSource(content=data, url=checked_url, encoding=encoding,
                       sample_rate=_sample_rate(body, check_range=headerless))


def _is_blank(value) -> bool:
    return isinstance(value, str) and not value.strip()


def _sample_rate(body: dict, *, check_range: bool) -> int | None:
    """``sampleRate`` as a whole number of Hz (or None); anything that is no rate at all is a 400 whatever the
    audio. ``check_range``: the audio is headerless, so the rate must also be one it can be read at."""
    value = body.get("sampleRate")
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())  # some hand-written clients quote numbers
    if isinstance(value, str):
        raise errors.InvalidParameter(f"sampleRate must be a number of samples per second such as 16000 (digits, "
                                      f"also as a string: \"16000\"), not {value[:40]!r}.")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise errors.InvalidParameter(f"sampleRate must be a number of samples per second such as 16000, not a JSON "
                                      f"{json_type(value)}.")
    if not math.isfinite(value) or value != int(value) or value <= 0:
        raise errors.InvalidParameter(f"sampleRate must be a positive whole number such as 16000, got "
                                      f"{audio.shown_rate(value)}.")
    if check_range:
        audio.check_rate(int(value), shown=audio.shown_rate(value))
    return int(value)


def _request_id() -> str:
    given = request.args.get("request_id")
    if given is None or given.strip() == "":
        return current_state().request_ids.new()
    check_id(given, "request_id")
    return given
