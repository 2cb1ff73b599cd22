"""One metrics code path: the dashboard, both metrics APIs, the CLI and /metrics give the same
figures for the same ledger."""

from __future__ import annotations

import json

import pytest
from metrics_support import EXPECTED, build_mixed_ledger
from panel_support import TENANT
from prometheus_client.parser import text_string_to_metric_families

from connector.cli import cli
from connector.tenants import set_kill_switch
from connector.web import create_app

BEARER = {"Authorization": "Bearer test-admin-token"}


@pytest.fixture
def mixed(runtime):
    return build_mixed_ledger(runtime)


def scrape(client, headers=BEARER) -> dict[tuple[str, tuple], float]:
    resp = client.get("/metrics", headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(resp.get_data(as_text=True)):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def sample(samples, name, **labels) -> float:
    return samples[(name, tuple(sorted({"tenant": TENANT, **labels}.items())))]


def total(samples, name, **labels) -> float:
    """The sum over every series of ``name`` whose labels include ``labels``."""
    want = {"tenant": TENANT, **labels}.items()
    return sum(v for (n, lab), v in samples.items() if n == name and want <= set(lab))


def test_dashboard_both_apis_and_metrics_agree(client, runtime, mixed):
    admin = client.get(f"/admin/api/{TENANT}/metrics?days=14", headers=BEARER).get_json()
    api = client.get(f"/api/v1/tenants/{TENANT}/metrics", headers=BEARER).get_json()
    api_14d = client.get(f"/api/v1/tenants/{TENANT}/metrics?since=14d", headers=BEARER).get_json()
    for figures in (admin, api, api_14d):
        for key, value in EXPECTED.items():
            assert figures[key] == pytest.approx(value), key
    for key in ("categories", "vendors", "caps", "agreement", "kill_switch"):
        assert api[key] == api_14d[key], key
    for q in (admin["queue"], api_14d["queue"]):  # the age grows between requests
        assert {**q, "oldest_queued_age_s": 0} == {**api["queue"], "oldest_queued_age_s": 0}
    assert admin["vendors"] == api["vendors"] and admin["agreement"] == api["agreement"]
    assert admin["categories"] == api["categories"]
    # the dashboard API's older names carry the same figures
    assert admin["outcomes"] == api["by_outcome"] and admin["tickets_processed"] == api["tickets"]
    assert admin["cost_total_usd"] == api["cost_usd_total"]
    assert admin["caps"] == [
        {
            "bucket": "auto_reply",
            "last_hour": api["caps"]["used_hour"],
            "last_day": api["caps"]["used_day"],
            "hour_limit": api["caps"]["per_hour"],
            "day_limit": api["caps"]["per_day"],
        }
    ]
    assert api["caps"]["used_hour"] == 1 and api["caps"]["used_day"] == 2
    assert api["vendors"] == {
        "stripe": {"writes": {"done": 1}, "attempts": 1, "errors": 0},
        "zendesk": {"writes": {"done": 1, "failed": 1}, "attempts": 2, "errors": 1},
    }
    refund = api["categories"]["refund"]
    assert (refund["decisions"], refund["processed"], refund["escalated"]) == (4, 2, 1)
    # the manager's figures: assist notes, time saved, reliability
    for key in ("assisted", "time_saved", "reliability"):
        assert admin[key] == api[key] == api_14d[key], key
    assert api["assisted"] == refund["assisted"] == 2  # tickets 5 and 6 (first)
    assert api["time_saved"]["minutes"] == 2 * 4.0 + 2 * 1.5  # the default minutes
    judged = [(b["low"], b["judged"], b["right"]) for b in api["reliability"] if b["judged"]]
    assert judged == [(0.9, 2, 1)]  # tickets 1 (right) and 5 (wrong), both read at 0.93
    assert sum(b["judged"] for b in api["reliability"]) == sum(
        a["judged"] for a in api["agreement"]
    )
    assert sum(d["decisions"] for d in admin["periods"]) == admin["decisions"]
    assert sum(d["time_saved_minutes"] for d in admin["periods"]) == admin["time_saved"]["minutes"]
    assert refund["by_outcome"] == {"assist_note": 4}

    m = scrape(client)
    assert total(m, "deskguard_decisions_total") == EXPECTED["decisions"]
    for outcome, n in EXPECTED["by_outcome"].items():
        assert total(m, "deskguard_decisions_total", outcome=outcome) == n
    assert sample(m, "deskguard_decisions_total", category="refund", outcome="assist_note") == 4
    for status, n in EXPECTED["by_status"].items():
        assert sample(m, "deskguard_decisions_by_status", status=status) == n
    assert sample(m, "deskguard_decisions_processed_total") == api["processed"]
    assert sample(m, "deskguard_decisions_automated_total") == api["automated"]
    assert sample(m, "deskguard_decisions_escalated_total") == api["escalated"]
    assert sample(m, "deskguard_automation_rate") == api["automation_rate"]
    assert sample(m, "deskguard_escalation_rate") == api["escalation_rate"]
    assert sample(m, "deskguard_llm_cost_usd_total") == pytest.approx(api["cost_usd_total"])
    assert sample(m, "deskguard_llm_tokens_total", direction="input") == 600
    assert sample(m, "deskguard_llm_tokens_total", direction="output") == 95
    assert sample(m, "deskguard_auto_reply_cap_used", window="hour") == 1
    assert sample(m, "deskguard_auto_reply_cap_used", window="day") == 2
    assert sample(m, "deskguard_auto_reply_cap_limit", window="day") == api["caps"]["per_day"]
    assert sample(m, "deskguard_vendor_write_attempts_total", vendor="zendesk") == 2
    assert sample(m, "deskguard_vendor_write_errors_total", vendor="zendesk") == 1
    assert sample(m, "deskguard_vendor_writes", vendor="zendesk", state="failed") == 1
    assert sample(m, "deskguard_queue_jobs", state="dead") == admin["queue"]["counts"]["dead"] == 1
    assert sample(m, "deskguard_dead_letters") == 1
    assert sample(m, "deskguard_queue_depth") == admin["queue"]["depth"] == 1
    assert sample(m, "deskguard_queue_oldest_ready_age_seconds") >= 0
    assert sample(m, "deskguard_kill_switch") == 0


def test_dashboard_page_shows_the_same_rates(client, runtime, mixed):
    client.post("/admin/login", data={"token": "test-admin-token"})
    html = client.get(f"/admin/?tenant={TENANT}").get_data(as_text=True)
    assert f"{EXPECTED['automation_rate']:.0%}" in html  # 33%
    assert f"{EXPECTED['tickets']}</div>" in html and "9 decisions, 1 failed" in html


def test_cli_prints_the_same_figures(runtime, mixed, cli_runner, config, monkeypatch):
    monkeypatch.setenv("DESKGUARD_DB_PATH", config["db_path"])
    if config["database_url"]:  # the PostgreSQL run
        monkeypatch.setenv("DESKGUARD_DATABASE_URL", config["database_url"])
    monkeypatch.setenv("DESKGUARD_SECRET_KEYS", config["secret_keys"][0])
    monkeypatch.setenv("DESKGUARD_TENANT_ID", TENANT)
    result = cli_runner.invoke(cli, ["decisions", "metrics", "--tenant", TENANT])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    for key, value in EXPECTED.items():
        assert printed[key] == pytest.approx(value), key
    api = runtime_figures(runtime)
    for key in ("assisted", "time_saved", "reliability"):
        assert printed[key] == api[key], key


def test_kill_switch_and_each_tenant_labelled(client, runtime, mixed):
    from panel_support import tenant_with_token

    tenant_with_token(runtime.db, "globex")
    set_kill_switch(runtime.db, TENANT, True, actor="test", reason="drill")
    m = scrape(client)
    assert sample(m, "deskguard_kill_switch") == 1
    assert m[("deskguard_kill_switch", (("tenant", "globex"),))] == 0
    assert m[("deskguard_decisions_processed_total", (("tenant", "globex"),))] == 0
    # no finished decision: no rate rather than a made-up zero
    assert ("deskguard_automation_rate", (("tenant", "globex"),)) not in m


def runtime_figures(runtime) -> dict:
    from connector.pipeline import metrics

    return metrics.figures(runtime.db, TENANT)


# --- access ------------------------------------------------------------------------------------
def test_metrics_needs_the_admin_token(client, mixed):
    assert client.get("/metrics").status_code == 401
    resp = client.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "unauthorized"
    assert client.get("/metrics", headers=BEARER).status_code == 200


def test_metrics_is_off_without_an_admin_token(config):
    from connector.db import migrate
    from connector.runtime import Runtime

    rt = Runtime({**config, "admin_token": None})
    migrate(rt.db)
    try:
        resp = create_app(runtime=rt).test_client().get("/metrics")
        assert resp.status_code == 403
    finally:
        rt.close()


@pytest.fixture
def loopback_client(config):
    from connector.bootstrap import ensure_env_tenant
    from connector.db import migrate
    from connector.runtime import Runtime

    def make(**extra):
        rt = Runtime({**config, "metrics_allow_loopback": True, **extra})
        migrate(rt.db)
        ensure_env_tenant(rt)
        made.append(rt)
        return create_app(runtime=rt).test_client()

    made: list = []
    yield make
    for rt in made:
        rt.close()


def test_loopback_scrapes_without_a_token_only_when_allowed(loopback_client):
    c = loopback_client()
    assert c.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    assert c.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    assert c.get("/metrics", environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 401
    # relayed by a proxy the settings do not name: not loopback, whatever the proxy's address
    relayed = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "127.0.0.1"}
    assert c.get("/metrics", environ_base=relayed).status_code == 401
    behind = loopback_client(trusted_proxy_hops=1)
    outside = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "127.0.0.1, 203.0.113.9"}
    assert behind.get("/metrics", environ_base=outside).status_code == 401
    inside = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "127.0.0.1"}
    assert behind.get("/metrics", environ_base=inside).status_code == 200


def test_loopback_needs_the_token_by_default(client):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 401
