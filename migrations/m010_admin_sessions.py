"""Admin sign-in sessions kept server-side, so logging out revokes the cookie."""

from migrations.sql import execute_statements


def m010_admin_sessions(db):
    execute_statements(
        db,
        """
        -- One row per /admin sign-in (connector/dashboard/web.py). The cookie is signed and
        -- carries a random per-session value; only its SHA-256 is kept here. A cookie whose row
        -- is revoked or gone no longer signs anyone in, so a copied cookie dies at logout.
        -- The admin token is no tenant's: tenant_id is the admin scope '*'.
        CREATE TABLE admin_sessions (
            id INTEGER PRIMARY KEY,
            tenant_id TEXT NOT NULL DEFAULT '*',
            session_sha256 TEXT NOT NULL UNIQUE,
            client_ip TEXT NOT NULL,
            created_at REAL NOT NULL,         -- unix seconds
            expires_at REAL NOT NULL,
            revoked_at REAL
        );
        CREATE INDEX admin_sessions_expiry ON admin_sessions (tenant_id, expires_at);
        """,
    )
