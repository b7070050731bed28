"""The calls counted for the vendor's rate limits (``--rate-limit``): N requests per window, per api key and API.

The vendor's concepts page (docs 2020): "5 requests per minute to each API, 100 requests per day"; over it,
its gateway answers a ``rate_limit`` error. Read here as: every window counts the calls one api key made to one
API (an endpoint; its v1 and v2 paths are the same API), refused calls not counted, so a client that backs off
gets through again once the oldest call leaves the window (the answer's Retry-After says when).

Windows slide (the last 60 s, not the current clock minute): a client cannot burst 2N calls across a minute
boundary. The calls are kept in SQLite beside the store, so the limit holds across ``--processes N`` (every
process counts into the same file) and across a restart, as the vendor's would.
"""
from __future__ import annotations

import math
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from mock_server.store.connection import DEFAULT_BUSY_SECONDS, PerThread, immediate, not_a_store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (tenant TEXT NOT NULL, api TEXT NOT NULL, time REAL NOT NULL);
CREATE INDEX IF NOT EXISTS calls_by_api ON calls (tenant, api, time);
"""


@dataclass(frozen=True)
class Refusal:
    """A call over a limit: ``limit`` calls per ``window`` (e.g. "minute"); ``retry_after`` whole seconds."""

    limit: int
    window: str
    retry_after: int


class RateLimiter:
    """Counts calls per (tenant, api) in sliding windows; ``admit`` refuses one over any limit."""

    def __init__(self, path: Path | str, limits: tuple[tuple[int, float], ...], *,
                 busy_seconds: float = DEFAULT_BUSY_SECONDS):
        self.path = Path(path)
        self.limits = tuple(limits)
        self.longest = max(seconds for _, seconds in self.limits)
        self._connections = PerThread(self.path, busy_seconds)
        try:
            self._connection().executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:   # trouble with the file itself is StoreUnavailable already
            raise not_a_store(self.path, exc) from None

    def _connection(self) -> sqlite3.Connection:
        return self._connections.get()

    def admit(self, tenant: str, api: str, *, now: float | None = None) -> Refusal | None:
        """Count one call and return None, or refuse it (not counted): the Refusal says which window is full
        and when a call will fit again."""
        now = time.time() if now is None else now
        # IMMEDIATE: the count and the insert are one step for every thread and process on this file.
        with immediate(self._connection(), self.close) as db:
            db.execute("DELETE FROM calls WHERE tenant=? AND api=? AND time <= ?", (tenant, api, now - self.longest))
            waits = []
            for count, seconds in self.limits:
                # The count-th newest call in the window: the window is full while it is in it.
                row = db.execute("SELECT time FROM calls WHERE tenant=? AND api=? AND time > ? "
                                 "ORDER BY time DESC LIMIT 1 OFFSET ?", (tenant, api, now - seconds, count - 1)
                                 ).fetchone()
                if row is not None:
                    waits.append((row[0] + seconds - now, count, seconds))
            if not waits:
                db.execute("INSERT INTO calls (tenant, api, time) VALUES (?, ?, ?)", (tenant, api, now))
        if not waits:
            return None
        wait, count, seconds = max(waits)
        return Refusal(limit=count, window=_window(seconds), retry_after=max(1, math.ceil(wait)))

    def close(self) -> None:
        """Close this thread's connection (the next call opens another)."""
        self._connections.close()

    def reset(self, tenant: str | None = None) -> None:
        """Forget the counted calls: everyone's, or one tenant's."""
        db = self._connection()
        if tenant is None:
            db.execute("DELETE FROM calls")
        else:
            db.execute("DELETE FROM calls WHERE tenant=?", (tenant,))


def _window(seconds: float) -> str:
    names = {1.0: "second", 60.0: "minute", 3600.0: "hour", 86400.0: "day"}
    return names.get(seconds, f"{seconds:g} s")
