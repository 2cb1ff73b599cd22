"""The ledger's schema, as one named ``sqlite_utils.Migrations`` set.

Each module registers its steps on ``MIGRATIONS`` in order; the import order below is the
application order. Never edit a step that has shipped; add a new one. Every table carries a
``tenant_id`` (the tenants table's own ``id`` is the tenant id).
"""

from sqlite_utils import Migrations

MIGRATIONS = Migrations("deskguard")


def execute_statements(db, script: str) -> None:
    """Run a multi-statement script inside the migration's transaction.

    ``executescript`` would COMMIT first (sqlite3 does that), breaking the atomicity that
    ``Migrations.apply`` gives each step, so statements are split with
    ``sqlite3.complete_statement`` (which understands trigger bodies) and run one by one.
    """
    import sqlite3

    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                db.conn.execute(buffer)
            buffer = ""
    if buffer.strip():
        raise ValueError("incomplete SQL statement at end of migration script")


# Registration order is application order. One module per area; numbers are fixed.
from migrations import (  # noqa: E402,F401
    m001_foundation,
    m002_zendesk,
    m003_classify,
    m004_decisions,
    m005_commerce,
    m006_app,
)
