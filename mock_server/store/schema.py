"""Schema versions of the store and the migrations between them, recorded in SQLite's ``PRAGMA user_version``.

Version 0 is the schema before versioning (speakers, enrollments, jobs, webhook_attempts: ``database.SCHEMA``);
an existing data dir from then opens at 0 and is migrated forward in place. Each later version is a list of
statements applied in one write transaction together with the new version number, so a crash mid-migration
leaves the previous version intact and several processes opening one data dir at once migrate it once.

To change the schema, append a migration to MIGRATIONS (never edit version 0's DDL or an earlier migration:
data dirs already past it would not see the change).
"""
from __future__ import annotations

import sqlite3

# Version 1: what the admin API arms and records (faults, stubs, the request journal) moves from each process's
# memory into the store, so every server process sees the same ones.
CONTROL_TABLES = [
    """CREATE TABLE IF NOT EXISTS faults (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- arming order: the oldest matching fault applies first
        id TEXT NOT NULL UNIQUE,
        target TEXT NOT NULL,                   -- api | webhook
        tenant TEXT,                            -- NULL: every tenant's traffic
        times INTEGER NOT NULL,                 -- applications left; the row goes when it reaches 0
        spec TEXT NOT NULL                      -- JSON object: the fault's other fields
    )""",
    "CREATE INDEX IF NOT EXISTS faults_by_target ON faults (target, seq)",
    """CREATE TABLE IF NOT EXISTS stubs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- of equally specific matching stubs, the newest answers
        id TEXT NOT NULL UNIQUE,
        tenant TEXT,
        spec TEXT NOT NULL                      -- JSON object: match and segments
    )""",
    """CREATE TABLE IF NOT EXISTS journal (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, so the newest rows are the highest
        tenant TEXT,
        entry TEXT NOT NULL                     -- JSON object: one public API call
    )""",
    "CREATE INDEX IF NOT EXISTS journal_by_tenant ON journal (tenant, seq)",
    """CREATE TABLE IF NOT EXISTS counters (
        name TEXT PRIMARY KEY,                  -- e.g. "fault-": the next id of that kind is value + 1
        value INTEGER NOT NULL
    )""",
]

# Version 2: seconds of audio and of speech (as the pipeline heard it) per enrollment and per speaker, for the
# 2020 enrollment rules (6 s per enrollment, complete at 12 s). Audio seconds follow from the kept 16-bit PCM at
# 16 kHz; speech of older rows is measured again from that audio by the service (NULL: not measured yet).
DURATIONS = [
    "ALTER TABLE enrollments ADD COLUMN audio_seconds REAL",
    "ALTER TABLE enrollments ADD COLUMN speech_seconds REAL",
    "ALTER TABLE speakers ADD COLUMN audio_seconds REAL",
    "ALTER TABLE speakers ADD COLUMN speech_seconds REAL",
    "UPDATE enrollments SET audio_seconds = length(audio) / 32000.0",
    """UPDATE speakers SET audio_seconds = (SELECT SUM(e.audio_seconds) FROM enrollments e
                                          WHERE e.tenant = speakers.tenant AND e.speaker_id = speakers.speaker_id)""",
]

# Version 3: job runners (one per server process) and their leases. A claim on a job (jobs.claimed_by) names
# the runner that holds it; the runner proves it is alive by refreshing its heartbeat, and says where it runs
# (pid, host: boot id and pid namespace, and the process's start time) so another runner on the same machine
# can tell at once that it died, even while its pid is a zombie or has been reused.
RUNNERS = [
    """CREATE TABLE IF NOT EXISTS runners (
        owner TEXT PRIMARY KEY,                 -- the runner's id, as jobs.claimed_by names it
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,                     -- where pid means something: boot id and pid namespace ('' unknown)
        proc_start TEXT NOT NULL,               -- the process's start time (/proc/<pid>/stat field 22; '' unknown)
        heartbeat REAL NOT NULL,                -- last time the runner said it is alive (time.time())
        started REAL NOT NULL
    )""",
]

# Version 4: an index that answers "which enrollments were stored by another model" (store.stale_speakers, on
# every identify) from the index alone: the model_version column sits after the audio blob, so without it every
# requested speaker's audio pages were read (~35 ms for 100 speakers of 3 enrollments).
MODEL_INDEX = [
    "CREATE INDEX IF NOT EXISTS enrollments_by_model ON enrollments (tenant, speaker_id, model_version)",
]

MIGRATIONS: list[list[str]] = [CONTROL_TABLES, DURATIONS, RUNNERS, MODEL_INDEX]  # MIGRATIONS[n]: n to n + 1
LATEST = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    """The data dir was written by a newer speaker-id-mock than this one."""


def statements(script: str) -> list[str]:
    """Split a script of ``;``-terminated SQL statements into single statements (a ``;`` inside a comment or a
    string does not end one: sqlite3.complete_statement decides).

    ``executescript`` would commit any open transaction first; single statements stay inside ours."""
    out, pending = [], ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            out.append(pending.strip())
            pending = ""
    return [s for s in out if s.strip(";").strip()]


def migrate(db: sqlite3.Connection, base: str, path: object = "") -> int:
    """Bring the database on ``db`` (autocommit mode) to LATEST and return the version it was at.

    ``base`` is version 0's DDL (idempotent ``IF NOT EXISTS`` statements), applied first so a brand-new file and
    a pre-versioning data dir take the same path. Raises SchemaTooNew for a version above LATEST (``path`` names
    the file in that message)."""
    if _version(db) == LATEST:
        return LATEST  # the common case, without taking the write lock
    db.execute("BEGIN IMMEDIATE")  # one migrator at a time; the others then find the new version
    try:
        found = _version(db)
        if found > LATEST:
            raise SchemaTooNew(f"{path} has store schema version {found}, newer than this speaker-id-mock's "
                               f"{LATEST}: use the newer version, or another --data-dir.")
        if found == 0:
            for statement in statements(base):
                db.execute(statement)
        for version in range(found, LATEST):
            for statement in MIGRATIONS[version]:
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {LATEST}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return found


def _version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])
