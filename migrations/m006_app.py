"""Schema steps for the Zendesk app, side panel and admin dashboard.

Steps are listed in order in migrations/__init__.py; use ``execute_statements(db, sql)`` for
multi-statement SQL (never ``executescript``)."""

from migrations.sql import execute_statements


def m006_app_tokens(db):
    execute_statements(
        db,
        """
        -- Per-tenant bearer tokens for the Zendesk app (the `api_token` secure setting).
        -- Only a SHA-256 of the token is kept: tokens are 256-bit random, so a fast hash is
        -- enough (nothing to brute-force) and lookups stay one index probe.
        CREATE TABLE app_tokens (
            id INTEGER PRIMARY KEY,
            tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            token_sha256 TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL,             -- first characters, to tell tokens apart in listings
            label TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            last_used_at TEXT,
            revoked_at TEXT
        );
        CREATE INDEX app_tokens_tenant ON app_tokens (tenant_id);

        -- One panel verdict per agent per decision: a changed mind replaces the earlier one.
        CREATE UNIQUE INDEX feedback_panel_once
            ON feedback (tenant_id, decision_id, agent_id, source)
            WHERE decision_id IS NOT NULL;
        """,
    )


def m006_admin_login_failures(db):
    execute_statements(
        db,
        """
        -- Wrong admin tokens presented to /admin (login form or bearer), for the login rate
        -- limit (connector/panel/login_limit.py). In the ledger, so every gunicorn worker sees
        -- the same counts; rows older than the limit's window are deleted as new ones arrive.
        -- The admin token is not any one tenant's: tenant_id is the admin scope '*'.
        CREATE TABLE admin_login_failures (
            id INTEGER PRIMARY KEY,
            tenant_id TEXT NOT NULL DEFAULT '*',
            client_ip TEXT NOT NULL,
            ts REAL NOT NULL                  -- unix seconds
        );
        CREATE INDEX admin_login_failures_ip ON admin_login_failures (tenant_id, client_ip, ts);
        CREATE INDEX admin_login_failures_ts ON admin_login_failures (tenant_id, ts);
        """,
    )
