"""The store's schema, versioned: each migration takes a database from one version to the next, in one
transaction, and ``PRAGMA user_version`` records where a database stands. A data dir made by any earlier
version of the mock is brought up to date when the store opens it; a newer one is refused.
"""
from __future__ import annotations

import sqlite3

# Version 1: the schema as first released (speakers, enrollments, jobs, webhook attempts). Written with
# IF NOT EXISTS so a database made before versions were recorded (user_version 0) takes it as a no-op.
SCHEMA_V1 = """
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

# Version 2: seconds of audio and of speech (as the pipeline heard it) per enrollment and per speaker, for the
# 2020 enrollment rules (6 s per enrollment, complete at 12 s). Rows from before are measured again from their
# kept audio by the service (speech_seconds NULL means "not measured yet").
SCHEMA_V2 = """
ALTER TABLE enrollments ADD COLUMN audio_seconds REAL;
ALTER TABLE enrollments ADD COLUMN speech_seconds REAL;
ALTER TABLE speakers ADD COLUMN audio_seconds REAL;
ALTER TABLE speakers ADD COLUMN speech_seconds REAL;
UPDATE enrollments SET audio_seconds = length(audio) / 32000.0;
UPDATE speakers SET audio_seconds = (SELECT SUM(e.audio_seconds) FROM enrollments e
                                     WHERE e.tenant = speakers.tenant AND e.speaker_id = speakers.speaker_id);
"""

MIGRATIONS = (SCHEMA_V1, SCHEMA_V2)
VERSION = len(MIGRATIONS)


class NewerSchema(RuntimeError):
    """The database was written by a newer version of the mock than this one."""


def migrate(db: sqlite3.Connection) -> int:
    """Bring ``db`` (autocommit mode) to VERSION; returns the version it had. Raises NewerSchema."""
    db.execute("BEGIN IMMEDIATE")
    try:
        (found,) = db.execute("PRAGMA user_version").fetchone()
        if found > VERSION:
            raise NewerSchema(f"the data dir was written by a newer speaker-id-mock (schema {found}, this one "
                              f"knows {VERSION}); use that version or another --data-dir.")
        for script in MIGRATIONS[found:]:
            for statement in filter(str.strip, script.split(";")):
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {VERSION}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return found
