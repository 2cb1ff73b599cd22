"""The Stripe API version is ours, not the SDK's: set explicitly, sent as ``Stripe-Version`` on
every request, matched by the emulator; calls go through ``StripeClient.v1`` without a single
deprecation warning; objects are read after ``to_dict()`` (a StripeObject is no dict since
stripe-python 15). The real stripe SDK over HTTP against the sandbox emulator."""

from __future__ import annotations

import warnings

import pytest
import stripe
from stripe_support import stripe_sandbox_fixture  # noqa: F401

from adapters.stripe import (
    API_VERSION,
    SDK_API_VERSION,
    StripeAdapter,
    StripeKeyCheck,
    charge_from_stripe,
    plain,
)
from connector.api_versions import stripe_version_older
from connector.devkit.sandbox.stripe import API_VERSION as EMULATOR_VERSION
from connector.devkit.sandbox.stripe import DEMO_SECRET_KEY
from connector.errors import ConfigError
from connector.settings import load_config, setting


def adapter(sandbox, **kwargs) -> StripeAdapter:
    return StripeAdapter(DEMO_SECRET_KEY, api_base=sandbox.url, timeout=5, **kwargs)


def exercise(a: StripeAdapter) -> None:
    """Every call the product makes: lookups (search, list, pages), a charge, refunds (create,
    list, reconcile), disputes, the key check and the webhook endpoint set-up."""
    ctx = a.payment_context("sam.vip@example.com")  # several list pages
    assert len(ctx.charges) == a.lookup_limit
    a.payment_context("pat.chargeback@example.com")  # a dispute
    jane = a.payment_context("jane.doe@example.com")
    a.charge(jane.charges[0].id)
    refund = a.refund(
        payment_intent=None,
        charge=jane.charges[0].id,
        amount=100,
        reason="requested_by_customer",
        metadata={"ticket": "1"},
        idempotency_key="dg-version-test-1",
    )
    assert a.find_refund(
        payment_intent=None, charge=refund.charge, idempotency_key="dg-version-test-1"
    )
    check = StripeKeyCheck(a)
    assert check.missing_permissions() == []
    check.ensure_webhook_endpoint(
        "https://deskguard.example/webhooks/stripe/acme",
        ["charge.dispute.created"],
        tenant_id="acme",
        have_secret=False,
    )


def test_one_version_everywhere():
    # the adapter's default, the setting's default and the emulator's account version agree, and
    # none is older than what the installed stripe-python pins (config check warns otherwise)
    assert API_VERSION == setting("stripe_api_version").default == EMULATOR_VERSION
    assert stripe.api_version == SDK_API_VERSION
    assert not stripe_version_older(API_VERSION, SDK_API_VERSION)


def test_every_request_carries_the_configured_version(stripe_sandbox):
    exercise(adapter(stripe_sandbox))
    sent = stripe_sandbox.state.versions_sent()
    assert len(sent) > 15 and set(sent) == {API_VERSION}
    assert stripe_sandbox.state.version_mismatches() == []
    # our webhook endpoint renders its events in the same version
    [endpoint] = stripe_sandbox.state.endpoint_objects.values()
    assert endpoint["api_version"] == API_VERSION


def test_another_configured_version_is_sent_and_the_emulator_records_the_mismatch(stripe_sandbox):
    older = "2026-09-30.endive"
    a = adapter(stripe_sandbox, api_version=older)
    a.payment_context("jane.doe@example.com")
    assert set(stripe_sandbox.state.versions_sent()) == {older}
    mismatches = stripe_sandbox.state.version_mismatches()
    assert mismatches and {m["stripe_version"] for m in mismatches} == {older}


def test_the_emulator_answers_with_the_version_it_served(stripe_sandbox):
    import requests

    url = f"{stripe_sandbox.url}/v1/customers"
    auth = {"Authorization": f"Bearer {DEMO_SECRET_KEY}"}
    plain_answer = requests.get(url, headers=auth, timeout=5)
    assert plain_answer.headers["Stripe-Version"] == EMULATOR_VERSION  # the account default
    pinned = requests.get(url, headers={**auth, "Stripe-Version": "2026-09-30.endive"}, timeout=5)
    assert pinned.headers["Stripe-Version"] == "2026-09-30.endive"
    assert stripe_sandbox.state.versions_sent() == [None, "2026-09-30.endive"]


def test_no_deprecation_warning_from_any_call(stripe_sandbox):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exercise(adapter(stripe_sandbox))
    assert [str(w.message) for w in caught] == []


def test_the_old_accessors_would_have_warned(stripe_sandbox):
    # the control: the check above can see the SDK's deprecation warning
    client = stripe.StripeClient(DEMO_SECRET_KEY, base_addresses={"api": stripe_sandbox.url})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client.customers  # noqa: B018  (the deprecated accessor itself warns)
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)


def test_stripe_objects_are_read_as_plain_dicts():
    obj = stripe.StripeObject.construct_from(
        {
            "id": "ch_1",
            "amount": 500,
            "currency": "eur",
            "status": "succeeded",
            "metadata": {"order_name": "#1"},
            "billing_details": {"email": "b@example.com"},
            "customer": {"id": "cus_1", "object": "customer"},  # expanded
        },
        "sk_test_x",
    )
    assert not isinstance(obj, dict)  # stripe-python 15+
    data = plain(obj)
    assert type(data) is dict and type(data["metadata"]) is dict
    charge = charge_from_stripe(obj)
    assert (charge.id, charge.amount, charge.email) == ("ch_1", 500, "b@example.com")
    assert charge.metadata == {"order_name": "#1"} and charge.customer_id == "cus_1"
    assert charge_from_stripe(data) == charge  # webhook payloads (dicts) read the same way


@pytest.mark.parametrize("bad", ["endive", "2026-10", "2026/10/28", ""])
def test_the_setting_refuses_what_is_not_a_stripe_version(bad):
    if bad == "":
        with pytest.raises(ConfigError):
            StripeAdapter(DEMO_SECRET_KEY, api_version=bad)
        return
    with pytest.raises(ConfigError, match="DESKGUARD_STRIPE_API_VERSION"):
        load_config({}, environ={"DESKGUARD_STRIPE_API_VERSION": bad}, dotenv_path=None)
