"""The Stripe sandbox's demo account: the customers and charges the demo tickets and the
Shopify sandbox's demo orders use."""

from __future__ import annotations

from connector.devkit.sandbox.stripe.state import DAY, DEMO_SECRET_KEY, StripeState

# email, name, [(amount in cents, Shopify order name, days ago)]. Amounts and dates match the
# sandbox Shopify's demo orders (``shopify/demo.py``), so briefs can pair them.
DEMO_CUSTOMERS: tuple[tuple[str, str, list[tuple[int, str, int]]], ...] = (
    ("jane.doe@example.com", "Jane Doe", [(8450, "#1001", 4)]),
    ("marco.rossi@example.com", "Marco Rossi", [(12900, "#1002", 1)]),
    ("li.wei@example.com", "Li Wei", [(5890, "#1003", 9)]),
    # Sam is a VIP with many payments: the two recent orders plus 21 older ones (beyond Shopify's
    # 60-day window), so the charge list spans several pages.
    (
        "sam.vip@example.com",
        "Sam Okafor",
        [(41200, "#1004", 3), (9600, "#1009", 20)]
        + [(4500 + 1375 * i, f"#9{i:02d}", 65 + 30 * i) for i in range(21)],
    ),
    ("pat.chargeback@example.com", "Pat Morgan", [(24900, "#1005", 25)]),
)


def seed_demo(state: StripeState, *, currency: str = "usd") -> StripeState:
    """The demo account: the customers the demo tickets and Shopify orders use.

    - jane.doe, marco.rossi, li.wei: one succeeded charge each for Shopify #1001/#1002/#1003
      (li.wei's is the refundable one the approvals demo refunds).
    - sam.vip: 23 charges (more than one list page).
    - pat.chargeback: a charge for #1005 with a dispute (reason fraudulent, evidence due in 7 days).
    Customers were created long ago, so the search index already has them.
    """
    state.add_key(DEMO_SECRET_KEY)
    now = state.now()
    for email, name, payments in DEMO_CUSTOMERS:
        oldest = max(days for _, _, days in payments)
        cus = state.add_customer(email, name, created=now - int((oldest + 30) * DAY))
        for amount, order_name, days_ago in payments:
            state.add_charge(
                cus["id"],
                amount,
                currency=currency,
                created=now - int(days_ago * DAY),
                description=f"Shopify order {order_name}",
                metadata={"order_name": order_name},
            )
    pat = state.charges_of("pat.chargeback@example.com")[0]
    state.add_dispute(pat["id"], reason="fraudulent", due_in_days=7)
    return state
