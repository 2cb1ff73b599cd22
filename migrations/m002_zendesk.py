"""Schema steps for Zendesk intake. Steps are listed in order in migrations/__init__.py;
use ``execute_statements(db, sql)`` for multi-statement SQL (never ``executescript``)."""

from migrations.sql import execute_statements


def m002_zendesk_intake(db):
    execute_statements(
        db,
        """
        -- What `deskguard zendesk setup` created in the account, and who Deskguard writes as.
        CREATE TABLE zendesk_accounts (
            tenant_id TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
            api_user_id INTEGER,              -- author of Deskguard's own comments (loop safety)
            webhook_id TEXT,
            webhook_endpoint TEXT,
            trigger_id INTEGER,
            updated_at TEXT NOT NULL
        );

        -- Incremental cursor export position, per tenant; survives restarts.
        CREATE TABLE zendesk_poll_state (
            tenant_id TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
            cursor TEXT,                      -- after_cursor of the last page processed
            start_time INTEGER,               -- where the very first export started (unix seconds)
            -- JSON list of the unix times of export requests in the last 60 s
            recent_calls TEXT NOT NULL DEFAULT '[]',
            last_poll_at REAL,
            caught_up INTEGER NOT NULL DEFAULT 0,     -- last page said end_of_stream
            tickets_enqueued INTEGER NOT NULL DEFAULT 0,
            last_error TEXT
        );

        -- Signatures of accepted webhook deliveries, for replay protection within the tolerance.
        CREATE TABLE zendesk_webhook_seen (
            tenant_id TEXT NOT NULL,
            signature TEXT NOT NULL,
            seen_at REAL NOT NULL,
            PRIMARY KEY (tenant_id, signature)
        ) WITHOUT ROWID;
        CREATE INDEX zendesk_webhook_seen_at ON zendesk_webhook_seen (seen_at);

        -- Ticket versions Deskguard itself produced (the updated_at its writes returned): a job for
        -- exactly such a version is its own echo and is skipped without calling Zendesk.
        CREATE TABLE zendesk_own_updates (
            tenant_id TEXT NOT NULL,
            ticket_id INTEGER NOT NULL,
            updated_at TEXT NOT NULL,         -- normalised ISO-8601 UTC, second resolution
            created_at REAL NOT NULL,
            PRIMARY KEY (tenant_id, ticket_id, updated_at)
        ) WITHOUT ROWID;
        CREATE INDEX zendesk_own_updates_created ON zendesk_own_updates (created_at);
        """,
    )


def m002_zendesk_batches(db):
    execute_statements(
        db,
        """
        -- Ticket versions the poller put in a `zendesk.batch` job (a backlog read 100 per request).
        -- The primary key is the same dedupe key a `zendesk.ticket` job would have, so a webhook
        -- for a version already in a batch is a duplicate, and the batch skips versions already
        -- queued.
        CREATE TABLE zendesk_batch_tickets (
            tenant_id TEXT NOT NULL,
            dedupe_key TEXT NOT NULL,          -- zendesk.ticket:<ticket id>:<updated_at>
            batch_job_id INTEGER NOT NULL,
            ticket_id INTEGER NOT NULL,
            updated_at TEXT NOT NULL,          -- normalised ISO-8601 UTC, second resolution
            position INTEGER NOT NULL,         -- order within the batch (the export's order)
            done_at REAL,                      -- processed or handed off; a retried batch skips it
            outcome TEXT,                      -- pipeline outcome, own_echo, missing or handed_off
            handed_off_job_id INTEGER,         -- zendesk.ticket job that took over after an error
            PRIMARY KEY (tenant_id, dedupe_key)
        ) WITHOUT ROWID;
        CREATE INDEX zendesk_batch_tickets_job ON zendesk_batch_tickets (batch_job_id, position);
        """,
    )
