"""Running a migration's SQL."""

from __future__ import annotations

import sqlite3
from typing import Any


def execute_statements(db: Any, script: str) -> None:
    """Run a multi-statement script inside the migration's transaction.

    ``executescript`` would COMMIT first (sqlite3 does that), breaking the atomicity that
    ``Migrations.apply`` gives each step, so statements are split with
    ``sqlite3.complete_statement`` (which understands trigger bodies) and run one by one.
    """
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                db.conn.execute(buffer)
            buffer = ""
    if buffer.strip():
        raise ValueError("incomplete SQL statement at end of migration script")
