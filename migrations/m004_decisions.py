"""Schema steps for decision engine. Steps are listed in order in migrations/__init__.py;
use ``execute_statements(db, sql)`` for multi-statement SQL (never ``executescript``)."""

from migrations.sql import execute_statements


def m004_decision_details(db):
    execute_statements(
        db,
        """
        -- Which ticket event a decision is about (latest person comment id, or updated_at).
        ALTER TABLE decisions ADD COLUMN version TEXT;
        -- sha256 of the lower-cased requester email: repeat-contact counting without storing the
        -- address.
        ALTER TABLE decisions ADD COLUMN requester_hash TEXT;
        ALTER TABLE decisions ADD COLUMN order_refs TEXT;          -- JSON list of order names
        ALTER TABLE decisions ADD COLUMN configured_mode TEXT;     -- category's mode before rollout
        ALTER TABLE decisions ADD COLUMN escalated INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE decisions ADD COLUMN priority TEXT;
        ALTER TABLE decisions ADD COLUMN tags TEXT;                -- JSON list written to Zendesk
        ALTER TABLE decisions ADD COLUMN would_automate INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE decisions ADD COLUMN fallback_gate TEXT;
        ALTER TABLE decisions ADD COLUMN action TEXT;              -- e.g. zendesk.internal_note
        ALTER TABLE decisions ADD COLUMN action_result TEXT;       -- JSON
        -- input_snapshot: JSON {subject, body}, the redacted input.
        ALTER TABLE decisions ADD COLUMN input_snapshot TEXT;
        ALTER TABLE decisions ADD COLUMN snapshot_digest TEXT;     -- sha256 of input_snapshot
        ALTER TABLE decisions ADD COLUMN input_tokens INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE decisions ADD COLUMN output_tokens INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE decisions ADD COLUMN stage_ms TEXT;            -- JSON {stage: ms}
        CREATE INDEX decisions_requester ON decisions (tenant_id, requester_hash, created_at);
        CREATE INDEX decisions_category ON decisions (tenant_id, category, id);
        -- One tag-derived feedback row per ticket (updated when the agent changes the tag).
        CREATE UNIQUE INDEX feedback_tag_once ON feedback (tenant_id, ticket_id)
            WHERE source = 'tag';
        """,
    )
