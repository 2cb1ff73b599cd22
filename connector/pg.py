"""The PostgreSQL ledger: the same statements as on SQLite, over a psycopg 3 connection pool.

The product's SQL is written once, in the dialect both engines accept (``ON CONFLICT``,
``RETURNING``, ``CASE``, ``COALESCE``; no ``INSERT OR …``, ``rowid`` or two-argument ``MAX``), with
``?`` placeholders. This module runs it on PostgreSQL:

- ``translate`` turns ``?`` into psycopg's ``%s`` (and doubles a literal ``%``), outside string
  literals; the result is cached per statement.
- ``PgDatabase`` offers what the product uses of ``sqlite_utils.Database``: ``execute`` and a
  ``conn`` with ``execute`` / ``executemany`` / ``in_transaction``. Outside a transaction each
  statement borrows a pooled connection in autocommit mode and gives it back at once; inside
  ``transaction`` (connector/db.py) the thread keeps one connection until COMMIT or ROLLBACK.
- Results are read in full before the connection goes back (``Result``), so a caller can iterate
  them afterwards.
- Values cross the border as SQLite would hand them: ``bool`` is stored as 0/1, ``numeric``
  (e.g. ``SUM`` of a ``BIGINT``) comes back as ``int`` or ``float``.

Functions the shared SQL calls that PostgreSQL lacks (``json_extract``, ``julianday``) are
created by the migrations (``migrations/pg_functions.py``).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import psycopg
import psycopg.adapt
import psycopg.errors
from psycopg import postgres
from psycopg.types.numeric import IntDumper
from psycopg_pool import ConnectionPool

from connector.errors import BadRequest, TransientError

SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(location: str) -> bool:
    return location.startswith(SCHEMES)


_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME_CHARS = _NAME_START | frozenset("0123456789")


@functools.lru_cache(maxsize=4096)
def translate(sql: str, named: bool = False) -> str:
    """``?`` → ``%s`` (or, for a mapping of parameters, ``:name`` → ``%(name)s``) and ``%`` →
    ``%%``, outside quoted text; ``--`` comments dropped."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in ("'", '"'):
            end = i + 1
            while end < n:
                if sql[end] == ch:
                    if end + 1 < n and sql[end + 1] == ch:  # doubled quote inside the literal
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i : end + 1].replace("%", "%%"))
            i = end + 1
        elif ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
        elif ch == "?" and not named:
            out.append("%s")
            i += 1
        elif (
            ch == ":"
            and named
            and i + 1 < n
            and sql[i + 1] in _NAME_START
            and (i == 0 or sql[i - 1] != ":")
        ):
            end = i + 1
            while end < n and sql[end] in _NAME_CHARS:
                end += 1
            out.append(f"%({sql[i + 1 : end]})s")
            i = end
        elif ch == "%":
            out.append("%%")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


class _BoolAsInt(IntDumper):
    """Store Python booleans as 0/1 in INTEGER columns, as SQLite does."""

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


