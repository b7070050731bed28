"""Posting results to a caller's webhook: the url's checks, one attempt over HTTP, and the retry schedule.

The vendor's concepts page (docs 2020): "anything other than HTTP 200 from the webhook is retried, up to 5
times, with exponential backoff; then delivery stops". So a delivery succeeds on a 200 only (``2xx`` loosens
that, for receivers that answer 204), and every other outcome, a 4xx included, is a failed attempt.

One attempt is one POST through ``requests``, with what urllib got wrong done on purpose here:

- ``user:pass@`` in the url goes out as HTTP Basic auth and never shows: ``mask_url`` is the only form of the
  url that is stored for display, shown or logged.
- Spaces and non-ASCII characters in the path and query are percent-encoded (UTF-8), the host IDNA-encoded.
- Redirects: 307 and 308 keep the method and the body, so they are followed (at most MAX_REDIRECTS, to http(s)
  only, with the credentials only to the same origin); any other 3xx would turn the POST into a body-less GET,
  so it is a failed attempt instead, never a GET.
- The status line is the answer: the body is never read, so a receiver that sends its 200 at once and its body
  slowly still counts as delivered and gets no second copy.
"""
from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass

import requests

from mock_server import errors, outbound
from mock_server.urls import basic_auth, http_url_problem, origin, split_credentials

SUCCESS_POLICIES = ("200", "2xx")
MAX_REDIRECTS = 5
BODY_KEEPING_REDIRECTS = (307, 308)
HEADERS = {"Content-Type": "application/json", "User-Agent": "speaker-id-mock"}
# RFC 3986 characters left as they are; everything else (spaces, non-ASCII as UTF-8) is percent-encoded.
# "%" stays so a url that is already encoded is not encoded twice.
_SAFE_PATH = "/%!$&'()*+,;=:@-._~"
_SAFE_QUERY = _SAFE_PATH + "?"
_SAFE_USERINFO = "%!$&'()*+,;=:-._~"


@dataclass(frozen=True)
class Attempt:
    """What one delivery attempt gave: the receiver's HTTP status, and/or why it does not count."""

    status: int | None
    error: str | None

    def delivered(self, success: str = "200") -> bool:
        """Whether the receiver took the result: status 200 (the vendor's rule), or any 2xx with ``"2xx"``."""
        if self.status is None:
            return False
        return self.status == 200 if success == "200" else 200 <= self.status < 300


def check_webhook_url(url: str) -> str:
    """The webhook url as it will be POSTed to: absolute http(s) with a host, percent-encoded; InvalidUrl if not.

    Spaces and non-ASCII are accepted (a query parameter decodes ``%20`` to a space) and encoded here; control
    characters are refused, as no encoding makes them what the caller meant.
    """
    problem = http_url_problem(url, field="webhook")
    if problem:
        raise errors.InvalidUrl(problem)
    parts = urllib.parse.urlsplit(url)
    port = parts.port
    userinfo, at, _ = parts.netloc.rpartition("@")
    try:
        host = parts.hostname.encode("idna").decode("ascii") if not parts.hostname.isascii() else parts.hostname
    except UnicodeError:
        raise errors.InvalidUrl(f"webhook's host {parts.hostname!r} is not a valid domain name.") from None
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets
    netloc = (urllib.parse.quote(userinfo, safe=_SAFE_USERINFO) + at) + host + (f":{port}" if port else "")
    return urllib.parse.urlunsplit((parts.scheme.lower(), netloc, urllib.parse.quote(parts.path, safe=_SAFE_PATH),
                                    urllib.parse.quote(parts.query, safe=_SAFE_QUERY), ""))


def deliver_webhook(url: str, payload: dict, *, timeout: float, success: str = "200") -> Attempt:
    """POST ``payload`` as JSON to ``url`` once (following 307/308); never raises for network trouble.

    ``timeout`` bounds connecting and getting the status line and headers, per hop, however slowly they come
    (outbound.deadline); the body is never waited for.
    """
    body = json.dumps(payload).encode("utf-8")
    target, credentials = split_credentials(url)
    secret = credentials[1] if credentials and credentials[1] else None
    home = origin(target)
    with outbound.session() as session:   # no ~/.netrc credentials or proxies from the environment
        for _ in range(MAX_REDIRECTS + 1):
            # Never hand the password to another host.
            auth = basic_auth(credentials) if origin(target) == home else None
            with outbound.deadline(timeout) as cut:
                try:
                    # stream=True: return once the status line and headers are in; the body is never read.
                    response = session.post(target, data=body, headers=HEADERS, auth=auth, timeout=timeout,
                                            allow_redirects=False, stream=True)
                except (requests.RequestException, ValueError) as exc:
                    if cut.passed:
                        return Attempt(None, "no status line and headers within the timeout (--webhook-timeout)")
                    return Attempt(None, _describe(exc, secret))
                status, location = response.status_code, response.headers.get("Location")
                response.close()
            if status in BODY_KEEPING_REDIRECTS and location:
                try:
                    target, hop_credentials = split_credentials(check_webhook_url(urllib.parse.urljoin(target,
                                                                                                       location)))
                except errors.InvalidUrl:
                    return Attempt(status, f"HTTP {status}: redirect to a non-http(s) url not followed")
                credentials = hop_credentials or credentials
                continue
            if 300 <= status < 400:
                return Attempt(status, f"HTTP {status}: redirect not followed (only 307 and 308 keep the POST and "
                                       "its body)")
            if not Attempt(status, None).delivered(success):
                return Attempt(status, f"HTTP {status}")
            return Attempt(status, None)
    return Attempt(status, f"HTTP {status}: more than {MAX_REDIRECTS} redirects")


def _describe(exc: Exception, secret: str | None) -> str:
    """A short reason for a failed attempt: the root cause, without urllib3's object reprs or the password."""
    if isinstance(exc, requests.ConnectTimeout):
        text = "no connection within the timeout (--webhook-timeout)"
    elif isinstance(exc, requests.ReadTimeout):
        text = "no status line within the timeout (--webhook-timeout)"
    else:
        reason = exc.args[0] if exc.args else exc
        reason = getattr(reason, "reason", None) or reason  # urllib3's MaxRetryError wraps the real cause
        text = str(reason)
        errno = re.search(r"\[Errno -?\d+\][^'\")]*", text)
        text = errno.group(0).strip() if errno else text
    if secret:
        text = text.replace(secret, "***")
    return f"{type(exc).__name__}: {text}"[:300]


def backoff_delay(attempt: int, *, first: float, maximum: float) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): first, 2*first, 4*first, ... capped."""
    return min(maximum, first * (2 ** (attempt - 1)))
