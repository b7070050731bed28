"""Every failure the API can answer, in one place, and the vendor's error body they become.

Each error has an HTTP status and a stable snake_case ``code``; one handler per front door
(``mock_server.api.errors`` for REST) turns any of them into the answer, so every endpoint fails the same way.
Low-level exceptions (libsndfile, sqlite3, HTTP clients) are translated into these where they happen, once.

The body is the vendor's ``fault`` (vendor-docs-2020.md, "Errors"), in one of its two shapes:

- what the vendor's API gateway answers (missing or invalid key, rate limit, quota, unknown route):
  ``{"fault": {"faultstring": ..., "detail": {"errorcode": ..., "code": ..., "message": ...}}}``;
- what its service answers (everything else, e.g. too little speech in an enrollment):
  ``{"fault": {"fault_string": ..., "detail": {"error_code": ..., "code": ..., "message": ...}}}``.

``detail.code`` (our stable snake_case code) and ``detail.message`` (what went wrong and how to fix it) are the
mock's additions, so tests can assert on them; the vendor's clients read ``fault_string`` / ``faultstring``.
Where the vendor's own words for an error are known (``vendor_text``: "Invalid ApiKey", "Insufficent speech content
in audio", from its docs), the ``faultstring`` / ``fault_string`` is exactly those words ("Error in enroll: ..."
for the service) and our explanation is only in ``detail.message``; where they are not (rate limit, quota, unknown
route, most service errors: the docs show no body), it is our message.
"""
from __future__ import annotations

# The vendor's service errorcodes by status (the docs give com.deepaffects.BadRequest for a 400).
SERVICE_CODES = {400: "com.deepaffects.BadRequest", 401: "com.deepaffects.Unauthorized",
                 402: "com.deepaffects.PaymentRequired", 403: "com.deepaffects.Forbidden",
                 404: "com.deepaffects.NotFound", 405: "com.deepaffects.MethodNotAllowed",
                 413: "com.deepaffects.PayloadTooLarge", 429: "com.deepaffects.TooManyRequests"}
SERVICE_FALLBACK = "com.deepaffects.InternalError"
UNKNOWN_ROUTE_CODE = "messaging.adaptors.http.flow.UnknownRoute"  # the gateway's, for a path it does not route


def fault_body(*, status: int, code: str, message: str, gateway: bool = False, vendor_code: str | None = None,
               api: str | None = None, vendor_text: str | None = None) -> dict:
    """The vendor's error body for a failure: gateway-shaped or service-shaped (see the module doc).

    ``api`` names the vendor API for a service error's text ("Error in enroll: ..."), as the vendor words it.
    ``vendor_text``: the vendor's own words for this error, exactly (``message`` then only in detail)."""
    if gateway:
        return {"fault": {"faultstring": vendor_text or message,
                          "detail": {"errorcode": vendor_code or "messaging.adaptors.http.flow.ApplicationError",
                                     "code": code, "message": message}}}
    text = f"Error in {api}: {vendor_text or message}" if api else vendor_text or message
    return {"fault": {"fault_string": text,
                      "detail": {"error_code": vendor_code or SERVICE_CODES.get(status, SERVICE_FALLBACK),
                                 "code": code, "message": message}}}


class ApiError(Exception):
    """Root of every error the API answers with; carries status, code and a message saying how to fix it."""

    status = 400
    code = "bad_request"
    gateway = False                 # answered by the vendor's API gateway (its fault shape), not its service
    vendor_code: str | None = None  # the vendor's errorcode / error_code; by status when None
    vendor_text: str | None = None  # the vendor's own faultstring / fault_string, word for word, where it is known

    def __init__(self, message: str, *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    def to_dict(self, *, api: str | None = None) -> dict:
        """The vendor's fault body for this error (``api``: the vendor API's name for the text)."""
        return fault_body(status=self.status, code=self.code, message=self.message, gateway=self.gateway,
                          vendor_code=self.vendor_code, api=api, vendor_text=self.vendor_text)


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


class InsufficientSpeech(NoSpeech):
    """An enrollment holds speech, but less than the 2020 rules ask for (--min-enroll-speech)."""

    code = "insufficient_speech"
    # vendor-docs-2020.md, "Enrollment": the failure example's fault_string, "Error in enroll: " + this, its
    # spelling included; a client may compare it whole. How much speech was heard stays in detail.message.
    vendor_text = "Insufficent speech content in audio"


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


class AudioTooManySamples(AudioTooLong):
    """The audio decodes to more samples (frames x channels) than the server accepts, whatever its duration."""


class PayloadTooLarge(ApiError):
    """The request body or downloaded audio is larger than the server accepts."""

    status = 413
    code = "payload_too_large"


class MissingApiKey(ApiError):
    """No api key in the ``apikey`` query parameter or header."""

    status = 401
    code = "missing_api_key"
    gateway = True
    vendor_code = "steps.oauth.v2.FailedToResolveAPIKey"
    # The vendor's docs show no body for a missing key; this is what its gateway (Apigee: the errorcodes are its
    # own) answers for this errorcode when the key is looked up in the apikey query parameter, as the docs say.
    vendor_text = "Failed to resolve API Key variable request.queryparam.apikey"


class InvalidApiKey(ApiError):
    """The api key is not one the server was started with."""

    status = 401
    code = "invalid_api_key"
    gateway = True
    vendor_code = "oauth.v2.InvalidApiKey"
    vendor_text = "Invalid ApiKey"  # vendor-docs-2020.md, "Errors": the example body, word for word


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
    """A sync call got audio of 2 minutes or more; the vendor sends identify to the async call (enroll has none)."""

    code = "audio_too_long_for_sync"


class RateLimited(ApiError):
    """More requests to one API under one key than --rate-limit allows in a window (the vendor's gateway)."""

    status = 429
    code = "rate_limit"
    gateway = True
    vendor_code = "policies.ratelimit.SpikeArrestViolation"


class QuotaExceeded(ApiError):
    """The key's plan quota is used up (402, the vendor's gateway); only a /_mock/faults preset answers it."""

    status = 402
    code = "quota_exceeded"
    gateway = True
    vendor_code = "policies.ratelimit.QuotaViolation"


class InternalError(ApiError):
    """The vendor's 50X "internal error"; only a /_mock/faults preset answers it (our own bugs use the handler)."""

    status = 500
    code = "internal_error"


class StoreUnavailable(ApiError):
    """The mock's own store (its SQLite file under --data-dir) could not be read or written: the disk is full, the
    file or folder is read-only or gone, or another process held it locked past the 30 s busy timeout. Not the
    request's fault and not a bug: nothing of the request was stored, and it may be sent again."""

    status = 503
    code = "store_unavailable"


class NotFound(ApiError):
    """No such endpoint or resource."""

    status = 404
    code = "not_found"


class UnknownRoute(NotFound):
    """A path the vendor's gateway routes nowhere (the /_mock/faults preset; a real unknown path answers the same)."""

    gateway = True
    vendor_code = UNKNOWN_ROUTE_CODE


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
