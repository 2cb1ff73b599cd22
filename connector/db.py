"""The ledger: connections, transactions, locks, health checks and migrations, on either engine.

SQLite (the default, ``DESKGUARD_DB_PATH``): one connection per thread (sqlite3 connections must
not be shared across threads), each with WAL mode, foreign keys and a busy timeout. Writers that
read-then-write use ``transaction(db)``, which takes the write lock up front (``BEGIN
IMMEDIATE``) so two workers can never both read the same "free" row and then both write it.

PostgreSQL (``DESKGUARD_DATABASE_URL``, connector/pg.py): the same statements over a psycopg
pool. ``transaction(db)`` keeps SQLite's guarantee by taking one ledger-wide advisory lock at
BEGIN, so code written for one writer at a time stays correct. The hot paths that are safe
without it say so with ``transaction(db, shared=True)`` and take only what they need: the queue
claims rows with ``FOR UPDATE SKIP LOCKED`` (``skip_locked``), caps lock their tenant and the
audit chain its own lock (``lock``). Lock order is always ledger → tenant → audit.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib as _hashlib
import os
import secrets as _secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, cast

import sqlite_utils

from connector import pg
from connector.errors import DeskguardError
from migrations import STEPS
from migrations.sql import is_postgres

# What a statement can raise on either engine (``except DatabaseErrors``).
DatabaseErrors: tuple[type[Exception], ...] = (sqlite3.Error, pg.psycopg.Error)
IntegrityErrors: tuple[type[Exception], ...] = (sqlite3.IntegrityError, pg.psycopg.IntegrityError)


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
    """Hands each thread its own handle on one ledger: a SQLite file or a PostgreSQL URL."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 5000, pool_size: int = 8):
        self.path = str(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.engine = "postgresql" if pg.is_postgres_url(self.path) else "sqlite"
        self._pool = (
            pg.PgPool(self.path, max_size=pool_size, timeout=max(1.0, busy_timeout_ms / 1000))
            if self.engine == "postgresql"
            else None
        )
        self._local = threading.local()
        self._all: list[tuple[threading.Thread, sqlite_utils.Database]] = []
        self._lock = threading.Lock()

    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's handle. On PostgreSQL it is a ``pg.PgDatabase``, which offers the part of
        ``sqlite_utils.Database`` the product uses (``execute``, ``conn.execute``/``executemany``/
        ``in_transaction``); the PostgreSQL test run holds every caller to that."""
        db = getattr(self._local, "db", None)
        if db is None and self._pool is not None:
            db = pg.PgDatabase(self._pool)
            self._local.db = db
            return cast(sqlite_utils.Database, db)
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
        if self._pool is not None:
            self._pool.close()
            self._local = threading.local()
            return
        me = threading.current_thread()
        with self._lock:
            for owner, db in self._all:
                if owner is me or not owner.is_alive():
                    with contextlib.suppress(sqlite3.Error):
                        db.close()
            self._all.clear()
        self._local = threading.local()


def engine(db: Any) -> str:
    """``"sqlite"`` or ``"postgresql"``: the engine behind a handle from ``Ledger.db``."""
    return "postgresql" if isinstance(db, pg.PgDatabase) else "sqlite"


def skip_locked(db: Any) -> str:
    """The clause a claiming subquery ends with: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (other
    claimers pass over a row one of them is taking), nothing on SQLite (its write lock already
    admits one claimer at a time). PostgreSQL: "The Locking Clause",
    https://www.postgresql.org/docs/15/sql-select.html#SQL-FOR-UPDATE-SHARE"""
    return " FOR UPDATE SKIP LOCKED" if engine(db) == "postgresql" else ""


def table_names(db: Any) -> set[str]:
    """The ledger's tables, on either engine."""
    if isinstance(db, pg.PgDatabase):
        rows = db.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        ).fetchall()
    else:
        rows = db.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {str(r[0]) for r in rows}


