"""SQLite ledger: connections, transactions, migrations.

One connection per thread (sqlite3 connections must not be shared across threads). Every
connection gets WAL mode, foreign keys and a busy timeout. Writers that read-then-write use
``transaction(db)``, which takes the write lock up front (``BEGIN IMMEDIATE``) so two workers
can never both read the same "free" row and then both write it.
"""

from __future__ import annotations

import contextlib
import os
import secrets as _secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils

from connector.errors import DeskguardError
from migrations import MIGRATIONS


class LedgerUnhealthy(DeskguardError):
    """The ledger cannot be trusted or written: corrupted, not a database, read-only."""

    http_status = 503
    code = "ledger_unavailable"


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
            self._close_ended()
            db = connect(self.path, busy_timeout_ms=self.busy_timeout_ms)
            self._local.db = db
            with self._lock:
                self._all.append((threading.current_thread(), db))
        return db

    def _close_ended(self) -> None:
        """Close the connections of threads that have ended. A threaded web server starts a
        thread per request; without this each one would leave its connection (two file
        descriptors with WAL) open until ``close()``."""
        with self._lock:
            ended = [(t, db) for t, db in self._all if not t.is_alive()]
            self._all = [(t, db) for t, db in self._all if t.is_alive()]
        for _thread, db in ended:
            with contextlib.suppress(sqlite3.Error):
                db.close()

    def release(self) -> None:
        """Close this thread's connection now (a thread about to end)."""
        db = getattr(self._local, "db", None)
        if db is None:
            return
        with self._lock:
            self._all = [(t, d) for t, d in self._all if d is not db]
        self._local.db = None
        with contextlib.suppress(sqlite3.Error):
            db.close()

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._all)

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


def integrity_problem(db: sqlite_utils.Database) -> str | None:
    """SQLite's ``quick_check`` (the integrity check without index cross-checks: O(pages), no
    sorting), or the error reading the file at all. None when the ledger is sound."""
    try:
        rows = db.conn.execute("PRAGMA quick_check(3)").fetchall()
    except sqlite3.DatabaseError as exc:
        return f"{type(exc).__name__}: {exc}"
    found = [str(r[0]) for r in rows]
    return None if found == ["ok"] else "; ".join(found)[:500]


def write_problem(path: str | Path, *, busy_timeout_ms: int = 1000) -> str | None:
    """Can the ledger file be written right now? A fresh connection (an older one may hold a file
    handle from before a permission change) takes the write lock and changes the schema inside a
    transaction that is always rolled back. None when writable."""
    if str(path) == ":memory:":
        return None
    # The files themselves first: SQLite may reuse a descriptor this process opened before the
    # change, so only a fresh open(2) shows a file made read-only (chmod, chattr +i, ro mount).
    for name in (str(path), f"{path}-wal"):
        if name != str(path) and not os.path.exists(name):
            continue
        try:
            os.close(os.open(name, os.O_RDWR))
        except OSError as exc:
            return f"{name}: {exc.strerror or exc}"
    try:
        conn = sqlite3.connect(str(path), timeout=busy_timeout_ms / 1000, isolation_level=None)
    except sqlite3.Error as exc:
        return f"{type(exc).__name__}: {exc}"
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("CREATE TABLE _deskguard_write_probe (x)")
    except sqlite3.Error as exc:
        if getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return None  # another writer holds the lock: busy, but writable
        return f"{type(exc).__name__}: {exc}"
    finally:
        with contextlib.suppress(sqlite3.Error):
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        conn.close()
    return None


def check_ledger(db: sqlite_utils.Database, path: str | Path) -> None:
    """Raise ``LedgerUnhealthy`` naming the problem when the ledger is corrupted or read-only."""
    problem = integrity_problem(db)
    if problem:
        raise LedgerUnhealthy(
            f"the ledger {path} is corrupted ({problem}); restore it from a backup"
        )
    problem = write_problem(path)
    if problem:
        raise LedgerUnhealthy(f"the ledger {path} cannot be written ({problem})")


def pending_migrations(db: sqlite_utils.Database) -> list[str]:
    return [m.name for m in MIGRATIONS.pending(db)]


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply pending migrations; returns the names applied. A corrupted ledger is refused first
    (``LedgerUnhealthy``): every command that prepares the ledger says so instead of going on."""
    problem = integrity_problem(db)
    if problem:
        raise LedgerUnhealthy(f"the ledger is corrupted ({problem}); restore it from a backup")
    before = pending_migrations(db)
    MIGRATIONS.apply(db)
    return before
