"""Behaviour a test author asks for through the admin API: injected faults and canned (stubbed) answers.

A fault fails or delays the next N matching public API requests (target "api") or webhook deliveries
(target "webhook"); a stub answers matching identify requests with given segments instead of listening.
Both live in the store (so every server process sees the same ones; a server run starts with none) and may be
scoped to one tenant (the hash of an api key, never the key).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Sequence

from mock_server import errors
from mock_server.core.profiles import UNKNOWN_SPEAKER
from mock_server.core.webhooks import Attempt
from mock_server.store.database import Store

WEBHOOK_ERRORS = ("connection", "timeout")  # what a webhook fault can make a delivery fail with, besides a status

# The vendor's documented errors (its errors and concepts pages, docs 2020) as named /_mock/faults presets:
# each raises our error class for it, so the answer has that error's status, code, body shape and headers.
PRESETS: dict[str, tuple[type[errors.ApiError], str]] = {
    "rate_limit": (errors.RateLimited, "rate limit exceeded (preset fault): the vendor allows 5 requests per minute "
                                       "to each API and 100 a day; retry after the Retry-After delay."),
    "quota_exceeded": (errors.QuotaExceeded, "the plan's quota is used up (preset fault): the vendor answers 402 "
                                             "until the plan is renewed or upgraded."),
    "invalid_api_key": (errors.InvalidApiKey, "invalid api key (preset fault): the vendor's gateway refuses keys it "
                                              "does not know or has revoked; check the key."),
    "params_invalid": (errors.InvalidParameter, "invalid parameters (preset fault): the vendor refuses a request whose "
                                                "fields it cannot use; check the body against the docs."),
    "unknown_route": (errors.UnknownRoute, "unknown route (preset fault): the vendor's gateway knows no such API; "
                                           "check the path and version."),
    "api_error": (errors.InternalError, "internal error (preset fault): the vendor answers 50X when its service fails; "
                                        "retry later."),
}
RETRY_AFTER_SECONDS = 60  # what a rate_limit preset asks a client to wait: the vendor's window is a minute


def preset_fields(body: dict, target: str) -> dict:
    """The Fault fields of ``{"preset": NAME}``; InvalidParameter for an unknown name or a clash."""
    name = body["preset"]
    if target != "api":
        raise errors.InvalidParameter("presets are API answers; a webhook fault takes a status or an error.")
    if not isinstance(name, str) or name not in PRESETS:
        raise errors.InvalidParameter(f"preset must be one of {', '.join(PRESETS)}, not {name!r}.")
    if "status" in body or "code" in body:
        raise errors.InvalidParameter("a preset sets the status and code itself; give a preset or a status, not both.")
    cls = PRESETS[name][0]
    return {"preset": name, "status": cls.status, "code": cls.code}


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
    preset: str | None = None        # api only: one of PRESETS, answered as that error

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

    def api_error(self) -> errors.ApiError | None:
        """The error this api fault answers with (None: serve the call after the delay)."""
        if self.preset is not None:
            cls, message = PRESETS[self.preset]
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if cls is errors.RateLimited else None
            return cls(self.message or message, headers=headers)
        if self.status is not None:
            return errors.InjectedFault(self.message or "injected fault", status=self.status, code=self.code)
        return None

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
            body.update({"code": self.code, "message": self.message, "preset": self.preset})
        else:
            body["error"] = self.error
        return body


@dataclass(frozen=True)
class Stub:
    """A canned identify answer for requests naming exactly ``speaker_ids`` and/or carrying ``request_id`` (with
    neither: every identify request of its key, or of every key).

    Its segments keep the API's answer rules: each names a speaker the request asked for or UNKNOWN_SPEAKER. With
    ``speaker_ids`` the admin API refuses any other id; without, the stub answers only requests that ask for
    every speaker its segments name (``named``), so it never answers with a speaker nobody asked for."""

    id: str
    segments: list[dict]
    speaker_ids: frozenset[str] | None = None
    request_id: str | None = None
    tenant: str | None = None
    key: str | None = None           # masked, for display

    @property
    def named(self) -> frozenset[str]:
        """The speakers its segments name (the unknown label aside)."""
        return frozenset(s["speaker_id"] for s in self.segments) - {UNKNOWN_SPEAKER}

    @property
    def precedence(self) -> tuple[int, bool]:
        """How narrowly it matches: the match fields it names (speakerIds, request_id), then one key's over every
        key's. Among the stubs matching a request the highest wins, the newest of equals."""
        return (self.speaker_ids is not None) + (self.request_id is not None), self.tenant is not None

    def matches(self, tenant: str, speaker_ids: Sequence[str], request_id: str | None) -> bool:
        asked = frozenset(speaker_ids)
        return ((self.tenant is None or self.tenant == tenant)
                and (self.speaker_ids == asked if self.speaker_ids is not None else self.named <= asked)
                and (self.request_id is None or self.request_id == request_id))

    def to_dict(self) -> dict:
        return {"id": self.id,
                "match": {"speakerIds": sorted(self.speaker_ids) if self.speaker_ids is not None else None,
                          "request_id": self.request_id},
                "apikey": self.key, "response": {"segments": self.segments}}


