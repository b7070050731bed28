"""Behaviour a test author asks for through the admin API: injected faults and canned (stubbed) answers.

A fault fails or delays the next N matching public API requests (target "api") or webhook deliveries
(target "webhook"); a stub answers matching identify requests with given segments instead of listening.
Both live in memory only and may be scoped to one tenant (the hash of an api key, never the key).
"""
from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, replace
from typing import Sequence

from mock_server.core.webhooks import Attempt

WEBHOOK_ERRORS = ("connection", "timeout")  # what a webhook fault can make a delivery fail with, besides a status


@dataclass(frozen=True)
class Fault:
    """One injected fault; ``times`` counts the requests (or deliveries) it still applies to."""

    id: str
    target: str                      # "api" | "webhook"
    times: int
    path: str | None = None          # api: substring of the request path
    method: str | None = None        # api: HTTP method, upper case
    tenant: str | None = None        # only this api key's traffic
    key: str | None = None           # the same key, masked, for display
    request_id: str | None = None    # webhook: only this async request's deliveries
    status: int | None = None        # api: the status to answer; webhook: the status the receiver "gave"
    code: str = "injected_fault"     # api only
    message: str | None = None       # api only
    error: str | None = None         # webhook only: "connection" or "timeout" instead of a status
    delay_ms: int = 0                # wait this long first; with no status/error the call then goes through

    @property
    def fails(self) -> bool:
        return self.status is not None or self.error is not None

    def matches_api(self, method: str, path: str, tenant: str | None) -> bool:
        return (self.target == "api" and (self.path is None or self.path in path)
                and (self.method is None or self.method == method.upper())
                and (self.tenant is None or self.tenant == tenant))

    def matches_delivery(self, tenant: str, request_id: str) -> bool:
        return (self.target == "webhook" and (self.tenant is None or self.tenant == tenant)
                and (self.request_id is None or self.request_id == request_id))

    def attempt(self) -> Attempt | None:
        """The delivery outcome this webhook fault stands for (None: deliver for real after the delay)."""
        if self.error is not None:
            name = {"timeout": "TimeoutError", "connection": "ConnectionRefusedError"}[self.error]
            return Attempt(None, f"{name}: injected fault")
        if self.status is not None:
            return Attempt(self.status, f"HTTP {self.status} (injected fault)")
        return None

    def to_dict(self) -> dict:
        match: dict = {}
        if self.target == "api":
            match.update({"path": self.path, "method": self.method})
        else:
            match["request_id"] = self.request_id
        match["apikey"] = self.key
        body = {"id": self.id, "target": self.target, "match": match, "times": self.times,
                "status": self.status, "delay_ms": self.delay_ms}
        if self.target == "api":
            body.update({"code": self.code, "message": self.message})
        else:
            body["error"] = self.error
        return body


@dataclass(frozen=True)
class Stub:
    """A canned identify answer for requests naming exactly ``speaker_ids`` and/or carrying ``request_id``."""

    id: str
    segments: list[dict]
    speaker_ids: frozenset[str] | None = None
    request_id: str | None = None
    tenant: str | None = None
    key: str | None = None           # masked, for display

    def matches(self, tenant: str, speaker_ids: Sequence[str], request_id: str | None) -> bool:
        return ((self.tenant is None or self.tenant == tenant)
                and (self.speaker_ids is None or self.speaker_ids == frozenset(speaker_ids))
                and (self.request_id is None or self.request_id == request_id))

    def to_dict(self) -> dict:
        return {"id": self.id,
                "match": {"speakerIds": sorted(self.speaker_ids) if self.speaker_ids is not None else None,
                          "request_id": self.request_id},
                "apikey": self.key, "response": {"segments": self.segments}}


class _Registry:
    """Thread-safe ordered collection with per-tenant reset; ids are short and never reused."""

    prefix = "x"

    def __init__(self):
        self._items: dict[str, object] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def new_id(self) -> str:
        return f"{self.prefix}{next(self._ids)}"

    def add(self, item) -> None:
        with self._lock:
            self._items[item.id] = item

    def all(self) -> list:
        with self._lock:
            return list(self._items.values())

    def remove(self, item_id: str) -> bool:
        with self._lock:
            return self._items.pop(item_id, None) is not None

    def reset(self, tenant: str | None = None) -> None:
        """Forget everything, or the items scoped to one tenant."""
        with self._lock:
            if tenant is None:
                self._items.clear()
            else:
                self._items = {k: v for k, v in self._items.items() if v.tenant != tenant}


class FaultRegistry(_Registry):
    prefix = "fault-"

    def take_api(self, method: str, path: str, tenant: str | None) -> Fault | None:
        """Use up one application of the oldest fault matching this API request, if any."""
        return self._take(lambda f: f.matches_api(method, path, tenant))

    def take_delivery(self, tenant: str, request_id: str) -> Fault | None:
        """Use up one application of the oldest fault matching this webhook delivery, if any."""
        return self._take(lambda f: f.matches_delivery(tenant, request_id))

    def _take(self, predicate) -> Fault | None:
        with self._lock:
            for fault in self._items.values():
                if predicate(fault):
                    if fault.times <= 1:
                        del self._items[fault.id]
                    else:
                        self._items[fault.id] = replace(fault, times=fault.times - 1)
                    return fault
        return None


class StubRegistry(_Registry):
    prefix = "stub-"

    def match(self, tenant: str, speaker_ids: Sequence[str], request_id: str | None) -> Stub | None:
        """The newest stub matching this identify request, if any (stubs stay until deleted)."""
        with self._lock:
            for stub in reversed(list(self._items.values())):
                if stub.matches(tenant, speaker_ids, request_id):
                    return stub
        return None
