"""Every failure the API can answer, in one place.

Each error has an HTTP status and a stable snake_case ``code``; one Flask handler turns any of them into
``{"error": {"code": ..., "message": ...}}`` so every endpoint fails the same way. Low-level exceptions
(libsndfile, sqlite3, urllib) are translated into these where they happen, once.
"""
from __future__ import annotations

import logging
import re

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Root of every error the API answers with; carries status, code and a message saying how to fix it."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


class MalformedJson(ApiError):
    """The body is not a JSON object."""

    code = "malformed_json"


class MissingParameter(ApiError):
    """A required field or query parameter is absent or empty."""

    code = "missing_parameter"


class InvalidParameter(ApiError):
    """A field has the wrong type or an impossible value."""

    code = "invalid_parameter"


class AudioSourceConflict(ApiError):
    """Neither or both of ``content`` and ``url`` were given."""

    code = "audio_source_conflict"


class InvalidBase64(ApiError):
    """``content`` is not valid base64."""

    code = "invalid_base64"


class UnsupportedEncoding(ApiError):
    """``encoding`` names a format the mock does not decode."""

    code = "unsupported_encoding"


class UndecodableAudio(ApiError):
    """The audio bytes could not be decoded as any supported format."""

    code = "undecodable_audio"


class EmptyAudio(ApiError):
    """The audio decodes to no samples at all."""

    code = "empty_audio"


class NoSpeech(ApiError):
    """The audio holds no speech to enroll."""

    code = "no_speech"


class InvalidUrl(ApiError):
    """A url (audio or webhook) is not an absolute http(s) url."""

    code = "invalid_url"


class UrlFetchFailed(ApiError):
    """The audio url could not be downloaded."""

    code = "url_fetch_failed"


class AudioTooLong(ApiError):
    """The audio lasts longer than the server accepts."""

    status = 413
    code = "audio_too_long"


class PayloadTooLarge(ApiError):
    """The request body or downloaded audio is larger than the server accepts."""

    status = 413
    code = "payload_too_large"


class MissingApiKey(ApiError):
    """No api key in the ``apikey`` query parameter or header."""

    status = 401
    code = "missing_api_key"


class InvalidApiKey(ApiError):
    """The api key is not one the server was started with."""

    status = 401
    code = "invalid_api_key"


class UnknownSpeakers(ApiError):
    """Some requested speaker ids are not enrolled under this api key."""

    code = "unknown_speakers"


class IncompleteEnrollment(ApiError):
    """Some requested speakers do not have enough enrollments yet."""

    code = "enrollment_incomplete"


class SpeakerNotFound(ApiError):
    """The speaker to delete is not enrolled under this api key."""

    status = 404
    code = "speaker_not_found"


class MissingWebhook(ApiError):
    """An async request came without a ``webhook`` query parameter."""

    code = "missing_webhook"


class QueueFull(ApiError):
    """The async job queue is full; retry after the given delay."""

    status = 429
    code = "queue_full"


class AudioTooLongForSync(ApiError):
    """Sync identify got audio of 2 minutes or more; the vendor sends those to the async call."""

    code = "audio_too_long_for_sync"


class RateLimited(ApiError):
    """More requests to one API under one key than --rate-limit allows in a window (the vendor's gateway)."""

    status = 429
    code = "rate_limit"
    gateway = True


class QuotaExceeded(ApiError):
    """The key's plan quota is used up (402, the vendor's gateway); only a /_mock/faults preset answers it."""

    status = 402
    code = "quota_exceeded"
    gateway = True


class InternalError(ApiError):
    """The vendor's 50X "internal error"; only a /_mock/faults preset answers it (our own bugs use the handler)."""

    status = 500
    code = "internal_error"


class NotFound(ApiError):
    """No such endpoint or resource."""

    status = 404
    code = "not_found"


class AdminForbidden(ApiError):
    """The /_mock admin API only answers loopback clients unless the server runs with --admin-remote."""

    status = 403
    code = "admin_forbidden"


class InjectedFault(ApiError):
    """A failure the test author asked for through ``/_mock/faults``."""

    def __init__(self, message: str, *, status: int, code: str):
        super().__init__(message)
        self.status = status
        self.code = code


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


_HTTP_HINTS = {
    404: "No such endpoint. The API lives under /audio/generic/api/v1/ and /audio/generic/api/v2/; see /openapi.json.",
    405: "This endpoint does not take that HTTP method; see /openapi.json.",
    413: "The request body is larger than the server accepts (--max-body-mb); send a url or a shorter clip.",
}


def register_error_handlers(app: Flask) -> None:
    """Answer every error, ours or werkzeug's, with the same JSON body."""

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return jsonify(error.to_dict()), error.status, error.headers

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        status = error.code or 500
        code = "payload_too_large" if status == 413 else _snake(error.name)
        message = _HTTP_HINTS.get(status, error.description or error.name)
        return jsonify({"error": {"code": code, "message": message}}), status

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unexpected error while serving a request")
        body = {"error": {"code": "internal_error",
                          "message": "The mock server failed unexpectedly; this is a bug, please report it "
                                     "with the request that caused it."}}
        return jsonify(body), 500
