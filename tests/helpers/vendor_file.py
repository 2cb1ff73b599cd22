"""A naive "vendor" for the crash and scale-out worker processes: a SQLite file that appends one
row per call and does no deduplication of its own, so a double send shows up as two rows.
``applied`` answers the way a reconcile does (the Zendesk adapter looks for its marker in the
ticket's comments)."""

from __future__ import annotations

import os
import sqlite3


class VendorFile:
    def __init__(self, path: str, *, timeout: float = 30.0):
        self.path = path
        self.timeout = timeout

    def _conn(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        conn.execute("CREATE TABLE IF NOT EXISTS effects (key TEXT, item INTEGER, pid INTEGER)")
        return conn

    def apply(self, key: str, item: int) -> None:
        conn = self._conn()
        try:
            conn.execute(
                "INSERT INTO effects (key, item, pid) VALUES (?, ?, ?)", (key, item, os.getpid())
            )
        finally:
            conn.close()

    def applied(self, key: str) -> dict | None:
        conn = self._conn()
        try:
            found = conn.execute("SELECT 1 FROM effects WHERE key = ?", (key,)).fetchone()
        finally:
            conn.close()
        return {"applied": key} if found else None