class _NumericAsNumber(psycopg.adapt.Loader):
    """``numeric`` results (SUM of BIGINT, AVG) as int when whole, else float (SQLite's types)."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        if "." in text or "e" in text.lower() or text in ("NaN", "Infinity", "-Infinity"):
            return float(text)
        return int(text)


APPLICATION = "deskguard"


def _configurer(lock_timeout_ms: int) -> Any:
    def configure(conn: psycopg.Connection[Any]) -> None:
        conn.autocommit = True
        conn.adapters.register_dumper(bool, _BoolAsInt)
        conn.adapters.register_loader(postgres.types["numeric"].oid, _NumericAsNumber)
        # One round trip for both session settings:
        # - application_name is named after the ledger's schema, so a restore can tell which
        #   sessions use this ledger;
        # - a lock not granted in time (the ledger lock held by a stuck transaction, or wanted
        #   again by the thread that holds it) fails as a transient error instead of waiting
        #   forever: the same bound as SQLite's busy timeout. ("lock_timeout",
        #   https://www.postgresql.org/docs/15/runtime-config-client.html#GUC-LOCK-TIMEOUT)
        conn.execute(
            "SELECT set_config('application_name', %s || current_schema(), false),"
            " set_config('lock_timeout', %s, false)",
            (f"{APPLICATION}:", f"{lock_timeout_ms}ms"),
        )

    return configure


# Errors that say "try again": a deadlock PostgreSQL broke by aborting us, a serialisation
# failure, a connection lost or refused (the server restarting, a failover).
_TRANSIENT = (
    psycopg.errors.DeadlockDetected,
    psycopg.errors.SerializationFailure,
    psycopg.errors.LockNotAvailable,
    psycopg.OperationalError,
)


def _nul_refused(exc: psycopg.DataError) -> BadRequest | None:
    """PostgreSQL text cannot hold a NUL character (SQLite's can). A value with one can never
    match or be stored, so it is bad input (400), not a server error."""
    if "NUL (0x00)" in str(exc):
        return BadRequest("text with a NUL character (0x00) is not accepted", code="nul_in_text")
    return None


def _transient(exc: psycopg.Error) -> TransientError:
    return TransientError(f"ledger: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")


class Result:
    """A statement's rows, read in full (the connection may already be back in the pool)."""

    def __init__(self, cur: psycopg.Cursor[Any]):
        self.description = cur.description
        self.rowcount = cur.rowcount
        self.lastrowid = None  # PostgreSQL has none: use RETURNING id
        self._rows: list[Any] = list(cur.fetchall()) if cur.description else []
        self._next = 0

    def fetchone(self) -> Any:
        if self._next >= len(self._rows):
            return None
        row = self._rows[self._next]
        self._next += 1
        return row

    def fetchmany(self, size: int = 1) -> list[Any]:
        rows = self._rows[self._next : self._next + size]
        self._next += len(rows)
        return rows

    def fetchall(self) -> list[Any]:
        rows = self._rows[self._next :]
        self._next = len(self._rows)
        return rows

    def __iter__(self) -> Iterator[Any]:
        while (row := self.fetchone()) is not None:
            yield row

    def close(self) -> None:
        self._rows = []


class PgPool:
    """One pool per ledger URL and process (``Ledger`` owns it). Opened on first use; ``close``
    ends every connection, and a later use opens a new pool (a closed psycopg pool cannot be
    reopened)."""

    def __init__(self, url: str, *, max_size: int = 8, timeout: float = 30.0):
        """``timeout``: seconds to wait for a pooled connection, and for a lock."""
        self.url = url
        self.max_size = max(1, max_size)
        self.timeout = timeout
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()

    def open(self) -> ConnectionPool:
        pool = self._pool
        if pool is not None:
            return pool
        with self._lock:
            if self._pool is None:
                self._check_reachable()
                pool = ConnectionPool(
                    self.url,
                    min_size=1,
                    max_size=self.max_size,
                    timeout=self.timeout,
                    configure=_configurer(int(self.timeout * 1000)),
                    open=False,
                    name="deskguard-ledger",
                )
                try:
                    pool.open(wait=True, timeout=self.timeout)
                except psycopg.Error as exc:
                    pool.close()
                    raise _transient(exc) from exc
                except Exception as exc:  # PoolTimeout: the server never answered
                    pool.close()
                    raise TransientError(f"ledger: cannot connect: {exc}") from exc
                self._pool = pool
            return self._pool

    def _check_reachable(self) -> None:
        """One plain connection first, so an unreachable server or a refused login is one clear
        error (the pool would retry in the background and log each attempt)."""
        try:
            conn = psycopg.connect(self.url, connect_timeout=max(1, int(self.timeout)))
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise TransientError(
                f"the PostgreSQL ledger cannot be reached ({first}); check DESKGUARD_DATABASE_URL"
                " and that the server is up"
            ) from None
        conn.close()

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()


class PgConnection:
    """The part of ``sqlite3.Connection`` the product uses, for one thread's ``PgDatabase``."""

    def __init__(self, owner: PgDatabase):
        self._owner = owner

    @property
    def in_transaction(self) -> bool:
        return self._owner.pinned is not None

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Result:
        return self._owner.execute(sql, params)

    def executemany(
        self, sql: str, seq: Iterable[Sequence[Any]] | Iterable[Mapping[str, Any]]
    ) -> Result:
        return self._owner.executemany(sql, seq)

    def commit(self) -> None:
        """Nothing to do: outside ``transaction`` every statement commits on its own."""

    def close(self) -> None:
        self._owner.close()


class PgDatabase:
    """One thread's handle on the PostgreSQL ledger (see the module docstring)."""

    engine = "postgresql"

    def __init__(self, pool: PgPool):
        self._pool = pool
        self.pinned: psycopg.Connection[Any] | None = None
        self._tx: list[Any] = []
        self.conn = PgConnection(self)

    @property
    def location(self) -> str:
        return self._pool.url

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        if self.pinned is not None:
            yield self.pinned
            return
        with self._pool.open().connection() as conn:
            yield conn

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Result:
        try:
            with self._connection() as conn, conn.cursor() as cur:
                if isinstance(params, Mapping):
                    cur.execute(translate(sql, True), params)
                else:
                    cur.execute(translate(sql), tuple(params) if params is not None else ())
                return Result(cur)
        except _TRANSIENT as exc:
            raise _transient(exc) from exc
        except psycopg.DataError as exc:
            refused = _nul_refused(exc)
            if refused is None:
                raise
            raise refused from exc

    def executemany(
        self, sql: str, seq: Iterable[Sequence[Any]] | Iterable[Mapping[str, Any]]
    ) -> Result:
        rows: list[Any] = list(seq)
        named = bool(rows) and isinstance(rows[0], Mapping)
        params: list[Any] = rows if named else [tuple(p) for p in rows]
        try:
            with self._connection() as conn, conn.cursor() as cur:
                cur.executemany(translate(sql, named), params)
                return Result(cur)
        except _TRANSIENT as exc:
            raise _transient(exc) from exc

    @contextlib.contextmanager
    def transaction(self) -> Iterator[PgDatabase]:
        """BEGIN … COMMIT on one pinned connection; nested calls become savepoints."""
        if self.pinned is not None:
            with self.pinned.transaction():
                yield self
            return
        pool = self._pool.open()
        try:
            conn = pool.getconn()
        except Exception as exc:
            raise TransientError(f"ledger: no connection: {exc}") from exc
        self.pinned = conn
        try:
            with conn.transaction():
                yield self
        except _TRANSIENT as exc:
            raise _transient(exc) from exc
        finally:
            self.pinned = None
            pool.putconn(conn)

    def lock(self, key: int) -> None:
        """Take a transaction-scoped advisory lock (released at COMMIT/ROLLBACK)."""
        if self.pinned is None:
            raise RuntimeError("an advisory lock needs a transaction")
        self.execute("SELECT pg_advisory_xact_lock(?)", (key,))

    def close(self) -> None:
        """Nothing to close per thread: connections live in the pool."""
        self.pinned = None