def table_columns(db: Any, table: str) -> dict[str, str]:
    """A table's columns and their declared types (upper case), in order, on either engine."""
    if isinstance(db, pg.PgDatabase):
        rows = db.execute(
            "SELECT column_name, upper(data_type) FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            (table,),
        ).fetchall()
        return {str(r[0]): str(r[1]) for r in rows}
    if not table.isidentifier():
        raise ValueError(f"not a table name: {table!r}")
    return {r[1]: (r[2] or "").upper() for r in db.conn.execute(f"PRAGMA table_info({table})")}


def for_update(db: Any) -> str:
    """The clause a read-then-write ``SELECT`` ends with: ``FOR UPDATE`` on PostgreSQL (the row
    stays locked until COMMIT, so no single-statement writer changes it in between), nothing on
    SQLite (its write lock already excludes every other writer)."""
    return " FOR UPDATE" if engine(db) == "postgresql" else ""


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for a named advisory lock."""
    digest = _hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


# The ledger-wide lock a default ``transaction`` takes on PostgreSQL (SQLite's BEGIN IMMEDIATE).
LEDGER_LOCK = lock_key("deskguard:ledger")


def lock(db: Any, name: str) -> None:
    """Hold the named lock until the current transaction ends (PostgreSQL advisory lock,
    ``pg_advisory_xact_lock``: "Advisory Locks",
    https://www.postgresql.org/docs/15/explicit-locking.html#ADVISORY-LOCKS). On SQLite a write
    transaction already excludes every other writer, so nothing more is taken."""
    if isinstance(db, pg.PgDatabase):
        db.lock(lock_key(name))


@contextlib.contextmanager
def transaction(
    db: sqlite_utils.Database, *, immediate: bool = True, shared: bool = False
) -> Iterator[sqlite_utils.Database]:
    """A write transaction; nested calls become savepoints.

    SQLite can still report SQLITE_BUSY on BEGIN IMMEDIATE when the busy timeout runs out under
    heavy contention; we retry the BEGIN a few times before giving up.

    On PostgreSQL the outermost ``transaction`` takes the ledger-wide lock (as BEGIN IMMEDIATE
    does on SQLite) unless ``shared=True`` (the body is safe beside other writers: single atomic
    statements, row locks, or its own ``lock``) or ``immediate=False`` (a read). Only the
    outermost call decides: a nested ``transaction`` is a savepoint and takes no lock, so a
    shared transaction may only call code that is itself safe beside other writers.
    """
    if isinstance(db, pg.PgDatabase):
        outermost = db.pinned is None
        with db.transaction():
            if outermost and immediate and not shared:
                db.lock(LEDGER_LOCK)
            yield db
        return
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
    sorting), or the error reading the file at all. None when the ledger is sound.

    On PostgreSQL the server owns page integrity (checksums, WAL); what is checked is that the
    ledger answers at all."""
    if isinstance(db, pg.PgDatabase):
        try:
            db.execute("SELECT 1").fetchone()
        except (pg.psycopg.Error, DeskguardError) as exc:
            return f"{type(exc).__name__}: {exc}"
        return None
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


def pg_write_problem(db: pg.PgDatabase) -> str | None:
    """Can the PostgreSQL ledger be written now? A standby in recovery or a read-only default
    (``default_transaction_read_only``) cannot. None when writable."""
    try:
        row = db.execute(
            "SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only')"
        ).fetchone()
    except (pg.psycopg.Error, DeskguardError) as exc:
        return f"{type(exc).__name__}: {exc}"
    if row[0]:
        return "the server is a standby in recovery (read-only)"
    if row[1] == "on":
        return "default_transaction_read_only is on"
    return None


def check_ledger(db: sqlite_utils.Database, path: str | Path) -> None:
    """Raise ``LedgerUnhealthy`` naming the problem when the ledger is corrupted or read-only."""
    if isinstance(db, pg.PgDatabase):
        problem = integrity_problem(db) or pg_write_problem(db)
        if problem:
            raise LedgerUnhealthy(f"the PostgreSQL ledger cannot be used ({problem})")
        return
    problem = integrity_problem(db)
    if problem:
        raise LedgerUnhealthy(
            f"the ledger {path} is corrupted ({problem}); restore it from a backup"
        )
    problem = write_problem(path)
    if problem:
        raise LedgerUnhealthy(f"the ledger {path} cannot be written ({problem})")


def pending_migrations(db: sqlite_utils.Database) -> list[str]:
    return MIGRATIONS.pending(db)


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply pending migrations; returns the names applied. A corrupted ledger is refused first
    (``LedgerUnhealthy``): every command that prepares the ledger says so instead of going on."""
    if engine(db) == "sqlite":  # a server that cannot be reached says so itself (connector/pg.py)
        problem = integrity_problem(db)
        if problem:
            raise LedgerUnhealthy(f"the ledger is corrupted ({problem}); restore it from a backup")
    return MIGRATIONS.apply(db)


# --- migrations -----------------------------------------------------------------------------
HISTORY_TABLE = "_sqlite_migrations"


class Migrations:
    """Apply ``steps`` in order; remember each by name in ``_sqlite_migrations``."""

    def __init__(self, name: str, steps: Iterable[Callable[[Any], None]]):
        self.name = name
        self.steps = tuple(steps)
        names = [s.__name__ for s in self.steps]
        if len(set(names)) != len(names):
            raise ValueError("two migration steps share a name")

    @property
    def names(self) -> list[str]:
        return [s.__name__ for s in self.steps]

    def applied(self, db: Any) -> list[str]:
        if not _history_exists(db):
            return []
        return [
            r[0]
            for r in db.conn.execute(
                f"SELECT name FROM {HISTORY_TABLE} WHERE migration_set = ? ORDER BY id",
                (self.name,),
            ).fetchall()
        ]

    def pending(self, db: Any) -> list[str]:
        done = set(self.applied(db))
        return [n for n in self.names if n not in done]

    def apply(self, db: Any, *, stop_before: str | None = None) -> list[str]:
        """Apply the pending steps (up to, not including, ``stop_before``); their names."""
        if stop_before is not None and stop_before in self.applied(db):
            raise ValueError(f"cannot stop before {stop_before}: it is already applied")
        with transaction(db):
            _ensure_history(db)
        done: list[str] = []
        for step in self.steps:
            name = step.__name__
            if name == stop_before:
                break
            with transaction(db):
                # Re-read inside the lock: another process may have applied it meanwhile.
                if name in self.applied(db):
                    continue
                step(db)
                db.conn.execute(
                    f"INSERT INTO {HISTORY_TABLE} (migration_set, name, applied_at)"
                    " VALUES (?, ?, ?)",
                    (self.name, name, str(datetime.datetime.now(datetime.UTC))),
                )
            done.append(name)
        return done


def _history_exists(db: Any) -> bool:
    if is_postgres(db):
        row = db.conn.execute("SELECT to_regclass(?)", (HISTORY_TABLE,)).fetchone()
        return row[0] is not None
    row = db.conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (HISTORY_TABLE,)
    ).fetchone()
    return row is not None


def _ensure_history(db: Any) -> None:
    key = (
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
        if is_postgres(db)
        else ("INTEGER PRIMARY KEY")
    )
    db.conn.execute(
        f"CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} (id {key}, migration_set TEXT,"
        " name TEXT, applied_at TEXT)"
    )
    db.conn.execute(
        f"CREATE UNIQUE INDEX IF NOT EXISTS idx_{HISTORY_TABLE}_migration_set_name"
        f" ON {HISTORY_TABLE} (migration_set, name)"
    )


MIGRATIONS = Migrations("deskguard", STEPS)  # the ledger's one history (migrations/__init__.py)