class _Registry:
    """An ordered collection kept in the store, so every server process over one data dir shares it; per-tenant
    reset; ids are short and never reused within a server run. Without a store (a unit test building one on its
    own) it keeps to a private scratch store."""

    prefix = "x"

    def __init__(self, store: Store | None = None):
        self.store = store if store is not None else Store.scratch()

    def new_id(self) -> str:
        return f"{self.prefix}{self.store.next_id(self.prefix)}"


class FaultRegistry(_Registry):
    prefix = "fault-"

    def add(self, fault: Fault) -> None:
        """Arm ``fault`` (an existing id is re-armed in place with the new details and count)."""
        spec = asdict(fault)
        del spec["times"]  # the store's own column: it changes on every application
        self.store.add_fault(fault.id, target=fault.target, tenant=fault.tenant, times=fault.times, spec=spec)

    def all(self) -> list[Fault]:
        """The armed faults, oldest first, ``times`` counting what is left."""
        return [_fault(spec, times) for spec, times in self.store.faults()]

    def remove(self, item_id: str) -> bool:
        return self.store.remove_fault(item_id)

    def reset(self, tenant: str | None = None) -> None:
        """Disarm everything, or the faults scoped to one tenant."""
        self.store.reset_faults(tenant)

    def take_api(self, method: str, path: str, tenant: str | None) -> Fault | None:
        """Use up one application of the oldest fault matching this API request, if any (atomically across
        threads and processes: a fault armed for N calls fails exactly N)."""
        return self._take("api", lambda f: f.matches_api(method, path, tenant))

    def take_delivery(self, tenant: str, request_id: str) -> Fault | None:
        """Use up one application of the oldest fault matching this webhook delivery, if any."""
        return self._take("webhook", lambda f: f.matches_delivery(tenant, request_id))

    def _take(self, target: str, predicate) -> Fault | None:
        """The fault as it was armed before this application (``times`` including it), or None."""
        taken = self.store.take_fault(target, lambda spec: predicate(_fault(spec, 1)))
        return _fault(*taken) if taken is not None else None


class StubRegistry(_Registry):
    prefix = "stub-"

    def add(self, stub: Stub) -> None:
        spec = asdict(stub)
        spec["speaker_ids"] = sorted(stub.speaker_ids) if stub.speaker_ids is not None else None
        self.store.add_stub(stub.id, tenant=stub.tenant, spec=spec)

    def all(self) -> list[Stub]:
        """The stubs, oldest first."""
        return [_stub(spec) for spec in self.store.stubs()]

    def remove(self, item_id: str) -> bool:
        return self.store.remove_stub(item_id)

    def reset(self, tenant: str | None = None) -> None:
        """Remove every stub, or the stubs scoped to one tenant."""
        self.store.reset_stubs(tenant)

    def match(self, tenant: str, speaker_ids: Sequence[str], request_id: str | None) -> Stub | None:
        """The stub answering this identify request, if any (stubs stay until deleted): of those matching it, the
        most specific (``Stub.precedence``: an exact speakerIds or request_id stub over a catch-all), the newest
        among equals."""
        matching = [(stub.precedence, order, stub) for order, stub in enumerate(self.all())
                    if stub.matches(tenant, speaker_ids, request_id)]
        return max(matching, key=lambda m: m[:2])[2] if matching else None


def _known(cls, spec: dict) -> dict:
    """The spec's fields that ``cls`` has (a row written by a build with more fields still loads)."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in spec.items() if k in names}


def _fault(spec: dict, times: int) -> Fault:
    return Fault(**{**_known(Fault, spec), "times": times})


def _stub(spec: dict) -> Stub:
    spec = _known(Stub, spec)
    ids = spec.get("speaker_ids")
    return Stub(**{**spec, "speaker_ids": frozenset(ids) if ids is not None else None})
