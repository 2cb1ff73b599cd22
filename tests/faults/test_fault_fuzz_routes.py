"""Fuzz every route of the app (with valid credentials): no input reaches a 500."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.bootstrap import ensure_env_tenant
from connector.db import migrate, transaction
from connector.panel.auth import issue_token
from connector.runtime import Runtime

ADMIN = {"Authorization": "Bearer test-admin-token"}
STATUSES: Counter[int] = Counter()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
path_ints = st.integers(min_value=0, max_value=2**80) | st.sampled_from([2**63 - 1, 2**63, 10**26])
path_text = st.sampled_from(["acme", "nobody", "approve", "reject", "x" * 300]) | st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#%"),
    min_size=1,
    max_size=12,
)
# Header values: what HTTP can carry (latin-1, no control characters), digits of every kind.
header_chars = st.characters(max_codepoint=255, blacklist_categories=("Cc",))
agent_ids = st.sampled_from(["42", "²", "¹²", "9" * 30, "", "-1", "1e3"]) | st.text(
    header_chars, max_size=6
)
bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
    st.sampled_from([b"[" * 5000, b'{"a":' * 3000, b"", b"{", b"\xff\xfe"]),
)


def _routes(app):
    rules = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            rules.append((rule, method))
    return rules


def _value(draw, rule, name):
    converter = type(rule._converters[name]).__name__
    if "Integer" in converter or "PathId" in converter:
        return draw(path_ints)
    if "Any" in converter:
        return draw(st.sampled_from(sorted(rule._converters[name].items)))
    if name == "tenant":  # mostly the real tenant, so the fuzz reaches past the tenant lookup
        return draw(st.sampled_from(["acme"] * 9 + ["nobody"]))
    return draw(path_text)


@pytest.fixture
def runtime(config):
    """Every vendor's webhook secret set, so no route answers "not configured"."""
    rt = Runtime(
        {
            **config,
            "stripe_webhook_secret": "whsec_fuzz",
            "shopify_api_secret": "shpss_fuzz",
            "zendesk_webhook_secret": "zendesk-fuzz-secret",
        }
    )
    migrate(rt.db)
    ensure_env_tenant(rt)
    yield rt
    rt.close()


def test_no_fuzzed_request_to_any_route_gets_a_5xx(app, client, runtime):
    token = issue_token(runtime.db, "acme", label="fuzz")[1]
    routes = _routes(app)
    adapter = app.url_map.bind("localhost")

    @settings(
        max_examples=3000,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(st.data())
    def one_request(data):
        rule, method = data.draw(st.sampled_from(routes))
        values = {name: _value(data.draw, rule, name) for name in rule.arguments}
        path = adapter.build(rule.endpoint, values, method=method)
        if path.startswith("/panel"):
            headers = {
                "Authorization": f"Bearer {token}",
                "X-Deskguard-Agent-Id": data.draw(agent_ids),
                "X-Deskguard-Agent-Role": data.draw(st.sampled_from(["admin", "agent", "x"])),
                "X-Deskguard-Agent-Name": "Fuzz",
            }
        else:
            headers = dict(ADMIN)
        body = data.draw(bodies) if method in ("POST", "PUT", "PATCH", "DELETE") else b""
        ctype = data.draw(st.sampled_from(["application/json", "text/plain", ""]))
        if ctype:
            headers["Content-Type"] = ctype
        # Fuzzed logins fail by design; forget them, or the lockout would answer 429 to the rest.
        with transaction(runtime.db):
            runtime.db.conn.execute("DELETE FROM admin_login_failures")
        res = client.open(path, method=method, data=body, headers=headers)
        STATUSES[res.status_code] += 1
        assert res.status_code < 500, (method, path, body[:80], res.data[:300])

    one_request()
    total = sum(STATUSES.values())
    errors = sum(n for s, n in STATUSES.items() if s >= 500)
    print(f"fuzzed requests: {total} over {len(routes)} route methods; 5xx: {errors}")
    print("statuses:", dict(sorted(STATUSES.items())))
