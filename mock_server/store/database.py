"""The only code that touches SQLite: speakers, their enrollments, async jobs and webhook attempts (here), and
the admin API's faults, stubs and request journal (controls.py); schema versions and migrations in schema.py.

One file under --data-dir, in WAL mode so several threads and processes share it; every write is one
``BEGIN IMMEDIATE`` transaction, so a crash leaves either the whole change or none of it. Tenants are
identified by a hash of their api key: the key itself is never stored.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
import time
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from mock_server.store import schema
from mock_server.store.connection import DEFAULT_BUSY_SECONDS, PerThread, immediate, not_a_store
from mock_server.store.controls import ControlTables

# Schema version 0, the tables from before schema versions; later versions are migrations in schema.py.
SCHEMA = """
CREATE TABLE IF NOT EXISTS speakers (
    tenant TEXT NOT NULL,
    speaker_id TEXT NOT NULL,
    enrollments INTEGER NOT NULL,
    voiceprint BLOB NOT NULL,
    model_version TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (tenant, speaker_id)
);
CREATE TABLE IF NOT EXISTS enrollments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    speaker_id TEXT NOT NULL,
    audio BLOB NOT NULL,            -- 16-bit PCM at the pipeline rate, kept to recompute voiceprints
    voiceprint BLOB NOT NULL,
    model_version TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS enrollments_by_speaker ON enrollments (tenant, speaker_id);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    api TEXT NOT NULL,
    webhook TEXT NOT NULL,
    params TEXT NOT NULL,           -- JSON: speakerIds, encoding, sampleRate, url
    audio BLOB,                     -- the request's decoded-from-base64 bytes, when content was sent
    status TEXT NOT NULL,           -- queued | running | done
    result TEXT,                    -- JSON payload for the webhook once done
    webhook_status TEXT,            -- pending | delivered | failed, once done
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL DEFAULT 0,
    claimed_by TEXT,
    claimed_at REAL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_request ON jobs (request_id);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, webhook_status);
