"""Online backups of the ledger, and a careful restore (SQLite file or PostgreSQL).

``backup`` copies the ledger with SQLite's online backup API (``sqlite3.Connection.backup``), which
takes a consistent snapshot while web and worker processes keep writing; the copy is written to a
temporary name, checked (``PRAGMA integrity_check`` and the row counts of the main tables), and only
then renamed into place, so a file named ``deskguard-*.db`` in the backup folder is always a
verified, complete ledger. The oldest backups beyond ``keep`` are deleted afterwards.

``restore`` refuses to overwrite a ledger that looks live (a process holds the scheduler lease, or
it was written in the last ``idle_seconds``) unless forced, checks the backup first, keeps the
ledger it replaces beside it (``<db>.pre-restore-<time>``) and swaps the file in with one rename.

On PostgreSQL (``backup_postgres`` / ``restore_postgres``) the copy is ``pg_dump``'s custom format
of the ledger's schema: one consistent snapshot while the other processes keep writing ("pg_dump
makes consistent backups even if the database is being used concurrently",
https://www.postgresql.org/docs/15/app-pgdump.html). It is written to a temporary name, read
back with ``pg_restore`` (the row counts of the main tables, counted in the file itself) and only
then renamed to ``deskguard-<time>.dump``. A restore refuses while the scheduler lease is held or
other Deskguard sessions are connected to the ledger, renames the schema it replaces to
``<schema>_pre_restore_<time>`` (kept, like the SQLite file) and restores into a new one.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from connector import leases, pg
from connector.db import Ledger, transaction
from connector.errors import ConfigError
from connector.settings import mask_url_credentials

PREFIX = "deskguard-"
SUFFIX = ".db"
PG_SUFFIX = ".dump"
# Tables whose row counts are compared between the ledger and its copy; a table a given ledger
# does not have yet (an older schema) is skipped.
COUNTED = ("jobs", "decisions", "audit_log", "actions", "secrets", "tenants")


@dataclass(frozen=True)
class BackupResult:
    path: str
    bytes: int
    seconds: float
    rows: dict[str, int]
    deleted: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "rows": self.rows,
            "deleted": list(self.deleted),
        }


def _row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {
        t: int(conn.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0])
        for t in COUNTED
        if t in names
    }


def check_ledger_file(path: str | Path) -> dict[str, int]:
    """Open ``path`` read-only, run the integrity check, return its row counts.

    Raises ConfigError naming the file when it is missing, not a database or damaged.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p} does not exist")
    try:
        conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchall()
            if result != [("ok",)]:
                problems = "; ".join(str(r[0]) for r in result[:3])
                raise ConfigError(f"{p} failed the integrity check: {problems}")
            return _row_counts(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"{p} is not a readable SQLite ledger: {exc}") from None


