"""Credentials in urls, shared by the two places the mock makes HTTP calls (audio url downloads, webhook
deliveries): ``user:pass@`` is taken out to go as Basic auth, and every url that is shown or logged is masked.
Pure functions on strings; the callers raise their own errors (http_url_problem says what is wrong)."""
from __future__ import annotations

import re
import unicodedata
import urllib.parse

DEFAULT_PORTS = {"http": 80, "https": 443}


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """(the url without its ``user:password@``, (user, password) percent-decoded, or None when there are none)."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    bare = urllib.parse.urlunsplit(parts._replace(netloc=hostport))
    return bare, (urllib.parse.unquote(user), urllib.parse.unquote(password))


def basic_auth(credentials: tuple[str, str] | None) -> tuple[bytes, bytes] | None:
    """Credentials as UTF-8 bytes for requests' Basic auth (it would encode a str as Latin-1, as curl does not)."""
    return tuple(c.encode("utf-8") for c in credentials) if credentials else None  # type: ignore[return-value]


def mask_url(url: str) -> str:
    """The url as it may be shown or logged: a password becomes ``***``; a user alone (often a token) too.
    A url too malformed to parse (it is being refused) has everything before an ``@`` masked."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # e.g. "http://[::1": an unclosed IPv6 bracket
        return re.sub(r"//[^/?#]*@", "//***@", url)
    if "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    shown = f"{user}:***" if colon else "***"
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{shown}@{hostport}"))


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port: credentials go only where they came from."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme)


def http_url_problem(url: str, *, field: str) -> str | None:
    """What makes ``url`` unusable as an absolute http(s) url with a host, as a sentence naming ``field`` and how
    to fix it (any password masked), or None when it is usable.

    Spaces and non-ASCII characters are fine (the callers percent-encode them); control characters (Unicode's Cc:
    C0, DEL and C1) are not (urlsplit silently drops some, so the request would go somewhere the caller did not
    write). Nor is port 0, which nothing listens on (HTTP clients would quietly use the scheme's default port)."""
    control = next((i for i, c in enumerate(url) if unicodedata.category(c) == "Cc"), None)
    if control is not None:
        return (f"{field} contains a control character (U+{ord(url[control]):04X}) at position {control}; "
                "percent-encode it or remove it.")
    try:
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname, parts.port  # .port raises ValueError for a non-numeric or out-of-range port
    except ValueError:
        parts, host, port = None, None, None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not host:
        return f"{field} must be an absolute http:// or https:// url with a host, got {_mask_broken(url)[:200]!r}."
    if port == 0:
        return (f"{field} has an invalid port, 0 (nothing listens there), in {mask_url(url)[:200]!r}; give the "
                "port its server listens on (1-65535), or none for the scheme's default.")
    return None


def _mask_broken(url: str) -> str:
    """mask_url for a url being refused: everything between the first ":" after "//" (or the start, for a url
    with no scheme, such as ``user:pass@host/path``) and the *last* "@" is taken for a password (in a url this
    broken it may hold "/", "?" or "#", which end the netloc for urlsplit)."""
    m = re.match(r"^((?:[^/@]*//)?)(.*)@(.*)$", url, re.S)
    if not m:
        return url
    prefix, userinfo, rest = m.groups()
    user, colon, _ = userinfo.partition(":")
    return f"{prefix}{user}:***@{rest}" if colon else f"{prefix}***@{rest}"