CREATE TABLE IF NOT EXISTS webhook_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL,
    tenant TEXT NOT NULL,
    request_id TEXT NOT NULL,
    url TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    time REAL NOT NULL
);
"""


@dataclass(frozen=True)
class SpeakerRecord:
    """A speaker as stored: how many enrollments, the combined voiceprint (serialised), and seconds of audio and
    of speech summed over its enrollments (``speech_seconds`` None: an enrollment is not measured yet)."""

    speaker_id: str
    enrollments: int
    voiceprint: bytes
    model_version: str
    audio_seconds: float | None = None
    speech_seconds: float | None = None


@dataclass(frozen=True)
class Job:
    """An async identify request and where it stands."""

    id: int
    request_id: str
    tenant: str
    api: str
    webhook: str
    params: dict
    audio: bytes | None
    status: str
    result: dict | None
    webhook_status: str | None
    attempts: int
    next_attempt: float
    created: float
    updated: float

    def to_dict(self) -> dict:
        return {"request_id": self.request_id, "api": self.api, "webhook": self.webhook, "status": self.status,
                "webhook_status": self.webhook_status, "attempts": self.attempts,
                "speakerIds": self.params.get("speakerIds"), "result": self.result,
                "created": self.created, "updated": self.updated}


@dataclass(frozen=True)
class Runner:
    """A job runner (one per server process) as registered in the store: its id (what ``jobs.claimed_by``
    holds), where it runs (``host`` is '' and ``proc_start`` '' where unknown) and when it last said it is alive."""

    owner: str
    pid: int
    host: str
    proc_start: str
    heartbeat: float


# Work still to do (a job queued or running, or its webhook owed) that no registered runner holds: its runner
# stopped (and let go of it), died and was dropped from ``runners``, or it comes from a data dir older than
# runners. Any runner may adopt it.
_ORPHANED = ("(status IN ('queued', 'running') OR (status = 'done' AND webhook_status = 'pending')) AND "
             "(claimed_by IS NULL OR claimed_by NOT IN (SELECT owner FROM runners))")


def _row_access(db: sqlite3.Connection) -> None:
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode


class Store(ControlTables):
    """SQLite-backed state, one connection per thread.

    Opening a data dir migrates it to the latest schema version (schema.migrate); one written by a newer
    version raises schema.SchemaTooNew."""

    def __init__(self, path: Path | str, *, busy_seconds: float = DEFAULT_BUSY_SECONDS):
        self.path = Path(path)
        self.busy_seconds = busy_seconds
        self._connections = PerThread(self.path, busy_seconds, _row_access)
        try:
            schema.migrate(self._connection(), SCHEMA, self.path)
        except sqlite3.DatabaseError as exc:   # trouble with the file itself is StoreUnavailable already
            raise not_a_store(self.path, exc) from None

    @classmethod
    def scratch(cls) -> "Store":
        """A store in a new temporary directory, removed when the store is garbage-collected (for objects made
        without a data dir, such as an admin registry built on its own in a unit test)."""
        folder = tempfile.mkdtemp(prefix="speaker-id-mock-scratch-")
        store = cls(Path(folder) / "scratch.sqlite3")
        weakref.finalize(store, shutil.rmtree, folder, True)
        return store

    def _connection(self) -> sqlite3.Connection:
        return self._connections.get()

    @contextmanager
    def _transaction(self, busy_seconds: float | None = None) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction on this thread's connection; ``busy_seconds``: wait at most this long
        for the lock (at most the store's own wait) instead of the store's own."""
        db = self._connection()
        shorter = busy_seconds is not None and busy_seconds < self.busy_seconds
        if shorter:
            db.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
        try:
            with immediate(db, self.close) as tx:
                yield tx
        finally:
            if shorter and self._connections.held() is db:   # not dropped meanwhile
                db.execute(f"PRAGMA busy_timeout={int(self.busy_seconds * 1000)}")

    def close(self) -> None:
        self._connections.close()

    # --- speakers -------------------------------------------------------------------------------------

    def enrollment_voiceprints(self, tenant: str, speaker_id: str, model_version: str) -> list[bytes]:
        """A speaker's enrollment voiceprints stored by ``model_version``, oldest first."""
        rows = self._connection().execute("SELECT voiceprint FROM enrollments WHERE tenant=? AND speaker_id=? "
                                          "AND model_version=? ORDER BY id", (tenant, speaker_id, model_version))
        return [r["voiceprint"] for r in rows]

    def add_enrollment(self, tenant: str, speaker_id: str, *, audio: bytes, voiceprint: bytes, combined: bytes,
                       model_version: str, expected_count: int, audio_seconds: float,
                       speech_seconds: float) -> SpeakerRecord | None:
        """Store one enrollment and the speaker's new combined voiceprint, if the speaker still has exactly
        ``expected_count`` enrollments of ``model_version`` (compare-and-swap: ``combined`` was fitted from
        those, outside the write lock). Returns the new enrollment count, or None when another enrollment came
        first (nothing is written; fit again from the new set)."""
        now = time.time()
        with self._transaction() as db:
            (count,) = db.execute("SELECT COUNT(*) FROM enrollments WHERE tenant=? AND speaker_id=? "
                                  "AND model_version=?", (tenant, speaker_id, model_version)).fetchone()
            if count != expected_count:
                return None
            db.execute("INSERT INTO enrollments (tenant, speaker_id, audio, voiceprint, model_version, created, "
                       "audio_seconds, speech_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (tenant, speaker_id, audio, voiceprint, model_version, now, audio_seconds, speech_seconds))
            db.execute("INSERT INTO speakers (tenant, speaker_id, enrollments, voiceprint, model_version, created, "
                       "updated) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, speaker_id) DO UPDATE SET "
                       "enrollments=excluded.enrollments, voiceprint=excluded.voiceprint, "
                       "model_version=excluded.model_version, updated=excluded.updated",
                       (tenant, speaker_id, count + 1, combined, model_version, now, now))
            _sum_durations(db, tenant, speaker_id)
            return self._speaker(db, tenant, speaker_id)

    def unmeasured_enrollments(self, tenant: str, speaker_id: str) -> dict[int, bytes]:
        """Enrollments stored before durations were kept: {row id: audio}, to measure their speech."""
        rows = self._connection().execute("SELECT id, audio FROM enrollments WHERE tenant=? AND speaker_id=? AND "
                                          "speech_seconds IS NULL ORDER BY id", (tenant, speaker_id))
        return {r["id"]: r["audio"] for r in rows}

    def set_speech_seconds(self, tenant: str, speaker_id: str, seconds: dict[int, float]) -> None:
        """Record measured speech per enrollment row and the speaker's new totals."""
        with self._transaction() as db:
            db.executemany("UPDATE enrollments SET speech_seconds=? WHERE id=? AND tenant=?",
                           [(value, row_id, tenant) for row_id, value in seconds.items()])
            _sum_durations(db, tenant, speaker_id)

    @staticmethod
    def _speaker(db: sqlite3.Connection, tenant: str, speaker_id: str) -> SpeakerRecord | None:
        row = db.execute(f"SELECT {_SPEAKER_COLUMNS} FROM speakers WHERE tenant=? AND speaker_id=?",
                         (tenant, speaker_id)).fetchone()
        return _speaker_record(row) if row is not None else None

    def speakers(self, tenant: str, speaker_ids: Sequence[str] | None = None) -> dict[str, SpeakerRecord]:
        """This tenant's speakers (all, or the given ids that exist), in enrollment order."""
        sql = f"SELECT {_SPEAKER_COLUMNS} FROM speakers WHERE tenant=?"
        args: list = [tenant]
        if speaker_ids is not None:
            if not speaker_ids:
                return {}
            sql += f" AND speaker_id IN ({','.join('?' * len(speaker_ids))})"
            args += list(speaker_ids)
        rows = self._connection().execute(sql + " ORDER BY created, speaker_id", args).fetchall()
        return {r["speaker_id"]: _speaker_record(r) for r in rows}

    def enrollment_audio(self, tenant: str, speaker_id: str) -> list[bytes]:
        """A speaker's stored enrollment audio, oldest first (to recompute voiceprints for a new model)."""
        rows = self._connection().execute("SELECT audio FROM enrollments WHERE tenant=? AND speaker_id=? "
                                          "ORDER BY id", (tenant, speaker_id)).fetchall()
        return [r["audio"] for r in rows]

    def stale_speakers(self, tenant: str, speaker_ids: Sequence[str], model_version: str) -> set[str]:
        """Those of ``speaker_ids`` with a voiceprint, or an enrollment's, stored by another model than
        ``model_version`` (to recompute from the kept audio)."""
        if not speaker_ids:
            return set()
        marks = ",".join("?" * len(speaker_ids))
        rows = self._connection().execute(
            f"SELECT speaker_id FROM speakers WHERE tenant=? AND speaker_id IN ({marks}) AND model_version != ? "
            f"UNION SELECT speaker_id FROM enrollments WHERE tenant=? AND speaker_id IN ({marks}) AND "
            "model_version != ?", [tenant, *speaker_ids, model_version, tenant, *speaker_ids, model_version])
        return {r[0] for r in rows}

    def replace_voiceprints(self, tenant: str, speaker_id: str, *, enrollment_voiceprints: list[bytes],
                            voiceprint: bytes | None, model_version: str) -> None:
        """Swap in voiceprints recomputed by a new model, all at once; with ``voiceprint`` None the enrollments'
        only (an enrollment about to be added writes the speaker's)."""
        with self._transaction() as db:
            ids = [r["id"] for r in db.execute("SELECT id FROM enrollments WHERE tenant=? AND speaker_id=? "
                                               "ORDER BY id", (tenant, speaker_id))]
            if len(ids) != len(enrollment_voiceprints):
                return  # enrollments changed meanwhile; the next reader recomputes again
            for row_id, blob in zip(ids, enrollment_voiceprints):
                db.execute("UPDATE enrollments SET voiceprint=?, model_version=? WHERE id=?",
                           (blob, model_version, row_id))
            if voiceprint is not None:
                db.execute("UPDATE speakers SET voiceprint=?, model_version=?, enrollments=? WHERE tenant=? AND "
                           "speaker_id=?", (voiceprint, model_version, len(ids), tenant, speaker_id))

    def delete_speaker(self, tenant: str, speaker_id: str) -> bool:
        """Forget a speaker and its enrollments; False when there was no such speaker."""
        with self._transaction() as db:
            gone = db.execute("DELETE FROM speakers WHERE tenant=? AND speaker_id=?", (tenant, speaker_id)).rowcount
            db.execute("DELETE FROM enrollments WHERE tenant=? AND speaker_id=?", (tenant, speaker_id))
        return gone > 0

    def tenants(self) -> list[str]:
        rows = self._connection().execute("SELECT DISTINCT tenant FROM speakers UNION "
                                          "SELECT DISTINCT tenant FROM jobs ORDER BY 1").fetchall()
        return [r[0] for r in rows]

    # --- async jobs -------------------------------------------------------------------------------------

    def create_job(self, *, request_id: str, tenant: str, api: str, webhook: str, params: dict,
                   audio: bytes | None, owner: str | None = None) -> int:
        """Record an async job before it is acknowledged, so a crash cannot lose it; ``owner``, a registered
        runner, holds it (None: nobody yet, any runner may adopt it)."""
        now = time.time()
        with self._transaction() as db:
            cur = db.execute("INSERT INTO jobs (request_id, tenant, api, webhook, params, audio, status, claimed_by, "
                             "created, updated) VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)",
                             (request_id, tenant, api, webhook, json.dumps(params), audio, owner, now, now))
            return int(cur.lastrowid)

    def claim_job(self, job_id: int, *, owner: str) -> Job | None:
        """Start a queued job that ``owner`` holds; None if it is not queued (running or done already: a job
        queued twice runs once) or another runner holds it."""
        now = time.time()
        with self._transaction() as db:
            got = db.execute("UPDATE jobs SET status='running', claimed_at=?, updated=? WHERE id=? "
                             "AND status='queued' AND claimed_by=?", (now, now, job_id, owner)).rowcount
        return self.job(job_id) if got else None

    def finish_job(self, job_id: int, result: dict, *, owner: str | None = None) -> bool:
        """Store a job's outcome and mark its webhook pending, in one step; False if ``owner`` lost the job.

        A runner whose job was taken over (it was deemed gone) must not overwrite the new holder's result (that
        would make an already delivered webhook pending again). The holder keeps the job for its webhook.
        """
        now = time.time()
        sql = ("UPDATE jobs SET status='done', result=?, webhook_status='pending', audio=NULL, next_attempt=?, "
               "claimed_at=NULL, updated=? WHERE id=? AND status='running'")
        args: list = [json.dumps(result), now, now, job_id]
        if owner is not None:
            sql, args = sql + " AND claimed_by=?", args + [owner]
        with self._transaction() as db:
            return db.execute(sql, args).rowcount > 0

    def claim_delivery(self, job_id: int, *, owner: str) -> Job | None:
        """Start a due pending webhook delivery of a job ``owner`` holds; None if it is not due, another runner
        holds it, or a delivery of it is under way already (claimed_at set until record_attempt): a job
        scheduled twice is still POSTed once."""
        now = time.time()
        with self._transaction() as db:
            got = db.execute("UPDATE jobs SET claimed_at=? WHERE id=? AND status='done' AND "
                             "webhook_status='pending' AND next_attempt <= ? AND claimed_by=? AND claimed_at IS NULL",
                             (now, job_id, now + 0.001, owner)).rowcount
        return self.job(job_id) if got else None

    def record_attempt(self, job: Job, *, attempt: int, status: int | None, error: str | None,
                       outcome: str, next_attempt: float, url: str | None = None, owner: str | None = None) -> None:
        """Log a delivery attempt and move the job's webhook state (pending, delivered or failed).

        ``url`` is the webhook as the attempt log may show it (the caller masks a password); job.webhook if None.
        ``owner``: the runner that made the attempt; if another runner took the job over meanwhile, only a
        delivery changes the job (so the new holder does not POST it again); the attempt is logged either way.
        """
        now = time.time()
        sql = ("UPDATE jobs SET webhook_status=?, attempts=?, next_attempt=?, claimed_at=NULL, claimed_by=CASE WHEN "
               "? = 'pending' THEN claimed_by END, updated=? WHERE id=?")
        args: list = [outcome, attempt, next_attempt, outcome, now, job.id]
        if owner is not None:
            sql, args = sql + " AND (claimed_by=? OR ?='delivered')", args + [owner, outcome]
        with self._transaction() as db:
            db.execute("INSERT INTO webhook_attempts (job_id, tenant, request_id, url, attempt, status, error, time) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (job.id, job.tenant, job.request_id, url or job.webhook, attempt, status, error, now))
            db.execute(sql, args)

    # --- job runners and their leases -------------------------------------------------------------------

    def register_runner(self, owner: str, *, pid: int, host: str, proc_start: str) -> None:
        """Add a runner, or refresh its heartbeat (re-adding it if it was dropped as gone)."""
        now = time.time()
        with self._transaction() as db:
            db.execute("INSERT INTO runners (owner, pid, host, proc_start, heartbeat, started) VALUES (?, ?, ?, ?, "
                       "?, ?) ON CONFLICT (owner) DO UPDATE SET heartbeat=excluded.heartbeat",
                       (owner, pid, host, proc_start, now, now))

    def runners(self) -> list[Runner]:
        rows = self._connection().execute("SELECT owner, pid, host, proc_start, heartbeat FROM runners "
                                          "ORDER BY started").fetchall()
        return [Runner(r["owner"], r["pid"], r["host"], r["proc_start"], r["heartbeat"]) for r in rows]

    def has_orphaned_jobs(self) -> bool:
        """Whether some unfinished job is held by no registered runner (a read: no write lock taken)."""
        return self._connection().execute(f"SELECT 1 FROM jobs WHERE {_ORPHANED} LIMIT 1").fetchone() is not None

    def adopt_jobs(self, owner: str, *, gone: Sequence[Runner] = ()) -> list[tuple[int, str, float]]:
        """Drop the runners in ``gone`` and give ``owner`` every unfinished job no registered runner holds.

        A runner in ``gone`` is dropped only if its heartbeat is still the one the caller saw (one heard of since
        is alive after all, and keeps its jobs). A running job adopted goes back to queued (it starts over), a
        webhook being POSTed back to due. Returns (job id, status, next_attempt) of each adopted job, oldest
        first: "queued" ones to run, "done" ones whose webhook is owed."""
        now = time.time()
        with self._transaction() as db:
            for runner in gone:
                db.execute("DELETE FROM runners WHERE owner=? AND heartbeat=?", (runner.owner, runner.heartbeat))
            rows = db.execute(f"SELECT id, status, next_attempt FROM jobs WHERE {_ORPHANED} ORDER BY id").fetchall()
            db.executemany("UPDATE jobs SET claimed_by=?, claimed_at=NULL, status=CASE WHEN status='running' "
                           "THEN 'queued' ELSE status END, updated=? WHERE id=?",
                           [(owner, now, r["id"]) for r in rows])
        return [(r["id"], "queued" if r["status"] == "running" else r["status"], r["next_attempt"]) for r in rows]

    def webhook_urls(self, job_ids: Sequence[int]) -> dict[int, str]:
        """The webhook url of each of job_ids (those that exist)."""
        found: dict[int, str] = {}
        ids = list(job_ids)
        for start in range(0, len(ids), 500):          # SQLite takes at most 999 parameters (older builds)
            part = ids[start:start + 500]
            rows = self._connection().execute(
                f"SELECT id, webhook FROM jobs WHERE id IN ({','.join('?' * len(part))})", part)
            found.update((r["id"], r["webhook"]) for r in rows)
        return found

    def unregister_runner(self, owner: str) -> None:
        """A runner stopping: it lets go of the work it holds (a running job goes back to queued), for another
        runner, now or at the next start, to adopt; and leaves the runners."""
        now = time.time()
        with self._transaction() as db:
            db.execute("UPDATE jobs SET claimed_by=NULL, claimed_at=NULL, status=CASE WHEN status='running' THEN "
                       "'queued' ELSE status END, updated=? WHERE claimed_by=? AND (status IN ('queued', 'running') "
                       "OR webhook_status='pending')", (now, owner))
            db.execute("DELETE FROM runners WHERE owner=?", (owner,))

    def job(self, job_id: int) -> Job | None:
        row = self._connection().execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        return _job(row) if row else None

    def jobs_by_request_id(self, request_id: str, tenant: str | None = None) -> list[Job]:
        sql, args = "SELECT * FROM jobs WHERE request_id=?", [request_id]
        if tenant is not None:
            sql, args = sql + " AND tenant=?", args + [tenant]
        return [_job(r) for r in self._connection().execute(sql + " ORDER BY id", args)]

    def unfinished_jobs(self) -> list[int]:
        """Jobs not yet processed, or processed with a webhook still to deliver: the work to resume."""
        rows = self._connection().execute("SELECT id FROM jobs WHERE status IN ('queued', 'running') OR "
                                          "webhook_status='pending' ORDER BY id").fetchall()
        return [r[0] for r in rows]

    def webhook_attempts(self, *, tenant: str | None = None, limit: int = 200) -> list[dict]:
        sql, args = "SELECT * FROM webhook_attempts", []
        if tenant is not None:
            sql, args = sql + " WHERE tenant=?", [tenant]
        rows = self._connection().execute(sql + " ORDER BY id DESC LIMIT ?", args + [limit]).fetchall()
        return [dict(r) for r in rows]

    # --- reset ------------------------------------------------------------------------------------------

    def reset(self, tenant: str | None = None) -> None:
        """Forget everything, or one tenant's speakers, jobs and deliveries."""
        with self._transaction() as db:
            for table in ("speakers", "enrollments", "jobs", "webhook_attempts"):
                if tenant is None:
                    db.execute(f"DELETE FROM {table}")
                else:
                    db.execute(f"DELETE FROM {table} WHERE tenant=?", (tenant,))


_SPEAKER_COLUMNS = "speaker_id, enrollments, voiceprint, model_version, audio_seconds, speech_seconds"


def _speaker_record(row: sqlite3.Row) -> SpeakerRecord:
    return SpeakerRecord(row["speaker_id"], row["enrollments"], row["voiceprint"], row["model_version"],
                         row["audio_seconds"], row["speech_seconds"])


def _sum_durations(db: sqlite3.Connection, tenant: str, speaker_id: str) -> None:
    """A speaker's totals from its enrollments; speech stays NULL while any enrollment is unmeasured."""
    db.execute("UPDATE speakers SET audio_seconds=(SELECT SUM(audio_seconds) FROM enrollments e WHERE "
               "e.tenant=speakers.tenant AND e.speaker_id=speakers.speaker_id), speech_seconds=(SELECT CASE WHEN "
               "COUNT(*) = COUNT(speech_seconds) THEN SUM(speech_seconds) END FROM enrollments e WHERE "
               "e.tenant=speakers.tenant AND e.speaker_id=speakers.speaker_id) WHERE tenant=? AND speaker_id=?",
               (tenant, speaker_id))


def _job(row: sqlite3.Row) -> Job:
    return Job(id=row["id"], request_id=row["request_id"], tenant=row["tenant"], api=row["api"],
               webhook=row["webhook"], params=json.loads(row["params"]), audio=row["audio"], status=row["status"],
               result=json.loads(row["result"]) if row["result"] else None, webhook_status=row["webhook_status"],
               attempts=row["attempts"], next_attempt=row["next_attempt"], created=row["created"],
               updated=row["updated"])
