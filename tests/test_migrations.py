"""The schema steps are one explicit ordered list; ledgers migrated by earlier releases keep
working."""

from __future__ import annotations

from connector.db import Ledger, migrate, pending_migrations
from migrations import MIGRATIONS, STEPS

# Every step name a shipped release recorded in `_sqlite_migrations`, in order. A ledger knows its
# history only by these names: renaming or reordering one would re-run or skip a step.
SHIPPED = [
    "m001_foundation",
    "m001_action_leases",
    "m002_zendesk_intake",
    "m002_zendesk_batches",
    "m004_decision_details",
    "m005_stripe_events",
    "m005_approvals",
    "m005_shopify_webhooks",
    "m006_app_tokens",
    "m006_admin_login_failures",
    "m007_job_holds",
    "m007_shopify_webhook_binding",
    "m008_shopify_installs",
    "m009_zendesk_former_api_users",
    "m010_admin_sessions",
    "m011_console",
    "m012_metrics_indexes",
    "m013_approval_decider_names",
    "m014_leader_leases",
]


def test_steps_are_the_shipped_names_in_their_shipped_order():
    assert [step.__name__ for step in STEPS][: len(SHIPPED)] == SHIPPED
    assert [m.name for m in MIGRATIONS._migrations] == [step.__name__ for step in STEPS]


def test_a_ledger_migrated_part_way_by_an_earlier_release_gets_only_the_rest(tmp_path):
    ledger = Ledger(str(tmp_path / "old.db"))
    MIGRATIONS.apply(ledger.db, stop_before="m004_decision_details")
    assert pending_migrations(ledger.db)[0] == "m004_decision_details"
    applied = migrate(ledger.db)
    assert applied == SHIPPED[SHIPPED.index("m004_decision_details") :]
    assert pending_migrations(ledger.db) == []
    assert migrate(ledger.db) == []
    ledger.close()
