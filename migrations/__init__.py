"""The ledger's schema: one ordered list of steps, one history, for SQLite and PostgreSQL.

``STEPS`` below is the application order. Never edit a step that has shipped; add a new one at the
end. Each step's name is its function's name and is recorded in ``_sqlite_migrations`` when it is
applied (the table ``sqlite_utils.Migrations`` kept before our own runner replaced it: same
columns, same set name, so ledgers migrated by earlier releases carry on). Every table carries a
``tenant_id`` (the tenants table's own ``id`` is the tenant id).

The runner is ``connector.db.Migrations``. A step runs inside a transaction together with the
record of it, so a failed step leaves no trace and stays pending. Steps write their SQL once
(``migrations/sql.py`` adapts the column types for PostgreSQL); where the engines really differ
(trigger bodies) a step says so.
"""

from __future__ import annotations

from migrations import (
    m001_foundation,
    m002_zendesk,
    m004_decisions,
    m005_commerce,
    m006_app,
    m007_reliability,
    m007_webhooks,
    m008_connections,
    m009_zendesk_oauth,
    m010_admin_sessions,
    m011_console,
    m012_metrics,
    m013_approver_names,
    m014_leader_leases,
)

STEPS = (
    m001_foundation.m001_foundation,
    m001_foundation.m001_action_leases,
    m002_zendesk.m002_zendesk_intake,
    m002_zendesk.m002_zendesk_batches,
    # m003 never held a step (the module was an empty placeholder), so no ledger recorded one.
    m004_decisions.m004_decision_details,
    m005_commerce.m005_stripe_events,
    m005_commerce.m005_approvals,
    m005_commerce.m005_shopify_webhooks,
    m006_app.m006_app_tokens,
    m006_app.m006_admin_login_failures,
    m007_reliability.m007_job_holds,
    m007_webhooks.m007_shopify_webhook_binding,
    m008_connections.m008_shopify_installs,
    m009_zendesk_oauth.m009_zendesk_former_api_users,
    m010_admin_sessions.m010_admin_sessions,
    m011_console.m011_console,
    m012_metrics.m012_metrics_indexes,
    m013_approver_names.m013_approval_decider_names,
    m014_leader_leases.m014_leader_leases,
)
