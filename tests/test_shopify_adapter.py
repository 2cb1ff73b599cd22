"""The Shopify adapter over HTTP with the real ShopifyAPI SDK against the sandbox shop."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import shopify
import shopify_support
from shopify_support import SHOP, TOKEN, shop_settings, start_shop

from adapters.shopify import ShopifyAdmin, clean_shop_domain, normalize_email, normalize_order_name
from connector.errors import PermanentError, TransientError

shop_server = (
    shopify_support.shop_server
)  # fixtures: one sandbox server per process, a fresh shop per test
shop = shopify_support.shop


@pytest.fixture
def config(config, shop):  # the conftest config plus the sandbox shop
    return {**config, **shop_settings(shop)}


@pytest.fixture
def adapter(runtime):
    return runtime.services("acme").require_orders()


def fixed(shop_url: str, **kwargs) -> ShopifyAdmin:
    """An adapter with fixed credentials (no runtime), for transport-level tests."""
    creds = kwargs.pop("credentials", lambda: (SHOP, TOKEN))
    return ShopifyAdmin(creds, admin_url=shop_url, **kwargs)


# --- lookups ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "written",
    [
        "#1001",
        "1001",
        "order 1001",
        "Order #1001",
        " ORDER NO. 1001 ",
        "order number: 1001",
        "#1001",
    ],
)
def test_find_by_each_name_form(adapter, written):
    orders = adapter.find_orders(order_name=written)
    assert [o.name for o in orders] == ["#1001"]


def test_order_maps_to_our_dataclasses(adapter, shop):
    [order] = adapter.find_orders(order_name="#1001")
    assert order.id.startswith("gid://shopify/Order/")
    assert order.email == "jane.doe@example.com"
    assert (order.financial_status, order.fulfillment_status) == ("PAID", "FULFILLED")
    assert order.total.amount == "84.50" and order.total.currency == "USD"
    assert [li.title for li in order.line_items] == [
        "Merino Wool Beanie – Charcoal",
        "Organic Cotton Socks (3-pack)",
    ]
    assert order.line_items[0].sku == "BEANIE-MER-CH"
    [f] = order.fulfillments
    assert (f.tracking_company, f.tracking_number) == ("UPS", "1Z999AA10123456784")
    assert f.tracking_url == "https://www.ups.com/track?tracknum=1Z999AA10123456784"
    assert f.status == "IN_TRANSIT" and f.estimated_delivery_at > datetime.now(UTC)
    assert order.created_at.tzinfo is not None
    assert order.customer.order_count == 2 and order.customer.lifetime_spend.amount == "164.35"
    assert order.customer.id == "gid://shopify/Customer/7001"
    assert shop.state.requests[-1]["variables"]["query"] == "name:#1001"


def test_find_by_email_newest_first_with_customer_summary(adapter):
    orders = adapter.find_orders(email="  Sam.VIP@Example.com ")
    assert [o.name for o in orders] == ["#1004", "#1009"]
    assert orders[0].created_at > orders[1].created_at
    customer = orders[0].customer
    assert "VIP" in customer.tags and customer.order_count == 23
    assert Decimal(customer.lifetime_spend.amount) > 4000


def test_find_by_name_and_email_is_unique_union(adapter):
    orders = adapter.find_orders(email="ana.garcia@example.com", order_name="1006")
    assert [o.name for o in orders] == ["#1008", "#1006"]


def test_unknown_or_unusable_input_finds_nothing(adapter, shop):
    assert adapter.find_orders(order_name="#4242") == []
    assert adapter.find_orders(email="nobody@example.com") == []
    before = len(shop.state.requests)
    # text that is not an order reference / not an email never becomes a search (no injection)
    assert adapter.find_orders(order_name="where is my parcel") == []
    assert adapter.find_orders(email="jane.doe@example.com OR name:#1002") == []
    assert len(shop.state.requests) == before
    with pytest.raises(ValueError):
        adapter.find_orders()


def test_normalisers():
    assert normalize_order_name("order 1001") == "#1001"
    assert normalize_order_name("Order no. 1001") == "#1001"
    assert normalize_order_name("#eu-1001") == "#EU-1001"
    assert normalize_order_name("1001 OR name:*") is None
    assert normalize_order_name("") is None
    assert normalize_email("Jane.Doe@Example.COM") == "jane.doe@example.com"
    assert normalize_email('x" OR email:*@example.com') is None


def test_get_order_by_gid(adapter):
    [order] = adapter.find_orders(order_name="1003")
    again = adapter.get_order(order.id)
    assert again == order
    assert again.fulfillments[0].delivered_at is not None
    assert adapter.get_order("gid://shopify/Order/1") is None
    with pytest.raises(PermanentError):
        adapter.get_order("../../admin")


# --- domains, sessions, credentials ---------------------------------------------------------
@pytest.mark.parametrize(
    "bad",
    [
        "evil.com/x.myshopify.com",
        "evil.com",
        "acme.myshopify.com.evil.com",
        "acme.myshopify.com@evil.com",
        "https://acme.myshopify.com",
        "acme.myshopify.com:443",
        "acme.myshopify.com/admin",
        "acme.myshopify.com\nx",
        "-acme.myshopify.com",
        "ac me.myshopify.com",
        "acme.myshopify.io",
        "",
        "x" * 70 + ".myshopify.com",
    ],
)
def test_malicious_shop_domains_are_rejected(bad):
    with pytest.raises(ValueError):
        clean_shop_domain(bad)


def test_clean_shop_domain_accepts_real_domains():
    assert clean_shop_domain(" Acme-Store.myshopify.com ") == "acme-store.myshopify.com"
    assert clean_shop_domain("acme-store") == "acme-store.myshopify.com"


def test_sdk_session_rewrites_bad_domains_silently_which_is_why_we_validate_first():
    # why clean_shop_domain exists (docs/vendors/shopify.md): ShopifyAPI does not refuse this
    assert shopify.Session("evil.com/x.myshopify.com", "2025-01", "t").url == "evil.myshopify.com"


def test_malicious_domain_never_reaches_the_sdk_or_the_network(shop):
    adapter = fixed(shop.url, credentials=lambda: ("evil.com/x.myshopify.com", TOKEN))
    with pytest.raises(PermanentError) as exc:
        adapter.find_orders(order_name="1001")
    assert exc.value.code == "shopify_invalid_shop"
    assert shop.state.requests == [] and adapter.api_calls == 0


def test_malicious_domain_setting_fails_at_start_up(config, secret_key):
    from connector.bootstrap import ensure_env_tenant
    from connector.db import migrate
    from connector.errors import ConfigError
    from connector.runtime import Runtime

    rt = Runtime({**config, "shopify_shop": "evil.com/x.myshopify.com"})
    try:
        migrate(rt.db)
        with pytest.raises(ConfigError, match="DESKGUARD_SHOPIFY_SHOP"):
            ensure_env_tenant(rt)
    finally:
        rt.close()


def test_token_is_stored_encrypted_and_read_per_call(runtime, adapter):
    row = runtime.db.conn.execute(
        "SELECT ciphertext FROM secrets WHERE tenant_id='acme' AND name=?",
        ("shopify_access_token",),
    ).fetchone()
    assert row and TOKEN not in row[0]
    assert adapter.find_orders(order_name="1001")
    runtime.secrets.delete(runtime.db, "acme", "shopify_access_token")
    with pytest.raises(PermanentError) as exc:
        adapter.find_orders(order_name="1001")
    assert exc.value.code == "shopify_not_connected"


def test_wrong_token_is_a_permanent_401(shop):
    adapter = fixed(shop.url, credentials=lambda: (SHOP, "shpat_wrong"))
    with pytest.raises(PermanentError) as exc:
        adapter.find_orders(order_name="1001")
    assert exc.value.status == 401 and not exc.value.should_retry


def test_session_state_is_cleared_after_each_call(adapter):
    adapter.find_orders(order_name="1001")
    assert shopify.ShopifyResource.get_site() is None
    assert "X-Shopify-Access-Token" not in shopify.ShopifyResource.get_headers()


def test_concurrent_calls_to_two_shops_never_mix_sessions():
    other_token = "shpat_other_shop"
    a, b = (
        start_shop(),
        start_shop(shop_domain="other-store.myshopify.com", access_token=other_token),
    )
    try:
        b.state.order_by_name("#1001").email = "someone.else@example.com"
        ad_a = fixed(a.url)
        ad_b = fixed(b.url, credentials=lambda: ("other-store.myshopify.com", other_token))
        results, errors = [], []

        def run(ad, expected):
            try:
                for _ in range(3):
                    [o] = ad.find_orders(order_name="1001")
                    results.append(o.email == expected)
            except Exception as exc:  # collected and asserted below
                errors.append(exc)

        threads = [
            threading.Thread(target=run, args=(ad_a, "jane.doe@example.com")) for _ in range(3)
        ]
        threads += [
            threading.Thread(target=run, args=(ad_b, "someone.else@example.com")) for _ in range(3)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == [] and len(results) == 18 and all(results)
    finally:
        a.server.stop()
        b.server.stop()


# --- timeouts, transport errors ---------------------------------------------------------------
def test_every_call_has_a_timeout(runtime, shop):
    adapter = runtime.services("acme").require_orders()
    assert adapter.timeout == 5.0  # from DESKGUARD_SHOPIFY_TIMEOUT_SECONDS
    slow = fixed(shop.url, timeout=0.3)
    shop.state.delay_next(2.0)
    started = time.monotonic()
    with pytest.raises(TransientError, match="did not answer"):
        slow.find_orders(order_name="1001")
    assert time.monotonic() - started < 1.5
    with pytest.raises(ValueError):
        fixed(shop.url, timeout=0)


def test_unreachable_shop_is_transient():
    gone = start_shop()
    adapter = fixed(gone.url)
    gone.server.stop()
    with pytest.raises(TransientError) as exc:
        adapter.find_orders(order_name="1001")
    assert exc.value.should_retry


# --- throttling -------------------------------------------------------------------------------
def test_throttled_answer_waits_for_points_and_retries(shop):
    adapter = fixed(shop.url)
    shop.state.drain_bucket(0)
    [order] = adapter.find_orders(order_name="1001")
    assert order.name == "#1001"
    assert [r["throttled"] for r in shop.state.requests] == [True, False]
    # waited for the missing points at the restore rate: 47 points at 1000/s, at least the floor
    assert len(adapter.throttle_waits) == 1 and 0.04 <= adapter.throttle_waits[0] <= 1.0


def test_waits_before_sending_when_the_bucket_is_known_to_be_low():
    small = start_shop(maximum_available=1000.0, restore_rate=500.0)
    try:
        adapter = fixed(small.url)
        for _ in range(3):  # 472 points each out of 1000
            assert adapter.find_orders(email="sam.vip@example.com")
        assert not any(r["throttled"] for r in small.state.requests)
        assert adapter.throttle_waits and all(w > 0 for w in adapter.throttle_waits)
    finally:
        small.server.stop()


def test_throttle_retries_are_bounded(shop):
    waits: list[float] = []
    adapter = fixed(shop.url, throttle_max_wait=2.0, sleep=waits.append)
    shop.state.throttle_next(100)
    with pytest.raises(TransientError) as exc:
        adapter.find_orders(order_name="1001")
    assert exc.value.should_retry and exc.value.retry_after > 0
    assert sum(waits) <= 2.0 and 1 <= len(shop.state.requests) <= 8


# --- orderCancel ------------------------------------------------------------------------------
def test_cancel_order_via_the_adapter(adapter, shop):
    [order] = adapter.find_orders(order_name="1002")
    result = adapter.cancel_order(
        order.id,
        reason="customer",
        notify_customer=True,
        restock=True,
        staff_note="Approved in Zendesk ticket 42",
    )
    assert result["order_id"] == order.id and result["job_id"].startswith("gid://shopify/Job/")
    assert shop.state.cancellations == [
        {
            "order_id": order.id,
            "reason": "CUSTOMER",
            "refund": False,
            "refund_method": "none",  # refundMethod {originalPaymentMethodsRefund: false}
            "restock": True,
            "notify_customer": True,
            "staff_note": "Approved in Zendesk ticket 42",
        }
    ]
    sent = shop.state.requests[-1]["variables"]
    assert sent["refundMethod"] == {"originalPaymentMethodsRefund": False}
    assert "refund" not in sent  # the deprecated Boolean argument is never sent
    cancelled = adapter.get_order(order.id)
    assert cancelled.cancelled_at is not None and cancelled.cancel_reason == "CUSTOMER"
    reconciled = adapter.reconcile_cancel(order.id)
    assert reconciled["already_cancelled"] and reconciled["reason"] == "CUSTOMER"
    with pytest.raises(PermanentError, match="already been cancelled"):
        adapter.cancel_order(
            order.id, reason="CUSTOMER", notify_customer=False, restock=False, staff_note=""
        )


def test_cancel_refusals_are_permanent(adapter, shop):
    [shipped] = adapter.find_orders(order_name="1001")
    with pytest.raises(PermanentError, match="fulfilled"):
        adapter.cancel_order(
            shipped.id, reason="CUSTOMER", notify_customer=False, restock=False, staff_note=""
        )
    assert adapter.reconcile_cancel(shipped.id) is None
    before = len(shop.state.requests)
    with pytest.raises(PermanentError, match="cancel reason"):
        adapter.cancel_order(
            shipped.id, reason="because", notify_customer=False, restock=False, staff_note=""
        )
    assert len(shop.state.requests) == before
    with pytest.raises(PermanentError, match="NOT_FOUND"):
        adapter.cancel_order(
            "gid://shopify/Order/1",
            reason="OTHER",
            notify_customer=False,
            restock=False,
            staff_note="",
        )


@pytest.mark.parametrize(
    ("status", "retry"),
    [(502, True), (503, True), (429, True), (401, False), (402, False), (404, False)],
)
def test_http_errors_become_transient_or_permanent(shop, status, retry):
    adapter = fixed(shop.url)
    shop.state.fail_next(status, retry_after=7)
    with pytest.raises((TransientError, PermanentError)) as exc:
        adapter.find_orders(order_name="1001")
    assert (
        exc.value.should_retry is retry
        and exc.value.status == status
        and exc.value.vendor == "shopify"
    )
    if retry:
        assert exc.value.retry_after == 7.0
    assert adapter.find_orders(order_name="1001")  # the next answer is normal again
