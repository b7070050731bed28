"""The store's part for what the admin API arms and records: faults, stubs, the request journal, id counters.

They live in SQLite (tables from schema version 1) rather than in one process's memory so that every server
process over one data dir sees the same ones: a fault armed through one process fails a call another serves,
and a fault armed for ``times`` calls applies exactly ``times`` times in all, whichever processes take it.

Rows carry their details as JSON objects ("specs") whose meaning belongs to the admin package; this module
only knows what it must query by (target, tenant, order) and the counts it must change atomically.
"""
from __future__ import annotations

import json
import sqlite3
from contextlib import AbstractContextManager
from typing import Callable

CONTROL_TABLES = ("faults", "stubs", "journal", "counters")
JOURNAL_BUSY_SECONDS = 0.5


class ControlTables:
    """Mixed into Store, which provides ``_connection()`` (this thread's connection, autocommit) and
    ``_transaction(busy_seconds=None)`` (a ``BEGIN IMMEDIATE`` write transaction, waiting at most busy_seconds for
    the lock instead of the store's own wait)."""

    _connection: Callable[[], sqlite3.Connection]
    _transaction: Callable[..., AbstractContextManager[sqlite3.Connection]]

    # --- ids ----------------------------------------------------------------------------------------------------

    def next_id(self, name: str) -> int:
        """1, 2, 3... per ``name``, never the same number twice for one data dir (until clear_controls)."""
        with self._transaction() as db:
            row = db.execute("INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT (name) DO UPDATE "
                             "SET value = value + 1 RETURNING value", (name,)).fetchone()
        return int(row[0])

    # --- faults -------------------------------------------------------------------------------------------------

    def add_fault(self, fault_id: str, *, target: str, tenant: str | None, times: int, spec: dict) -> None:
        """Arm a fault for ``times`` (>= 1) applications; ``spec`` is a JSON-able object returned as stored.
        An id already armed is replaced in place (it keeps its position in the arming order)."""
        with self._transaction() as db:
            db.execute("INSERT INTO faults (id, target, tenant, times, spec) VALUES (?, ?, ?, ?, ?) "
                       "ON CONFLICT (id) DO UPDATE SET target=excluded.target, tenant=excluded.tenant, "
                       "times=excluded.times, spec=excluded.spec", (fault_id, target, tenant, times, json.dumps(spec)))

    def faults(self) -> list[tuple[dict, int]]:
        """Every armed fault as (spec, applications left), oldest first."""
        rows = self._connection().execute("SELECT spec, times FROM faults ORDER BY seq").fetchall()
        return [(json.loads(r["spec"]), r["times"]) for r in rows]

    def take_fault(self, target: str, matches: Callable[[dict], bool]) -> tuple[dict, int] | None:
        """Use up one application of the oldest ``target`` fault whose spec ``matches``; return it as
        (spec, applications it had before this one), or None when none matches.

        The count goes down (and the row away at 0) in one write transaction, so concurrent takers in any
        process never apply one fault more often than armed. ``matches`` runs inside that transaction: it must
        be a quick pure function of the spec. A read-only look comes first, so calls that match nothing (the
        usual case) never wait for SQLite's write lock."""
        if not any(matches(json.loads(r["spec"])) for r in self._fault_rows(self._connection(), target)):
            return None
        with self._transaction() as db:
            for row in self._fault_rows(db, target):
                spec = json.loads(row["spec"])
                if matches(spec):
                    if row["times"] <= 1:
                        db.execute("DELETE FROM faults WHERE seq=?", (row["seq"],))
                    else:
                        db.execute("UPDATE faults SET times = times - 1 WHERE seq=?", (row["seq"],))
                    return spec, row["times"]
        return None

    @staticmethod
    def _fault_rows(db: sqlite3.Connection, target: str) -> list[sqlite3.Row]:
        return db.execute("SELECT seq, times, spec FROM faults WHERE target=? ORDER BY seq", (target,)).fetchall()

    def remove_fault(self, fault_id: str) -> bool:
        """Disarm one fault; False when there is none with that id."""
        return self._remove("faults", fault_id)

    def reset_faults(self, tenant: str | None = None) -> None:
        """Disarm every fault, or those scoped to ``tenant``."""
        self._delete("faults", tenant)

    # --- stubs --------------------------------------------------------------------------------------------------

    def add_stub(self, stub_id: str, *, tenant: str | None, spec: dict) -> None:
        """Register a stub (an id already there is replaced in place)."""
        with self._transaction() as db:
            db.execute("INSERT INTO stubs (id, tenant, spec) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                       "tenant=excluded.tenant, spec=excluded.spec", (stub_id, tenant, json.dumps(spec)))

    def stubs(self) -> list[dict]:
        """Every stub's spec, oldest first."""
        return [json.loads(r[0]) for r in self._connection().execute("SELECT spec FROM stubs ORDER BY seq")]

    def remove_stub(self, stub_id: str) -> bool:
        return self._remove("stubs", stub_id)

    def reset_stubs(self, tenant: str | None = None) -> None:
        self._delete("stubs", tenant)

    # --- journal ------------------------------------------------------------------------------------------------

    def add_journal_entry(self, entry: dict, *, tenant: str | None, keep: int) -> None:
        """Append one entry and prune the oldest so at most ``keep`` (>= 1) remain. Waits at most
        JOURNAL_BUSY_SECONDS for the lock: the line is written after the call is answered, and a lock held by
        another process would hold every answer, reads included, for the store's whole busy wait."""
        with self._transaction(busy_seconds=JOURNAL_BUSY_SECONDS) as db:
            seq = db.execute("INSERT INTO journal (tenant, entry) VALUES (?, ?)",
                             (tenant, json.dumps(entry))).lastrowid
            # seq only grows (AUTOINCREMENT), so everything at or below seq - keep is older than the newest keep.
            db.execute("DELETE FROM journal WHERE seq <= ?", (seq - keep,))

    def journal_entries(self, *, tenant: str | None = None, limit: int) -> list[dict]:
        """The newest ``limit`` entries, newest first; only ``tenant``'s when given."""
        sql, args = "SELECT entry FROM journal", []
        if tenant is not None:
            sql, args = sql + " WHERE tenant=?", [tenant]
        rows = self._connection().execute(sql + " ORDER BY seq DESC LIMIT ?", args + [limit]).fetchall()
        return [json.loads(r[0]) for r in rows]

    def reset_journal(self, tenant: str | None = None) -> None:
        self._delete("journal", tenant)

    # --- all of them --------------------------------------------------------------------------------------------

    def clear_controls(self) -> None:
        """Forget every fault, stub, journal entry and id counter: what a server run starts from."""
        with self._transaction() as db:
            for table in CONTROL_TABLES:
                db.execute(f"DELETE FROM {table}")

    def _remove(self, table: str, row_id: str) -> bool:
        """Delete the row ``row_id`` of a control table; False when there is none."""
        with self._transaction() as db:
            return db.execute(f"DELETE FROM {table} WHERE id=?", (row_id,)).rowcount > 0

    def _delete(self, table: str, tenant: str | None) -> None:
        with self._transaction() as db:
            if tenant is None:
                db.execute(f"DELETE FROM {table}")
            else:
                db.execute(f"DELETE FROM {table} WHERE tenant=?", (tenant,))
