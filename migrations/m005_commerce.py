"""Schema steps for Shopify and Stripe. Steps are listed in order in migrations/__init__.py;
use ``execute_statements(db, sql)`` for multi-statement SQL (never ``executescript``)."""

from migrations.sql import execute_statements


def m005_stripe_events(db):
    # Stripe redelivers events (retries for days, no ordering): one row per event id dedupes them.
    execute_statements(
        db,
        """
        CREATE TABLE stripe_events (
            tenant_id TEXT NOT NULL REFERENCES tenants(id),
            event_id TEXT NOT NULL,           -- evt_...
            type TEXT NOT NULL,               -- e.g. charge.dispute.created
            object_id TEXT NOT NULL DEFAULT '',
            created INTEGER,                  -- Stripe's unix time
            received_at TEXT NOT NULL,
            job_id INTEGER,                   -- the job it enqueued, if any
            PRIMARY KEY (tenant_id, event_id)
        );
        """,
    )


def m005_approvals(db):
    # Collaborative actions (refund, cancel_order) proposed by the policy, executed only after an
    # agent approves (connector/commerce/approvals.py).
    execute_statements(
        db,
        """
        CREATE TABLE approvals (
            id INTEGER PRIMARY KEY,
            tenant_id TEXT NOT NULL REFERENCES tenants(id),
            ticket_id INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('refund', 'cancel_order')),
            params TEXT NOT NULL,             -- JSON, validated per kind
            state TEXT NOT NULL DEFAULT 'proposed'
                CHECK (
                    state IN ('proposed', 'approved', 'executing', 'done', 'failed', 'rejected')
                ),
            proposed_by TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            decided_by TEXT,
            decision_note TEXT NOT NULL DEFAULT '',
            idempotency_key TEXT NOT NULL,    -- approval-<id>-<kind>: the vendor write's key
            attempts INTEGER NOT NULL DEFAULT 0,
            lease_until REAL,                 -- unix time: an execution in flight holds it
            deferred_reason TEXT,             -- e.g. kill_switch: approved, execution waits
            result TEXT,                      -- JSON of the vendor result
            error TEXT,
            created_at TEXT NOT NULL,
            decided_at TEXT,
            executed_at TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX approvals_ticket ON approvals (tenant_id, ticket_id, state);
        CREATE INDEX approvals_state ON approvals (tenant_id, state);
        """,
    )


def m005_shopify_webhooks(db):
    # Shopify delivers at least once: one row per X-Shopify-Webhook-Id dedupes redeliveries. The
    # event id is kept too (older docs dedupe on it). No payload is stored: privacy topics carry
    # personal data and are acted on in the same transaction that records the delivery.
    from migrations.sql import execute_statements

    execute_statements(
        db,
        """
        CREATE TABLE shopify_webhook_deliveries (
            tenant_id TEXT NOT NULL REFERENCES tenants(id),
            webhook_id TEXT NOT NULL,         -- X-Shopify-Webhook-Id
            event_id TEXT NOT NULL DEFAULT '',  -- X-Shopify-Event-Id
            topic TEXT NOT NULL,              -- e.g. customers/redact
            shop_domain TEXT NOT NULL,
            api_version TEXT NOT NULL DEFAULT '',
            triggered_at TEXT NOT NULL DEFAULT '',
            received_at TEXT NOT NULL,
            outcome TEXT NOT NULL DEFAULT '',  -- what Deskguard did, e.g. erased, exported, ignored
            PRIMARY KEY (tenant_id, webhook_id)
        );
        CREATE INDEX shopify_webhook_event ON shopify_webhook_deliveries (tenant_id, event_id);
        """,
    )
