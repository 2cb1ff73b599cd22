"""The OpenAPI 3.1 document at /api/openapi.json: a valid spec, every served route described (and
nothing described that is not served), and real responses matching their schemas."""

from __future__ import annotations

import re
import time

import pytest
from jsonschema import Draft202012Validator
from metrics_support import build_mixed_ledger
from openapi_spec_validator import validate
from panel_support import TENANT, agent_headers, install_zendesk_users
from stripe_support import signed

from connector.commerce import approvals
from connector.devkit.sandbox.stripe import DEMO_WEBHOOK_SECRET
from connector.panel.auth import issue_token
from connector.zendesk.service import WEBHOOK_SECRET
from connector.zendesk.web import sign_payload

ADMIN = {"Authorization": "Bearer test-admin-token"}
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
ZENDESK_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="


@pytest.fixture
def config(config):
    return {**config, "stripe_webhook_secret": DEMO_WEBHOOK_SECRET}


@pytest.fixture
def doc(client):
    resp = client.get("/api/openapi.json")
    assert resp.status_code == 200
    return resp.get_json()


def openapi_path(rule: str) -> str:
    """``/a/<int:ticket_id>/<any(x, y):choice>`` → ``/a/{ticket_id}/{choice}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>:]+)>", r"{\1}", rule)


def served(app) -> set[tuple[str, str]]:
    return {
        (openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if not (rule.endpoint == "static" or rule.endpoint.endswith(".static"))
        for method in rule.methods & METHODS
    }


def described(doc) -> set[tuple[str, str]]:
    return {(path, method) for path, item in doc["paths"].items() for method in item}


def test_the_document_is_a_valid_openapi_3_1_spec(doc):
    assert doc["openapi"].startswith("3.1")
    validate(doc)


def test_every_served_route_is_described_and_nothing_else(app, doc):
    assert sorted(served(app) - described(doc)) == [], "routes missing from the document"
    assert sorted(described(doc) - served(app)) == [], "described but not served"


def test_path_parameters_match_the_route(doc):
    for path, item in doc["paths"].items():
        names = set(re.findall(r"{([^}]+)}", path))
        for method, op in item.items():
            given = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert given == names, (method, path)
            assert "500" in op["responses"], (method, path)


# --- responses match the document -----------------------------------------------------------
class Checker:
    """Validates a response against the document's schema for its path, method and status."""

    def __init__(self, doc):
        self.doc = doc
        self.seen: set[tuple[str, str]] = set()

    def __call__(self, resp, path: str, method: str = "get", status: int | None = None):
        if status is not None:
            assert resp.status_code == status, resp.get_data(as_text=True)[:500]
        op = self.doc["paths"][path][method]
        answer = op["responses"].get(str(resp.status_code))
        assert answer is not None, f"{method} {path}: {resp.status_code} is not documented"
        if "$ref" in answer:
            answer = self.doc["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
        content = answer.get("content", {})
        mime = resp.mimetype
        assert mime in content, f"{method} {path}: {mime} not documented for {resp.status_code}"
        schema = content[mime]["schema"]
        if mime == "application/json":
            body = resp.get_json()
            root = {"components": self.doc["components"], "allOf": [schema]}
            errors = list(Draft202012Validator(root).iter_errors(body))
            assert not errors, f"{method} {path}: {[e.message for e in errors][:5]}"
        self.seen.add((path, method))
        return resp


@pytest.fixture
def check(doc):
    return Checker(doc)


def test_a_response_off_its_schema_fails_the_check(client, check):
    class Off:  # a metrics answer whose rate is a string and whose "processed" is missing
        status_code, mimetype = 200, "application/json"

        @staticmethod
        def get_json():
            body = client.get(f"/api/v1/tenants/{TENANT}/metrics", headers=ADMIN).get_json()
            del body["processed"]
            return {**body, "automation_rate": "40%"}

    with pytest.raises(AssertionError, match="processed"):
        check(Off, "/api/v1/tenants/{tenant}/metrics")


def test_health_metrics_and_errors(client, check):
    check(client.get("/healthz"), "/healthz", status=200)
    check(client.get("/readyz"), "/readyz", status=200)
    check(client.get("/api/openapi.json"), "/api/openapi.json", status=200)
    check(client.get("/metrics"), "/metrics", status=401)
    check(client.get("/metrics", headers=ADMIN), "/metrics", status=200)
    p = "/api/v1/tenants/{tenant}/metrics"
    check(client.get("/api/v1/tenants/acme/metrics"), p, status=401)
    check(client.get("/api/v1/tenants/nobody/metrics", headers=ADMIN), p, status=404)
    check(client.get("/api/v1/tenants/acme/metrics?since=x", headers=ADMIN), p, status=400)


def test_admin_and_dashboard_api(client, runtime, check):
    build_mixed_ledger(runtime)
    t = "/api/v1/tenants/{tenant}"
    base = f"/api/v1/tenants/{TENANT}"
    check(client.get(f"{base}/metrics", headers=ADMIN), f"{t}/metrics", status=200)
    check(client.get(f"{base}/metrics?since=7d", headers=ADMIN), f"{t}/metrics", status=200)
    check(client.get(f"{base}/kill-switch", headers=ADMIN), f"{t}/kill-switch", status=200)
    for method in ("put", "post"):
        resp = getattr(client, method)(
            f"{base}/kill-switch", headers=ADMIN, json={"on": False, "reason": "check"}
        )
        check(resp, f"{t}/kill-switch", method, status=200)
    check(client.get(f"{base}/policy", headers=ADMIN), f"{t}/policy", status=200)
    resp = client.patch(
        f"{base}/policy", headers=ADMIN, json={"policy": {"caps": {"auto_replies_per_hour": 5}}}
    )
    check(resp, f"{t}/policy", "patch", status=200)
    resp = client.put(f"{base}/modes", headers=ADMIN, json={"modes": {"order_status": "auto"}})
    check(resp, f"{t}/modes", "put", status=409)
    resp = client.put(f"{base}/modes", headers=ADMIN, json={"modes": {"refund": "assist"}})
    check(resp, f"{t}/modes", "put", status=200)
    check(client.get(f"{base}/decisions", headers=ADMIN), f"{t}/decisions", status=200)
    check(client.get(f"{base}/decisions?full=1", headers=ADMIN), f"{t}/decisions", status=200)
    resp = client.get(f"{base}/tickets/6/decision", headers=ADMIN)
    check(resp, f"{t}/tickets/{{ticket_id}}/decision", status=200)
    resp = client.get(f"{base}/tickets/999/decision", headers=ADMIN)
    check(resp, f"{t}/tickets/{{ticket_id}}/decision", status=200)  # decision: null

    a = "/admin/api/{tenant}"
    check(client.get(f"/admin/api/{TENANT}/metrics", headers=ADMIN), f"{a}/metrics", status=200)
    resp = client.get(f"/admin/api/{TENANT}/metrics?days=0", headers=ADMIN)
    check(resp, f"{a}/metrics", status=400)
    resp = client.get(f"/admin/api/{TENANT}/decisions?category=refund", headers=ADMIN)
    check(resp, f"{a}/decisions", status=200)
    resp = client.get(f"/admin/api/{TENANT}/tickets/1", headers=ADMIN)
    check(resp, f"{a}/tickets/{{ticket_id}}", status=200)
    resp = client.post(f"/admin/api/{TENANT}/kill-switch", headers=ADMIN, json={"on": False})
    check(resp, f"{a}/kill-switch", "post", status=200)


def test_approvals_api(client, runtime, check):
    proposal = approvals.propose(
        runtime.db,
        TENANT,
        55,
        "refund",
        {"payment_intent": "pi_1", "amount": 1200, "currency": "usd", "reason": "duplicate"},
        "policy:refund_rule",
        "charged twice",
    )
    t = "/api/v1/tenants/{tenant}"
    base = f"/api/v1/tenants/{TENANT}"
    check(client.get(f"{base}/approvals", headers=ADMIN), f"{t}/approvals", status=200)
    resp = client.get(f"{base}/tickets/55/approvals?state=proposed", headers=ADMIN)
    check(resp, f"{t}/tickets/{{ticket_id}}/approvals", status=200)
    one = f"{t}/approvals/{{approval_id}}"
    check(client.get(f"{base}/approvals/{proposal.id}", headers=ADMIN), one, status=200)
    check(client.get(f"{base}/approvals/999", headers=ADMIN), one, status=404)
    resp = client.post(
        f"{base}/approvals/{proposal.id}/reject", headers=ADMIN, json={"agent": "jo@example.com"}
    )
    check(resp, f"{one}/{{decision}}", "post", status=200)


def test_panel_api(client, runtime, check):
    build_mixed_ledger(runtime)
    install_zendesk_users(runtime)
    token = issue_token(runtime.db, TENANT, label="test")[1]
    agent = agent_headers(token, runtime=runtime)
    admin = agent_headers(token, runtime=runtime, agent_id="42")
    p = "/panel/api/{tenant}"
    check(client.get("/panel/api/me", headers=agent), "/panel/api/me", status=200)
    check(client.get("/panel/api/me"), "/panel/api/me", status=401)
    for ticket in (1, 3, 8, 404):  # processed, failed, deferred, never seen
        resp = client.get(f"/panel/api/{TENANT}/tickets/{ticket}", headers=agent)
        check(resp, f"{p}/tickets/{{ticket_id}}", status=200)
    resp = client.get(f"/panel/api/{TENANT}/permissions", headers=agent)
    check(resp, f"{p}/permissions", status=200)
    resp = client.post(
        f"/panel/api/{TENANT}/tickets/2/feedback", headers=agent, json={"verdict": "right"}
    )
    check(resp, f"{p}/tickets/{{ticket_id}}/feedback", "post", status=201)
    resp = client.post(f"/panel/api/{TENANT}/kill-switch", headers=agent, json={"on": True})
    check(resp, f"{p}/kill-switch", "post", status=403)
    resp = client.post(f"/panel/api/{TENANT}/kill-switch", headers=admin, json={"on": False})
    check(resp, f"{p}/kill-switch", "post", status=200)


def test_webhooks(client, runtime, check):
    runtime.secrets.put(runtime.db, TENANT, WEBHOOK_SECRET, ZENDESK_SECRET)
    data = b'{"ticket_id": "42", "updated_at": "2026-03-08T10:00:00Z", "status": "open"}'
    z = "/webhooks/zendesk/{tenant_id}"
    resp = client.post(
        f"/webhooks/zendesk/{TENANT}", data=data, headers=sign_payload(ZENDESK_SECRET, data)
    )
    check(resp, z, "post", status=202)
    check(client.post(f"/webhooks/zendesk/{TENANT}", data=data), z, "post", status=401)
    event = {
        "id": "evt_openapi_1",
        "object": "event",
        "type": "customer.created",
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": {"id": "cus_1", "object": "customer"}},
    }
    body, headers = signed(event)
    resp = client.post(f"/webhooks/stripe/{TENANT}", data=body, headers=headers)
    check(resp, "/webhooks/stripe/{tenant}", "post", status=200)
    resp = client.post(f"/webhooks/stripe/{TENANT}", data=body, headers={"Stripe-Signature": "x"})
    assert resp.status_code in (400, 401)
    check(resp, "/webhooks/stripe/{tenant}", "post")
