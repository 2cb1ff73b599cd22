"""Foundation schema: tenants, tenant settings, queue, audit log, rate ledger, secrets,
actions (vendor writes with idempotency keys), decisions and agent feedback."""

from migrations.sql import execute_statements


def m001_foundation(db):
    execute_statements(
        db,
        """
        CREATE TABLE tenants (
            id TEXT PRIMARY KEY,              -- one per Zendesk account
            name TEXT NOT NULL DEFAULT '',
            zendesk_subdomain TEXT NOT NULL DEFAULT '',
            zendesk_url TEXT NOT NULL DEFAULT '',
            zendesk_email TEXT NOT NULL DEFAULT '',
            shopify_shop TEXT NOT NULL DEFAULT '',
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        -- Runtime overrides an admin flips: kill switch, modes, thresholds (JSON values).
        CREATE TABLE tenant_settings (
            tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            value TEXT NOT NULL,              -- JSON
            updated_at TEXT NOT NULL,
            updated_by TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (tenant_id, name)
        );

        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            tenant_id TEXT NOT NULL REFERENCES tenants(id),
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,            -- JSON
            dedupe_key TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'running', 'done', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0,
            max_attempts INTEGER NOT NULL,
            run_at REAL NOT NULL,             -- unix seconds; not before
            lease_owner TEXT,
            lease_expires_at REAL,
            last_error TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            finished_at REAL,
            UNIQUE (tenant_id, dedupe_key)
        );
        CREATE INDEX jobs_ready ON jobs (state, run_at);
        CREATE INDEX jobs_lease ON jobs (state, lease_expires_at);

        -- Append-only, hash-chained. `data` may only ever be replaced by a redaction tombstone
        -- (privacy erasure); the chain hashes `data_digest`, so verification still passes.
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            tenant_id TEXT NOT NULL,
            ts TEXT NOT NULL,
            kind TEXT NOT NULL,
            ticket_id INTEGER,
            job_id INTEGER,
            data TEXT NOT NULL,               -- canonical JSON of the event
            data_digest TEXT NOT NULL,        -- sha256 hex of `data` as first written
            redacted INTEGER NOT NULL DEFAULT 0,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE INDEX audit_tenant_ticket ON audit_log (tenant_id, ticket_id);
        CREATE INDEX audit_tenant_ts ON audit_log (tenant_id, ts);
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN
            SELECT RAISE(ABORT, 'audit_log is append-only');
        END;
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        WHEN NOT (
            OLD.redacted = 0 AND NEW.redacted = 1
            AND NEW.id = OLD.id AND NEW.tenant_id = OLD.tenant_id AND NEW.ts = OLD.ts
            AND NEW.kind = OLD.kind AND NEW.ticket_id IS OLD.ticket_id AND NEW.job_id IS OLD.job_id
            AND NEW.data_digest = OLD.data_digest AND NEW.prev_hash = OLD.prev_hash
            AND NEW.hash = OLD.hash AND json_extract(NEW.data, '$.redacted') = 1
        )
        BEGIN
            SELECT RAISE(ABORT, 'audit_log is append-only');
        END;

        -- One row per automated public reply/solve, for hourly/daily caps.
        CREATE TABLE rate_ledger (
            id INTEGER PRIMARY KEY,
            tenant_id TEXT NOT NULL REFERENCES tenants(id),
            bucket TEXT NOT NULL,             -- e.g. 'auto_reply'
            ts REAL NOT NULL,
            ticket_id INTEGER,
            key TEXT NOT NULL,
            UNIQUE (tenant_id, bucket, key)
        );
        CREATE INDEX rate_ledger_window ON rate_ledger (tenant_id, bucket, ts);

        CREATE TABLE secrets (
            tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            ciphertext TEXT NOT NULL,         -- MultiFernet token
            updated_at TEXT NOT NULL,
            PRIMARY KEY (tenant_id, name)
        );

        -- Every write to a vendor, recorded before it is sent (see connector/actions.py).
        CREATE TABLE actions (
            id INTEGER PRIMARY KEY,
            tenant_id TEXT NOT NULL REFERENCES tenants(id),
            idempotency_key TEXT NOT NULL,
            vendor TEXT NOT NULL,             -- zendesk | shopify | stripe
            kind TEXT NOT NULL,               -- e.g. zendesk.internal_note
            ticket_id INTEGER,
            params TEXT NOT NULL,             -- JSON
            state TEXT NOT NULL
                CHECK (state IN ('pending', 'sending', 'done', 'failed', 'blocked')),
            attempts INTEGER NOT NULL DEFAULT 0,
            result TEXT,                      -- JSON
            error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (tenant_id, idempotency_key)
        );
        CREATE INDEX actions_ticket ON actions (tenant_id, ticket_id);

        -- One row per processed ticket event: what we read, what the policy decided, what we did.
        CREATE TABLE decisions (
            id INTEGER PRIMARY KEY,
            tenant_id TEXT NOT NULL REFERENCES tenants(id),
            ticket_id INTEGER NOT NULL,
            job_id INTEGER,
            created_at TEXT NOT NULL,
            category TEXT,
            confidence REAL,
            mode TEXT,                        -- off | shadow | assist | auto
            -- e.g. auto_reply, assist_note, escalate, shadow, skip
            outcome TEXT NOT NULL,
            rule TEXT,                        -- the policy rule that decided
            reason TEXT,
            reading TEXT,                     -- JSON (domain.Reading)
            policy_trace TEXT,                -- JSON list of {rule, verdict, detail}
            context TEXT,                     -- JSON (orders, payments) as shown to agents
            brief TEXT,                       -- the internal note text
            suggested_reply TEXT,
            engine TEXT,
            model TEXT,
            cost_usd REAL NOT NULL DEFAULT 0,
            latency_ms REAL,
            status TEXT NOT NULL DEFAULT 'done'  -- done | failed | deferred
        );
        CREATE INDEX decisions_ticket ON decisions (tenant_id, ticket_id, id);
        CREATE INDEX decisions_created ON decisions (tenant_id, created_at);

        -- Agent feedback: the learning signal for the go-live gate and `train`.
        CREATE TABLE feedback (
            id INTEGER PRIMARY KEY,
            tenant_id TEXT NOT NULL REFERENCES tenants(id),
            ticket_id INTEGER NOT NULL,
            decision_id INTEGER REFERENCES decisions(id),
            agent_id TEXT NOT NULL DEFAULT '',
            verdict TEXT NOT NULL CHECK (verdict IN ('right', 'wrong')),
            correct_category TEXT,
            source TEXT NOT NULL DEFAULT 'panel',   -- panel | tag
            created_at TEXT NOT NULL
        );
        CREATE INDEX feedback_ticket ON feedback (tenant_id, ticket_id);
        """,
        postgres=POSTGRES,
    )


