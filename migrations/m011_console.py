"""The admin console: sessions bound to a signed-in Zendesk person, and replays run from it."""

from migrations.sql import execute_statements


def m011_console(db):
    execute_statements(
        db,
        """
        -- Who a sign-in belongs to (connector/dashboard/sessions.py). Sessions opened with the
        -- shared admin token keep tenant_id '*' and no person; sessions from "Sign in with
        -- Zendesk" or the app's nav_bar launch name the tenant and the Zendesk user, whose role
        -- is checked again every DESKGUARD_ADMIN_ROLE_RECHECK_MINUTES (role_checked_at).
        ALTER TABLE admin_sessions ADD COLUMN via TEXT NOT NULL DEFAULT 'token';
        ALTER TABLE admin_sessions ADD COLUMN zendesk_user_id INTEGER;
        ALTER TABLE admin_sessions ADD COLUMN person_name TEXT NOT NULL DEFAULT '';
        ALTER TABLE admin_sessions ADD COLUMN person_email TEXT NOT NULL DEFAULT '';
        ALTER TABLE admin_sessions ADD COLUMN role_checked_at REAL;
        -- A nav_bar launch hands over to a new tab with a one-time ticket: its nonce, unique,
        -- so a ticket opens at most one session.
        ALTER TABLE admin_sessions ADD COLUMN launch_nonce TEXT;
        CREATE UNIQUE INDEX admin_sessions_launch_nonce ON admin_sessions (launch_nonce)
            WHERE launch_nonce IS NOT NULL;

        -- Replays started from the console (connector/console/replays.py): the request, then the
        -- per-category report the console.replay job writes when it finishes.
        CREATE TABLE console_replays (
            id INTEGER PRIMARY KEY,
            tenant_id TEXT NOT NULL REFERENCES tenants(id),
            days INTEGER NOT NULL,
            since TEXT NOT NULL,              -- ISO-8601, the start of the replayed window
            requested_by TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'running', 'done', 'failed')),
            job_id INTEGER,
            tickets_seen INTEGER NOT NULL DEFAULT 0,
            report TEXT,                      -- JSON (connector/pipeline/replay.py)
            error TEXT,
            created_at TEXT NOT NULL,
            finished_at TEXT
        );
        CREATE INDEX console_replays_tenant ON console_replays (tenant_id, id);
        """,
    )
