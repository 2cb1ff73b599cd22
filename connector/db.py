"""SQLite ledger: connections, transactions, migrations.

One connection per thread (sqlite3 connections must not be shared across threads). Every
connection gets WAL mode, foreign keys and a busy timeout. Writers that read-then-write use
``transaction(db)``, which takes the write lock up front (``BEGIN IMMEDIATE``) so two workers
can never both read the same "free" row and then both write it.
"""

from __future__ import annotations

import contextlib
import secrets as _secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils

from migrations import MIGRATIONS


def connect(path: str | Path, *, busy_timeout_ms: int = 5000) -> sqlite_utils.Database:
    """Open the ledger with the settings every connection needs."""
    conn = sqlite3.connect(str(path), timeout=busy_timeout_ms / 1000, check_same_thread=False)
    db = sqlite_utils.Database(conn, execute_plugins=False)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")  # safe with WAL: a crash loses no committed txn
    if str(path) != ":memory:" and db.journal_mode != "wal":
        db.enable_wal()
    return db


class Ledger:
    """Hands each thread its own connection to one ledger file."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 5000):
        self.path = str(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._all: list[tuple[threading.Thread, sqlite_utils.Database]] = []
        self._lock = threading.Lock()

    @property
    def db(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path, busy_timeout_ms=self.busy_timeout_ms)
            self._local.db = db
            with self._lock:
                self._all.append((threading.current_thread(), db))
        return db

    def close(self) -> None:
        """Close this thread's connection and those of threads that have ended.

        A connection another live thread may be using right now is never closed from here (closing
        a sqlite3 connection under a running statement crashes the process); its reference is
        dropped instead, and sqlite3 closes it when that thread lets go of it.
        """
        me = threading.current_thread()
        with self._lock:
            for owner, db in self._all:
                if owner is me or not owner.is_alive():
                    with contextlib.suppress(sqlite3.Error):
                        db.close()
            self._all.clear()
        self._local = threading.local()


@contextlib.contextmanager
def transaction(
    db: sqlite_utils.Database, *, immediate: bool = True
) -> Iterator[sqlite_utils.Database]:
    """A write transaction; nested calls become savepoints.

    SQLite can still report SQLITE_BUSY on BEGIN IMMEDIATE when the busy timeout runs out under
    heavy contention; we retry the BEGIN a few times before giving up.
    """
    conn = db.conn
    if conn.in_transaction:
        name = f"sp_{_secrets.token_hex(8)}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield db
        except BaseException:
            if conn.in_transaction:
                conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                conn.execute(f"RELEASE SAVEPOINT {name}")
            raise
        else:
            conn.execute(f"RELEASE SAVEPOINT {name}")
        return
    for attempt in range(20):
        try:
            conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            break
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == 19:
                raise
            time.sleep(0.01 * (attempt + 1))
    try:
        yield db
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def pending_migrations(db: sqlite_utils.Database) -> list[str]:
    return [m.name for m in MIGRATIONS.pending(db)]


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply pending migrations; returns the names applied."""
    before = pending_migrations(db)
    MIGRATIONS.apply(db)
    return before
