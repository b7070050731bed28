"""Audio ``url`` downloads through requests: checked, percent-encoded, credentials as Basic auth, bounded.

What clients send (issue #11): urls with spaces or non-ASCII paths (percent-encoded here, as browsers and curl
do), and ``https://user:password@host/clip.wav`` (sent as an ``Authorization: Basic`` header, RFC 7617; the
password is never put in an answer, a log line or the journal: mask_url). Safety rules kept from the urllib
version: http(s) only, also after a redirect; at most --url-max-mb bytes, refused early from Content-Length;
--url-timeout seconds for the whole transfer however slowly the bytes (headers included) trickle
(outbound.deadline); and credentials are only sent to
the origin they were given for (a redirect to another host drops them, as curl and requests do).
"""
from __future__ import annotations

import re
import socket
import time
import urllib.parse
from typing import TYPE_CHECKING

from mock_server import errors, outbound
from mock_server.urls import basic_auth, http_url_problem, origin, split_credentials

if TYPE_CHECKING:
    import requests
# requests (and urllib3) are imported on first fetch: ~0.3 s that every worker process would otherwise pay at
# start-up for a feature most runs never use.

MAX_REDIRECTS = 10
USER_AGENT = "speaker-id-mock"
_CHUNK = 65536


def check_http_url(url: str, *, field: str) -> str:
    """Accept only absolute http(s) urls with a host; answer the url without surrounding whitespace.

    Spaces and non-ASCII characters inside are fine (fetch_url percent-encodes them); control characters are not
    (urlsplit would silently drop some). Raises errors.InvalidUrl (400) saying what is wrong, with any password
    masked.
    """
    text = url.strip()
    problem = http_url_problem(text, field=field)
    if problem:
        raise errors.InvalidUrl(problem)
    return text


def encode_url(url: str) -> str:
    """Percent-encode what a url may not carry raw (spaces, non-ASCII as UTF-8); existing %XX escapes are kept.

    The fragment is dropped (never sent); a non-ASCII host is left to requests (IDNA).
    """
    from requests.utils import requote_uri
    parts = urllib.parse.urlsplit(url)
    return requote_uri(urllib.parse.urlunsplit(parts._replace(fragment="")))


def fetch_url(url: str, *, timeout: float, max_bytes: int) -> bytes:
    """Download an audio url within ``timeout`` seconds for the whole transfer and ``max_bytes`` bytes.

    Raises errors.InvalidUrl (400: not http(s), also after a redirect), errors.UrlFetchFailed (400: unreachable,
    non-2xx, too slow, too many redirects), errors.PayloadTooLarge (413), errors.EmptyAudio (400).
    """
    target, credentials = split_credentials(check_http_url(url, field="url"))
    auth = basic_auth(credentials)
    # outbound: no environment, and every connection cut at the deadline, status line and headers included
    with outbound.session() as session, outbound.deadline(timeout) as cut:
        deadline = cut.at
        session.headers.update({"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
        try:
            response, sent = _get_following_redirects(session, target, auth, deadline, timeout)
            with response:
                data = _read_body(response, deadline, timeout, max_bytes, given=auth is not None,
                                  sent=sent is not None)
            if cut.passed:   # the cut socket ended a body of no declared length: that is not its end
                raise _too_slow(timeout)
            return data
        except errors.ApiError:
            raise
        except Exception as exc:  # requests' and urllib3's errors, OSError; their text names the url
            if cut.passed or time.monotonic() >= deadline or _is_timeout(exc):
                raise _too_slow(timeout) from None
            raise errors.UrlFetchFailed(f"downloading url failed ({_reason(exc)}); check the url is reachable from "
                                        "the mock server within the timeout.") from None


def _get_following_redirects(session: requests.Session, target: str, auth: tuple[bytes, bytes] | None,
                             deadline: float, timeout: float
                             ) -> tuple[requests.Response, tuple[bytes, bytes] | None]:
    """The first non-redirect answer, and the credentials sent with it (None if none, or dropped)."""
    for _ in range(MAX_REDIRECTS + 1):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _too_slow(timeout)
        response = session.get(encode_url(target), auth=auth, stream=True, allow_redirects=False,
                               timeout=remaining)
        if not response.is_redirect:
            return response, auth
        location = response.headers["Location"]
        response.close()
        following = urllib.parse.urljoin(target, location)
        following, given_credentials = split_credentials(check_http_url(following, field="url (after a redirect)"))
        given = basic_auth(given_credentials)
        if given is not None:
            auth = given
        elif origin(following) != origin(target):
            auth = None  # credentials belong to the origin they were given for
        target = following
    raise errors.UrlFetchFailed(f"downloading url failed: more than {MAX_REDIRECTS} redirects; point the url at "
                                "the audio itself.")


def _read_body(response: requests.Response, deadline: float, timeout: float, max_bytes: int, *,
               given: bool, sent: bool) -> bytes:
    status = response.status_code
    if status in (401, 403):
        advice = ("the credentials in the url were refused" if sent else
                  "it redirected to another host, and the url's credentials are only sent to their own; point "
                  "the url at that host" if given else
                  "put the credentials in the url as https://user:password@host/path (sent as Basic auth)")
        raise errors.UrlFetchFailed(f"downloading url failed with HTTP {status}; {advice}.")
    if not 200 <= status < 300:
        raise errors.UrlFetchFailed(f"downloading url failed with HTTP {status}; check the url points at the audio.")
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise errors.PayloadTooLarge(
            f"the audio at url is {int(declared)} bytes; the limit is {max_bytes} (--url-max-mb).")
    chunks, size = [], 0
    while size <= max_bytes:
        # read1 returns what has arrived (each wait bounded by the socket timeout); the loop holds the whole
        # transfer to its budget, so a body trickling a byte at a time cannot keep us for ever.
        if time.monotonic() > deadline:
            raise _too_slow(timeout)
        chunk = response.raw.read1(min(_CHUNK, max_bytes + 1 - size), decode_content=True)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > max_bytes:
        raise errors.PayloadTooLarge(f"the audio at url exceeds {max_bytes} bytes (--url-max-mb).")
    if not size:
        raise errors.EmptyAudio("the url answered with an empty body; point it at an audio file.")
    return b"".join(chunks)


def _too_slow(timeout: float) -> errors.UrlFetchFailed:
    return errors.UrlFetchFailed(f"downloading url took longer than {timeout:g} s (--url-timeout); serve the audio "
                                 "faster or send it as content.")


def _is_timeout(exc: BaseException) -> bool:
    import requests
    import urllib3.exceptions
    return isinstance(exc, (requests.Timeout, urllib3.exceptions.TimeoutError, socket.timeout, TimeoutError))


def _reason(exc: BaseException) -> str:
    """Why a download failed, from the OS or TLS error underneath, never the url (it may hold a password)."""
    import requests
    text = str(exc)
    found = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if found:
        return found.group(1).strip()
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed"
    if "NameResolution" in text or "getaddrinfo" in text:
        return "the host name could not be resolved"
    return type(exc).__name__