def backup(
    db_path: str | Path,
    dest_dir: str | Path,
    *,
    keep: int,
    now: datetime | None = None,
    pages_per_step: int = 1024,
) -> BackupResult:
    """Copy the live ledger into ``dest_dir``, verify the copy, and rotate old copies."""
    source = Path(db_path)
    if not source.is_file():
        raise ConfigError(f"the ledger {source} does not exist (DESKGUARD_DB_PATH)")
    if keep < 1:
        raise ConfigError("keep must be at least 1")
    folder = Path(dest_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    final = folder / f"{PREFIX}{stamp}{SUFFIX}"
    partial = folder / f".{final.name}.partial"
    started = time.perf_counter()
    src = sqlite3.connect(str(source), timeout=30)
    try:
        dst = sqlite3.connect(str(partial))
        try:
            # Steps of N pages let writers in between; the copy is still one consistent snapshot
            # (SQLite restarts the copy if the source changes through another connection).
            src.backup(dst, pages=pages_per_step)
            source_rows = _row_counts(dst)
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            dst.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    try:
        rows = check_ledger_file(partial)
    except ConfigError:
        partial.unlink(missing_ok=True)
        raise
    if rows != source_rows:  # pragma: no cover - would mean the file changed after writing
        partial.unlink(missing_ok=True)
        raise ConfigError(f"backup {final} does not read back the rows written: {rows}")
    return _keep(partial, final, keep=keep, rows=rows, started=started)


def _keep(
    partial: Path, final: Path, *, keep: int, rows: dict[str, int], started: float
) -> BackupResult:
    """A verified copy: flush it to disk, give it its final name, rotate the older ones."""
    with open(partial, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(partial, final)
    deleted = rotate(final.parent, keep=keep)
    return BackupResult(
        path=str(final),
        bytes=final.stat().st_size,
        seconds=time.perf_counter() - started,
        rows=rows,
        deleted=tuple(str(p) for p in deleted),
    )


def list_backups(dest_dir: str | Path) -> list[Path]:
    """Completed backups in ``dest_dir``, oldest first (their names sort by time)."""
    folder = Path(dest_dir)
    if not folder.is_dir():
        return []
    found = [*folder.glob(f"{PREFIX}*{SUFFIX}"), *folder.glob(f"{PREFIX}*{PG_SUFFIX}")]
    return sorted((p for p in found if p.is_file()), key=lambda p: p.name)


def rotate(dest_dir: str | Path, *, keep: int) -> list[Path]:
    backups = list_backups(dest_dir)
    doomed = backups[:-keep] if len(backups) > keep else []
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def _scheduler_lease(db_path: Path, now: float) -> leases.Lease | None:
    """The scheduler's leader lease in the ledger while it is held and unexpired, else None (also
    for a ledger too old to have the table, or one too damaged to read: restoring it is fine)."""
    conn = sqlite3.connect(str(db_path), timeout=1.0)
    try:
        return leases.holder(sqlite_utils.Database(conn), "scheduler", now)
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def live_reason(db_path: str | Path, *, idle_seconds: float) -> str | None:
    """Why the ledger at ``db_path`` looks in use, or None."""
    target = Path(db_path)
    if not target.exists():
        return None
    # The times first: reading the lease below may touch the -wal file.
    newest = max(p.stat().st_mtime for p in (target, Path(f"{target}-wal")) if p.exists())
    now = time.time()
    lease = _scheduler_lease(target, now)
    if lease is not None:
        return (
            f"a worker or scheduler holds its scheduler lease ({lease.owner}, until "
            f"{datetime.fromtimestamp(lease.expires_at, UTC).isoformat(timespec='seconds')})"
        )
    age = now - newest
    if age < idle_seconds:
        return f"it was written {age:.0f} s ago (less than {idle_seconds:.0f} s)"
    return None


def restore(
    backup_path: str | Path,
    db_path: str | Path,
    *,
    force: bool = False,
    idle_seconds: float = 60.0,
) -> dict[str, object]:
    """Replace the ledger with a verified backup; the old ledger is kept beside it."""
    source = Path(backup_path)
    rows = check_ledger_file(source)
    target = Path(db_path)
    reason = live_reason(target, idle_seconds=idle_seconds)
    if reason and not force:
        raise ConfigError(
            f"refusing to overwrite {target}: {reason}. Stop the web and worker processes "
            "first, or pass --force"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(f".{target.name}.restoring")
    kept: Path | None = None
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(str(staged))
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
    finally:
        src.close()
    if target.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        kept = target.with_name(f"{target.name}.pre-restore-{stamp}")
        # A checkpoint folds the WAL into the file, so the kept copy is complete on its own.
        with contextlib.closing(sqlite3.connect(str(target))) as old:
            old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        os.replace(target, kept)
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(staged, target)
    return {"restored": str(target), "from": str(source), "rows": rows, "kept": str(kept or "")}


# --- PostgreSQL ---------------------------------------------------------------------------------
def pg_tool(name: str) -> str:
    """A PostgreSQL client program (pg_dump, pg_restore): on PATH, or Debian's versioned folder
    (the newest), which the ``postgresql-client`` package installs."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if versions:
        return versions[-1]
    raise ConfigError(f"{name} is not installed: install the PostgreSQL client (postgresql-client)")


def _run(args: list[str]) -> str:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise ConfigError(
            f"{Path(args[0]).name} failed: {detail[-1] if detail else done.returncode}"
        )
    return done.stdout


def _schema(url: str) -> str:
    ledger = Ledger(url, pool_size=1)
    try:
        return str(ledger.db.execute("SELECT current_schema()").fetchone()[0])
    finally:
        ledger.close()


def dump_row_counts(path: str | Path) -> dict[str, int]:
    """Read a ``pg_dump`` file back: the rows of each main table, counted in the file itself.
    Raises ConfigError naming the file when pg_restore cannot read it."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p} does not exist")
    listing = _run([pg_tool("pg_restore"), "--list", str(p)])
    tables = {
        line.split()[-2]
        for line in listing.splitlines()
        if " TABLE DATA " in line and not line.startswith(";")
    }
    counts: dict[str, int] = {}
    for table in COUNTED:
        if table not in tables:
            continue
        data = _run([pg_tool("pg_restore"), "--data-only", f"--table={table}", "-f", "-", str(p)])
        inside, n = False, 0
        for line in data.splitlines():
            if line.startswith("COPY "):
                inside = True
            elif inside and line == "\\.":
                inside = False
            elif inside:
                n += 1
        counts[table] = n
    if "tenants" not in counts:
        raise ConfigError(f"{p} holds no Deskguard ledger (no tenants table)")
    return counts


def backup_postgres(
    url: str, dest_dir: str | Path, *, keep: int, now: datetime | None = None
) -> BackupResult:
    """``pg_dump`` the ledger's schema into ``dest_dir``, read it back, rotate old copies."""
    if keep < 1:
        raise ConfigError("keep must be at least 1")
    schema = _schema(url)
    folder = Path(dest_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    final = folder / f"{PREFIX}{stamp}{PG_SUFFIX}"
    partial = folder / f".{final.name}.partial"
    started = time.perf_counter()
    try:
        _run(
            [
                pg_tool("pg_dump"),
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--schema={schema}",
                f"--file={partial}",
                f"--dbname={url}",
            ]
        )
        rows = dump_row_counts(partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return _keep(partial, final, keep=keep, rows=rows, started=started)


def pg_live_reason(url: str) -> str | None:
    """Why the PostgreSQL ledger looks in use (the scheduler lease, other sessions), or None."""
    ledger = Ledger(url, pool_size=1)
    try:
        db = ledger.db
        try:
            lease = leases.holder(db, "scheduler", time.time())
        except Exception:
            lease = None
        if lease is not None:
            return (
                f"a worker or scheduler holds its scheduler lease ({lease.owner}, until "
                f"{datetime.fromtimestamp(lease.expires_at, UTC).isoformat(timespec='seconds')})"
            )
        # Deskguard's own connections name the ledger's schema (connector/pg.py: APPLICATION).
        others = db.execute(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND application_name = ? || current_schema()",
            (f"{pg.APPLICATION}:",),
        ).fetchone()[0]
        if others:
            return f"{others} other Deskguard session(s) are connected to this ledger"
        return None
    finally:
        ledger.close()


def restore_postgres(
    backup_path: str | Path, url: str, *, force: bool = False
) -> dict[str, object]:
    """Replace the ledger's schema with a verified ``pg_dump`` backup; the old schema is kept
    (renamed ``<schema>_pre_restore_<time>``)."""
    source = Path(backup_path)
    rows = dump_row_counts(source)
    reason = pg_live_reason(url)
    if reason and not force:
        raise ConfigError(
            f"refusing to overwrite the PostgreSQL ledger: {reason}. Stop the web and worker "
            "processes first, or pass --force"
        )
    listing = _run([pg_tool("pg_restore"), "--list", str(source)])
    dumped = {
        line.split()[-2]
        for line in listing.splitlines()
        if " SCHEMA - " in line and not line.startswith(";")
    }
    schema = _schema(url)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kept = f"{schema}_pre_restore_{stamp}".lower()
    ledger = Ledger(url, pool_size=1)
    try:
        db = ledger.db
        with transaction(db):
            db.execute(f'ALTER SCHEMA "{schema}" RENAME TO "{kept}"')
            if schema not in dumped:  # public is not in a dump as CREATE SCHEMA
                db.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        ledger.close()
    try:
        _run(
            [
                pg_tool("pg_restore"),
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                f"--dbname={url}",
                str(source),
            ]
        )
    except ConfigError:
        ledger = Ledger(url, pool_size=1)
        try:
            db = ledger.db
            with transaction(db):  # put the old ledger back as it was
                db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                db.execute(f'ALTER SCHEMA "{kept}" RENAME TO "{schema}"')
        finally:
            ledger.close()
        raise
    return {"restored": url_label(url), "from": str(source), "rows": rows, "kept": kept}


def url_label(url: str) -> str:
    """The URL without its password (for output and logs)."""
    return mask_url_credentials(url)
