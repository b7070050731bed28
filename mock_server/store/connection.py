"""Opening the store's SQLite files, and telling the store's trouble from a bug.

The mock's own trouble with its files (the disk full, the folder read-only or gone, the file damaged or not
SQLite, another process holding the lock past the busy timeout) is errors.StoreUnavailable: answered 503
store_unavailable, waited out by the job runner, a one-line "cannot start" at start. Any other SQLite error
(a syntax error, a missing column, a constraint) is a bug and stays one (a 500 the property tests look for).
Result codes: https://www.sqlite.org/rescode.html.
"""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mock_server import errors

# Primary result codes of trouble with the file or its lock, not with the SQL; of those, a damaged or foreign file.
_DAMAGED_CODES = frozenset({11, 26})                                  # CORRUPT, NOTADB
_UNAVAILABLE_CODES = _DAMAGED_CODES | {3, 5, 6, 8, 10, 13, 14, 15}    # PERM, BUSY, LOCKED, READONLY, IOERR, FULL,
#                                                                       CANTOPEN, PROTOCOL
# The same, from the message, for Pythons before 3.11 (no sqlite_errorcode)
_DAMAGED_WORDS = ("malformed", "not a database")
_UNAVAILABLE_WORDS = _DAMAGED_WORDS + ("disk", "full", "locked", "busy", "readonly", "read-only", "unable to open",
                                       "i/o error", "permission")
DEFAULT_BUSY_SECONDS = 30.0


def is_unavailable(exc: BaseException) -> bool:
    """Whether SQLite's ``exc`` is trouble with the file or its lock (see the module doc), not with the SQL."""
    return _is(exc, _UNAVAILABLE_CODES, _UNAVAILABLE_WORDS)


def _is(exc: BaseException, codes: frozenset, words: tuple[str, ...]) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in codes
    return any(word in str(exc).lower() for word in words)


def unavailable(path: Path | str | None, exc: BaseException) -> errors.StoreUnavailable:
    """errors.StoreUnavailable for ``exc`` on the store file ``path``, saying what to do (the file's name only:
    the answer goes to API clients)."""
    where = Path(path).name if path else "store"
    if _is(exc, _DAMAGED_CODES, _DAMAGED_WORDS):
        return errors.StoreUnavailable(f"the mock server's store file {where} under --data-dir is damaged or not "
                                       f"SQLite ({exc}); move it away (a new store is started) or restore it.")
    return errors.StoreUnavailable(f"the mock server could not use its store file {where} under --data-dir ({exc}); "
                                   "free disk space, make the folder writable, or stop the process holding the "
                                   "file, then send the request again.")


def not_a_store(path: Path, exc: BaseException) -> errors.StoreUnavailable:
    """errors.StoreUnavailable for an SQLite file whose tables are not this program's (another program's file)."""
    return errors.StoreUnavailable(f"{path.name} under --data-dir is an SQLite file of another program or layout "
                                   f"({exc}); point --data-dir at another folder, or move the file away.")


def _translated(path: Path | None, method, args):
    try:
        return method(*args)
    except sqlite3.Error as exc:
        if is_unavailable(exc):
            raise unavailable(path, exc) from None
        raise


class Cursor(sqlite3.Cursor):
    """A cursor whose trouble with the file (is_unavailable) is errors.StoreUnavailable, also while rows are
    fetched: a damaged page may be met at any row."""

    def execute(self, *args):  # type: ignore[override]
        return _translated(self.connection.store_path, super().execute, args)

    def executemany(self, *args):  # type: ignore[override]
        return _translated(self.connection.store_path, super().executemany, args)

    def executescript(self, *args):  # type: ignore[override]
        return _translated(self.connection.store_path, super().executescript, args)

    def fetchone(self):
        return _translated(self.connection.store_path, super().fetchone, ())

    def fetchmany(self, *args):
        return _translated(self.connection.store_path, super().fetchmany, args)

    def fetchall(self):
        return _translated(self.connection.store_path, super().fetchall, ())

    def __next__(self):
        return _translated(self.connection.store_path, super().__next__, ())


class Connection(sqlite3.Connection):
    """A connection whose statements run on Cursor (sqlite3.Connection.execute would make a plain one)."""

    store_path: Path | None = None

    def execute(self, *args):  # type: ignore[override]
        return self.cursor(Cursor).execute(*args)

    def executemany(self, *args):  # type: ignore[override]
        return self.cursor(Cursor).executemany(*args)

    def executescript(self, *args):  # type: ignore[override]
        return self.cursor(Cursor).executescript(*args)


def connect(path: Path, busy_seconds: float = DEFAULT_BUSY_SECONDS) -> Connection:
    """A WAL-mode connection to ``path`` (autocommit: transactions are explicit ``BEGIN IMMEDIATE``), usable from
    any thread, waiting up to ``busy_seconds`` for a lock another connection holds. Raises
    errors.StoreUnavailable when the folder or file cannot be used."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, timeout=busy_seconds, check_same_thread=False,
                             factory=Connection)
    except (OSError, sqlite3.Error) as exc:   # --data-dir is a file, the folder cannot be made or opened
        raise unavailable(path, exc) from None
    db.store_path = path
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
    return db


class PerThread:
    """One connection (connect) to one file per thread, opened on first use; ``setup`` runs on each new one."""

    def __init__(self, path: Path, busy_seconds: float, setup: Callable[[Connection], None] | None = None):
        self.path, self.busy_seconds, self.setup = path, busy_seconds, setup
        self._local = threading.local()

    def get(self) -> Connection:
        db = getattr(self._local, "db", None)
        if db is None:   # errors.StoreUnavailable when the file cannot be used
            db = connect(self.path, self.busy_seconds)
            if self.setup is not None:
                self.setup(db)
            self._local.db = db
        return db

    def held(self) -> Connection | None:
        """This thread's connection, or None (never opened, or closed)."""
        return getattr(self._local, "db", None)

    def close(self) -> None:
        """Close this thread's connection (the next use opens another)."""
        db = self.held()
        if db is not None:
            db.close()
            self._local.db = None


@contextmanager
def immediate(db: sqlite3.Connection, drop: Callable[[], None]) -> Iterator[sqlite3.Connection]:
    """One ``BEGIN IMMEDIATE`` transaction on ``db``: committed when the block ends, rolled back when it raises or
    the COMMIT fails (a full disk fails there too, leaving the transaction open). A connection that cannot roll
    back is given to ``drop`` (its owner forgets it; the next use opens a new one)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        try:
            db.execute("ROLLBACK")
        except (errors.StoreUnavailable, sqlite3.Error):
            drop()
        raise