# PostgreSQL: the functions the shared SQL calls that PostgreSQL lacks, and the audit log's
# append-only rule (the same rule as the SQLite triggers above, in PL/pgSQL).
POSTGRES = """
CREATE FUNCTION json_extract(doc TEXT, path TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN path = '$' THEN doc
    ELSE (doc::jsonb) #>> string_to_array(substr(path, 3), '.') END
$$
;;
CREATE FUNCTION json_each(doc TEXT) RETURNS TABLE (key TEXT, value TEXT)
LANGUAGE sql IMMUTABLE AS $$
    SELECT (e.ordinality - 1)::TEXT, e.value
    FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(doc::jsonb) = 'array'
                                   THEN doc::jsonb ELSE '[]'::jsonb END) WITH ORDINALITY AS e
    UNION ALL
    SELECT o.key, o.value
    FROM jsonb_each_text(CASE WHEN jsonb_typeof(doc::jsonb) = 'object'
                         THEN doc::jsonb ELSE '{}'::jsonb END) AS o
$$
;;
CREATE FUNCTION julianday(day TEXT) RETURNS DOUBLE PRECISION LANGUAGE sql STABLE AS $$
    SELECT extract(epoch FROM (day::timestamp AT TIME ZONE 'UTC')) / 86400.0 + 2440587.5
$$
;;
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.redacted = 0 AND NEW.redacted = 1
        AND NEW.id = OLD.id AND NEW.tenant_id = OLD.tenant_id AND NEW.ts = OLD.ts
        AND NEW.kind = OLD.kind
        AND NEW.ticket_id IS NOT DISTINCT FROM OLD.ticket_id
        AND NEW.job_id IS NOT DISTINCT FROM OLD.job_id
        AND NEW.data_digest = OLD.data_digest AND NEW.prev_hash = OLD.prev_hash
        AND NEW.hash = OLD.hash AND (NEW.data::jsonb ->> 'redacted') = '1'
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'integrity_constraint_violation';
END
$$
;;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
;;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
"""


def m001_action_leases(db):
    # One sender at a time per idempotency key: two jobs for the same ticket version (a webhook and
    # the poller, say) must not both reach the vendor while the first send is in flight.
    execute_statements(
        db,
        """
        ALTER TABLE actions ADD COLUMN lease_owner TEXT;
        ALTER TABLE actions ADD COLUMN lease_expires_at REAL;
        """,
    )
