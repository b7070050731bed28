"""The request journal: a bounded record of recent public API calls in the store, for tests and the dashboard.

Entries hold the caller's key only masked (``auth.mask_key``) and the tenant hash it maps to, never the key.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from mock_server.store.database import Store

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
    """The newest ``size`` JournalEntry kept in the store (oldest pruned first), so every server process over one
    data dir records into and reads the same journal; newest first outside. Without a store (a unit test building
    one on its own) it keeps to a private scratch store."""

    def __init__(self, size: int = JOURNAL_SIZE, *, store: Store | None = None):
        if size < 1:
            raise ValueError(f"a journal keeps at least 1 entry, not {size}")
        self.size = size
        self.store = store if store is not None else Store.scratch()

    def record(self, entry: JournalEntry) -> None:
        # A shallow copy: dataclasses.asdict deep-copies every segment, on every API call.
        row = {f.name: getattr(entry, f.name) for f in fields(entry)}
        self.store.add_journal_entry(row, tenant=entry.tenant, keep=self.size)

    def entries(self, *, tenant: str | None = None, limit: int = DEFAULT_LIMIT) -> list[JournalEntry]:
        """The newest ``limit`` entries, newest first; only ``tenant``'s when given."""
        names = {f.name for f in fields(JournalEntry)}  # a row written by a build with more fields still loads
        return [JournalEntry(**{k: v for k, v in row.items() if k in names})
                for row in self.store.journal_entries(tenant=tenant, limit=limit)]

    def reset(self, tenant: str | None = None) -> None:
        """Forget everything, or one tenant's entries."""
        self.store.reset_journal(tenant)


def async_segments(store, entry: JournalEntry) -> list[dict] | None:
    """An async call's segments, from its job once done (its journal entry was written at acceptance, before
    them); None for other calls or a job not done yet. ``store``: the Store holding the jobs."""
    if not entry.request_id or not entry.tenant:
        return None
    for job in store.jobs_by_request_id(entry.request_id, entry.tenant):
        response = (job.result or {}).get("response") or {}
        if isinstance(response.get("segments"), list):
            return response["segments"]
    return None
