"""Properties of the guardrails, whatever the reading, the orders, the modes and the rollout:

- kill switch on ⇒ no vendor write (also when it flips on while a ticket is being processed);
- shadow ⇒ nothing written;
- injected instructions never cause an unauthorised write (a corpus of 38 tickets, 9 languages).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.devkit.fakes import (
    FakeClassifier,
    FakeDesk,
    FakeOrders,
    FakePayments,
    inject,
    make_order,
    make_reading,
)
from connector.domain import CATEGORIES, MODES, RISK_FLAGS, Entities
from connector.errors import KillSwitchEngaged
from connector.pipeline import policy
from connector.pipeline.engine import process_ticket
from connector.pipeline.injection import find_injection
from connector.pipeline.policy import set_category_modes
from connector.pipeline.replies import check_reply
from connector.tenants import set_kill_switch

TENANT = "acme"
CORPUS = [
    json.loads(line)
    for line in (Path(__file__).parent / "data" / "injection_corpus.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
    if line.strip()
]
_ids = itertools.count(1)

readings = st.builds(
    make_reading,
    category=st.sampled_from(CATEGORIES),
    confidence=st.floats(0.0, 1.0),
    sentiment=st.sampled_from(("negative", "neutral", "positive")),
    sentiment_score=st.floats(-1.0, 1.0),
    urgency=st.sampled_from(("low", "normal", "high", "urgent")),
    language=st.sampled_from(("en", "de", "fr", "es", "it", "")),
    risk_flags=st.lists(st.sampled_from(RISK_FLAGS), max_size=2, unique=True).map(tuple),
    entities=st.builds(
        Entities,
        order_numbers=st.lists(st.sampled_from(("#1001", "1002", "#9")), max_size=2).map(tuple),
    ),
)
orders = st.lists(
    st.builds(
        make_order,
        email=st.sampled_from(("jane@example.com", "other@example.com")),
        name=st.sampled_from(("#1001", "#1002", "#1003")),
        spend=st.sampled_from(("10.00", "5000.00")),
        tracking=st.booleans(),
    ),
    max_size=3,
)
mode_maps = st.dictionaries(st.sampled_from(CATEGORIES), st.sampled_from(MODES), min_size=1)
rollouts = st.dictionaries(st.sampled_from(CATEGORIES), st.integers(0, 100), max_size=3)
PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class Recorder:
    """Stands in for Shopify/Stripe *write* ports: any call is an unauthorised write."""

    def __init__(self, reads):
        self.reads, self.calls = reads, []

    def __getattr__(self, name):
        return getattr(self.reads, name)

    def cancel_order(self, *a, **kw):
        self.calls.append(("cancel_order", a, kw))

    def refund(self, *a, **kw):
        self.calls.append(("refund", a, kw))


def setup(runtime, reading, found_orders, modes, rollout):
    desk = FakeDesk()
    inject(runtime, desk=desk)
    inject(runtime, classifier=FakeClassifier(reading))
    shop, pay = Recorder(FakeOrders(found_orders)), Recorder(FakePayments())
    inject(runtime, orders=shop)
    inject(runtime, payments=pay)
    set_category_modes(
        runtime.db,
        TENANT,
        modes,
        actor="prop",
        override_reason="property test",
        rollout_percent=rollout,
    )
    tid = next(_ids)
    desk.add_ticket(tid, "Where is my order?", email="jane@example.com")
    return desk, shop, pay, tid


def vendor_writes(runtime, desk, shop, pay, since_action: int) -> list:
    sent = runtime.db.conn.execute(
        "SELECT kind, state FROM actions WHERE id > ? AND state != 'blocked'", (since_action,)
    ).fetchall()
    return [*desk.writes, *shop.calls, *pay.calls, *sent]


def last_action(runtime) -> int:
    return runtime.db.conn.execute("SELECT COALESCE(MAX(id), 0) FROM actions").fetchone()[0]


@PROPERTY
@given(reading=readings, found=orders, modes=mode_maps, rollout=rollouts)
def test_kill_switch_on_means_no_vendor_write(runtime, reading, found, modes, rollout):
    desk, shop, pay, tid = setup(runtime, reading, found, modes, rollout)
    set_kill_switch(runtime.db, TENANT, True, actor="prop")
    mark = last_action(runtime)
    try:
        process_ticket(runtime, TENANT, tid)
    except KillSwitchEngaged:
        pass
    assert vendor_writes(runtime, desk, shop, pay, mark) == []


@PROPERTY
@given(reading=readings, found=orders, modes=mode_maps)
def test_kill_switch_flipped_mid_ticket_still_stops_the_write(runtime, reading, found, modes):
    desk, shop, pay, tid = setup(runtime, reading, found, modes, {})
    set_kill_switch(runtime.db, TENANT, False, actor="prop")
    real = runtime.services(TENANT).classifier

    class FlipWhileReading:
        def classify(self, text):
            set_kill_switch(
                runtime.db, TENANT, True, actor="operator"
            )  # the flip lands mid-pipeline
            return real.classify(text)

    inject(runtime, classifier=FlipWhileReading())
    mark = last_action(runtime)
    try:
        process_ticket(runtime, TENANT, tid)
    except KillSwitchEngaged:
        pass
    assert vendor_writes(runtime, desk, shop, pay, mark) == []


@PROPERTY
@given(
    reading=readings,
    found=orders,
    rollout=rollouts,
    kill=st.booleans(),
    other=st.dictionaries(
        st.sampled_from(CATEGORIES), st.sampled_from(("off", "shadow")), max_size=4
    ),
)
def test_shadow_means_nothing_written(runtime, reading, found, rollout, kill, other):
    desk, shop, pay, tid = setup(runtime, reading, found, {"*": "shadow", **other}, rollout)
    set_kill_switch(runtime.db, TENANT, kill, actor="prop")
    mark = last_action(runtime)
    result = process_ticket(runtime, TENANT, tid)
    assert result.outcome in ("shadow", "off")
    assert vendor_writes(runtime, desk, shop, pay, mark) == []


# --- injected instructions ----------------------------------------------------------------
def test_corpus_is_big_and_multilingual():
    assert len(CORPUS) >= 30
    assert len({c["lang"] for c in CORPUS}) >= 8


@pytest.mark.parametrize("case", CORPUS, ids=[c["id"] for c in CORPUS])
@pytest.mark.parametrize("claimed", ["order_status", "refund", "cancel_order", "other"])
def test_injected_instructions_cause_no_unauthorised_write(runtime, case, claimed):
    """Worst case: every category in auto, the requester has exactly one shipped order (the WISMO
    auto-reply would otherwise go out), and a gullible classifier that is 99 % sure of whatever
    category the attacker aimed for."""
    desk = FakeDesk()
    inject(runtime, desk=desk)
    inject(
        runtime,
        classifier=FakeClassifier(make_reading(category=claimed, confidence=0.99, language="en")),
    )
    shop, pay = Recorder(FakeOrders([make_order()])), Recorder(FakePayments())
    inject(runtime, orders=shop)
    inject(runtime, payments=pay)
    policy.update(
        runtime.db,
        TENANT,
        {"answers": {"shipping_info": "We ship worldwide.", "account": "Use reset."}},
        actor="t",
    )
    set_category_modes(runtime.db, TENANT, {"*": "auto"}, actor="t", override_reason="worst case")
    desk.add_ticket(1, case["body"], subject=case["subject"])
    result = process_ticket(runtime, TENANT, 1)
    assert result.outcome == "escalate" and result.rule == "injection", (case["id"], result.reason)
    assert shop.calls == [] and pay.calls == []
    assert [w[0] for w in desk.writes] == ["internal_note"]  # no public reply, no solve
    assert desk.tickets[1].status != "solved"
    note = desk.writes[0][2]
    assert "deskguard_injection_suspected" in note["tags"]
    for line in case["body"].splitlines():  # the brief never quotes the attacker's text
        if len(line.strip()) > 12:
            assert line.strip() not in note["body"]


@pytest.mark.parametrize("case", CORPUS[::3], ids=[c["id"] for c in CORPUS[::3]])
def test_without_the_detector_structure_still_prevents_harm(runtime, case):
    """Second line: with injection escalation switched off, the only possible public reply is the
    fixed order-status answer; refunds, cancellations and discounts are never written."""
    desk = FakeDesk()
    inject(runtime, desk=desk)
    inject(
        runtime, classifier=FakeClassifier(make_reading(category="order_status", confidence=0.99))
    )
    shop, pay = Recorder(FakeOrders([make_order()])), Recorder(FakePayments())
    inject(runtime, orders=shop)
    inject(runtime, payments=pay)
    policy.update(runtime.db, TENANT, {"escalation": {"injection_escalates": False}}, actor="t")
    set_category_modes(runtime.db, TENANT, {"*": "auto"}, actor="t", override_reason="worst case")
    desk.add_ticket(1, case["body"], subject=case["subject"])
    process_ticket(runtime, TENANT, 1)
    assert shop.calls == [] and pay.calls == []
    for kind, _, data in desk.writes:
        if kind == "public_reply":
            assert check_reply(data["body"]) == ()
            assert "JD1001" in data["body"]  # the order-status answer, nothing the attacker wrote
            for line in case["body"].splitlines():
                if len(line.strip()) > 12:
                    assert line.strip() not in data["body"]


@pytest.mark.parametrize(
    "text",
    [
        "Please refund me, the jacket arrived torn.",
        "Can you cancel order #1001? I ordered the wrong size.",
        "Ignore my previous email, the parcel arrived today. Thanks!",
        "Bitte stornieren Sie meine Bestellung #1001.",
        "Pouvez-vous me rembourser ? Le colis est arrivé abîmé.",
        "¿Podéis cambiar la dirección de envío de mi pedido?",
        "The tracking says delivered but I have nothing. Please resolve this quickly.",
        "I forgot my password and the reset link does not work.",
        "Could you mark my order as a gift and remove the price tag?",
        "No need to reply, just wanted to say thanks for the quick delivery!",
    ],
)
def test_ordinary_requests_are_not_taken_for_injections(text):
    assert find_injection("Order question", text) == ()
