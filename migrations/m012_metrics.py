"""Indexes that let the figures (connector/pipeline/metrics.py) be read at every /metrics scrape
without reading the ledger's wide rows (`deskguard bench metrics`; docs/BENCHMARKS.md)."""

from migrations.sql import execute_statements


def m012_metrics_indexes(db):
    execute_statements(
        db,
        """
        -- Every column the grouped figures query reads, in its GROUP BY order, so it scans this
        -- index instead of the decisions table (whose rows carry the brief, reading, context).
        CREATE INDEX decisions_figures ON decisions (
            tenant_id, category, outcome, status, created_at, escalated, would_automate,
            cost_usd, input_tokens, output_tokens, latency_ms
        );
        -- Vendor writes by vendor and state; jobs by state; failed attempts in the audit log.
        CREATE INDEX actions_figures ON actions (tenant_id, vendor, state, created_at, attempts);
        CREATE INDEX jobs_tenant_state ON jobs (tenant_id, state, held_by, run_at);
        CREATE INDEX audit_tenant_kind ON audit_log (tenant_id, kind, ts);
        """,
    )
