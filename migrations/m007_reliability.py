"""Schema steps for reliability: jobs held by the kill switch.

Steps are listed in order in migrations/__init__.py; use ``execute_statements(db, sql)`` for
multi-statement SQL (never ``executescript``)."""

from migrations.sql import execute_statements


def m007_job_holds(db):
    execute_statements(
        db,
        """
        -- A queued job held until a condition clears ('kill_switch': until the tenant's kill
        -- switch is off). A held job is never claimed by its run_at; it keeps its place in the
        -- run_at order, so held work resumes oldest first.
        ALTER TABLE jobs ADD COLUMN held_by TEXT;
        CREATE INDEX jobs_held ON jobs (tenant_id, held_by) WHERE held_by IS NOT NULL;
        """,
    )
