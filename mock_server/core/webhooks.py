"""Posting results to a caller's webhook: one attempt, and the retry schedule around it."""
from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass


@dataclass(frozen=True)
class Attempt:
    """What one POST to a webhook gave: an HTTP status, or the network error that prevented one."""

    status: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        """Connection errors, timeouts, 5xx and 429 are worth another try; other 4xx are the receiver's final word."""
        return self.status is None or self.status >= 500 or self.status == 429


def deliver_webhook(url: str, payload: dict, *, timeout: float) -> Attempt:
    """POST ``payload`` as JSON to ``url`` once; never raises for network trouble."""
    body = json.dumps(payload).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "speaker-id-mock"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(65536)
            return Attempt(response.status, None)
    except urllib.error.HTTPError as exc:
        return Attempt(exc.code, f"HTTP {exc.code}")
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return Attempt(None, f"{type(exc).__name__}: {reason}"[:300])


def backoff_delay(attempt: int, *, first: float, maximum: float) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): first, 2*first, 4*first, ... capped."""
    return min(maximum, first * (2 ** (attempt - 1)))
