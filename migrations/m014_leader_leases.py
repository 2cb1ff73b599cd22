"""Leader leases: the row that makes one process (on any machine) the scheduler."""

from migrations.sql import execute_statements


def m014_leader_leases(db):
    execute_statements(
        db,
        """
        -- One row per leader role (connector/leases.py; 'scheduler' is connector/scheduler.py's).
        -- The holder renews expires_at well before it passes; a holder that crashed stops
        -- renewing and anyone may take the row once expires_at is past. The roles are
        -- process-wide, no tenant's: tenant_id is the admin scope '*'.
        CREATE TABLE leader_leases (
            name TEXT PRIMARY KEY,
            tenant_id TEXT NOT NULL DEFAULT '*',
            owner TEXT NOT NULL,              -- "<hostname>:<pid>:<random>"
            acquired_at REAL,                 -- unix seconds, when this owner took it
            expires_at REAL NOT NULL          -- unix seconds
        );
        """,
    )
