"""Who is calling: the api key from the ``apikey`` query parameter or header, and the tenant it maps to.

A key is matched exactly, as sent: nothing is trimmed, so ``"good "`` is not ``"good"``. A key that begins or
ends with whitespace or holds a control character is refused (401 invalid_api_key) whether or not the server
has an --api-key list: such a key is nearly always a copy-and-paste accident, and accepting it as a key of its
own would hide the accident behind an empty speaker list.
"""
from __future__ import annotations

import hashlib
import unicodedata

from mock_server import errors


def api_key_from(query: dict, headers) -> str:
    """The caller's api key, exactly as sent; the query parameter wins over the header, as the vendor's SDK sends
    it there. MissingApiKey when neither carries a non-empty key."""
    key = query.get("apikey") or headers.get("apikey") or ""
    if not key:
        raise errors.MissingApiKey("an api key is required: add ?apikey=YOUR_KEY to the url or send an "
                                   "'apikey' header.")
    return key


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be anybody's api key (surrounding whitespace, a control character), or None."""
    if not key.strip():
        return "is only whitespace"
    if key != key.strip():
        return "begins or ends with whitespace (a space, tab or line break)"
    control = next((i for i, c in enumerate(key) if unicodedata.category(c) == "Cc"), None)
    if control is not None:
        return f"holds a control character (U+{ord(key[control]):04X} at position {control})"
    return None


def check_api_key(key: str, allowed: tuple[str, ...]) -> None:
    """Refuse malformed keys (key_problem), and keys outside the server's --api-key list when it has one."""
    problem = key_problem(key)
    if problem:
        raise errors.InvalidApiKey(f"api key {mask_key(key)} {problem}; keys are matched exactly, nothing is "
                                   "trimmed: send the key without it.")
    if allowed and key not in allowed:
        raise errors.InvalidApiKey(f"api key {mask_key(key)} is not accepted by this server; use one of the keys "
                                   "it was started with (--api-key).")


def tenant_of(key: str) -> str:
    """The id a key's state is stored under: a hash, so the key itself is never written anywhere."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def developer_id(tenant: str) -> str:
    """The account name shown in get_enrolled_speakers."""
    return f"dev-{tenant[:12]}"


def mask_key(key: str) -> str:
    """A key as it may appear in logs and journals: enough to tell keys apart, never the key."""
    return f"key#{tenant_of(key)[:8]}"
