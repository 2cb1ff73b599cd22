"""The schema steps are one explicit ordered list; ledgers migrated by earlier releases keep
working."""

from __future__ import annotations

import pytest
import sqlite_utils

from connector.db import MIGRATIONS, Ledger, Migrations, migrate, pending_migrations
from migrations import STEPS

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
    assert MIGRATIONS.names == [step.__name__ for step in STEPS]


def test_a_ledger_migrated_part_way_by_an_earlier_release_gets_only_the_rest(ledger_location):
    ledger = Ledger(ledger_location)
    MIGRATIONS.apply(ledger.db, stop_before="m004_decision_details")
    assert pending_migrations(ledger.db)[0] == "m004_decision_details"
    applied = migrate(ledger.db)
    assert applied == SHIPPED[SHIPPED.index("m004_decision_details") :]
    assert pending_migrations(ledger.db) == []
    assert migrate(ledger.db) == []
    ledger.close()


@pytest.mark.sqlite_only
def test_a_ledger_whose_history_sqlite_utils_wrote_carries_on(tmp_path):
    """Releases before the PostgreSQL ledger recorded steps with ``sqlite_utils.Migrations``:
    our runner reads that history and applies only what is missing."""
    ledger = Ledger(str(tmp_path / "utils.db"))
    old = sqlite_utils.Migrations("deskguard")
    for step in STEPS[:3]:
        old(name=step.__name__)(step)
    old.apply(ledger.db)
    assert MIGRATIONS.applied(ledger.db) == SHIPPED[:3]
    assert migrate(ledger.db) == SHIPPED[3:]
    assert pending_migrations(ledger.db) == []
    ledger.close()


def test_a_failing_step_leaves_no_trace_and_stays_pending(ledger_location):
    def m999_broken(db):
        db.conn.execute("CREATE TABLE half_done (x TEXT)")
        raise RuntimeError("step failed")

    ledger = Ledger(ledger_location)
    runner = Migrations("deskguard", (*STEPS, m999_broken))
    with pytest.raises(RuntimeError, match="step failed"):
        runner.apply(ledger.db)
    assert runner.pending(ledger.db) == ["m999_broken"]
    with pytest.raises(Exception, match="half_done"):
        ledger.db.conn.execute("SELECT * FROM half_done").fetchall()
    ledger.close()


def test_processes_migrating_the_same_fresh_ledger_at_once_apply_each_step_once(ledger_location):
    """Several containers start together and each runs `deskguard migrate`."""
    import threading

    results: list[list[str]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def run() -> None:
        ledger = Ledger(ledger_location)
        try:
            start.wait()
            results.append(migrate(ledger.db))
        except BaseException as exc:
            errors.append(exc)
        finally:
            ledger.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    applied = sorted(name for names in results for name in names)
    assert applied == sorted(MIGRATIONS.names)  # every step applied exactly once, by one of them
    ledger = Ledger(ledger_location)
    assert MIGRATIONS.applied(ledger.db) == MIGRATIONS.names
    ledger.close()
