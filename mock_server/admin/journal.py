"""The request journal: a bounded, in-memory record of recent public API calls, for tests and the dashboard.

Entries hold the caller's key only masked (``auth.mask_key``) and the tenant hash it maps to, never the key.
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

JOURNAL_SIZE = 1000     # entries kept, oldest dropped first
DEFAULT_LIMIT = 100     # entries answered by GET /_mock/requests without ?limit


@dataclass(frozen=True)
class JournalEntry:
    """One public API call as the journal shows it."""

    time: float                      # seconds since the epoch, when the answer left
    method: str
    path: str                        # the path only: the query string may hold the api key
    key: str | None                  # masked key, e.g. "key#1a2b3c4d"; None when the call had none
    tenant: str | None               # not shown: lets a per-key view and reset find the entry
    status: int
    duration_ms: float
    request_id: str | None = None    # async identify only
    speaker_ids: list[str] | None = None
    segments: list[dict] | None = field(default=None)  # sync identify answers

    def to_dict(self) -> dict:
        return {"time": self.time, "method": self.method, "path": self.path, "key": self.key,
                "status": self.status, "duration_ms": self.duration_ms, "request_id": self.request_id,
                "speakerIds": self.speaker_ids, "segments": self.segments}


class Journal:
    """A thread-safe ring buffer of JournalEntry, newest last inside, newest first outside."""

    def __init__(self, size: int = JOURNAL_SIZE):
        self._entries: deque[JournalEntry] = deque(maxlen=size)
        self._lock = threading.Lock()

    def record(self, entry: JournalEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self, *, tenant: str | None = None, limit: int = DEFAULT_LIMIT) -> list[JournalEntry]:
        """The newest ``limit`` entries, newest first; only ``tenant``'s when given."""
        with self._lock:
            snapshot = list(self._entries)
        out = []
        for entry in reversed(snapshot):
            if tenant is None or entry.tenant == tenant:
                out.append(entry)
                if len(out) >= limit:
                    break
        return out

    def reset(self, tenant: str | None = None) -> None:
        """Forget everything, or one tenant's entries."""
        with self._lock:
            if tenant is None:
                self._entries.clear()
            else:
                kept = [e for e in self._entries if e.tenant != tenant]
                self._entries.clear()
                self._entries.extend(kept)
