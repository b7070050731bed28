"""Who is calling: the api key from the ``apikey`` query parameter or header, and the tenant it maps to."""
from __future__ import annotations

import hashlib

from mock_server.core import errors


def api_key_from(query: dict, headers) -> str:
    """The caller's api key; the query parameter wins over the header, as the vendor's SDK sends it there."""
    key = (query.get("apikey") or headers.get("apikey") or "").strip()
    if not key:
        raise errors.MissingApiKey("an api key is required: add ?apikey=YOUR_KEY to the url or send an "
                                   "'apikey' header.")
    return key


def check_api_key(key: str, allowed: tuple[str, ...]) -> None:
    """Refuse keys outside the server's --api-key list, when it has one."""
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
