"""Stripe payment lookups for the CLI, and amounts in minor units shown to people.

The tenant's Stripe adapter is built in connector/commerce/service.py.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from adapters.stripe import context_summary
from connector import logs
from connector.domain import ZERO_DECIMAL, PaymentContext, to_dict

if TYPE_CHECKING:
    from connector.runtime import Runtime

LOG = logs.get("stripe")


def lookup_payments(runtime: Runtime, tenant_id: str, email: str) -> dict[str, Any]:
    """The Stripe context for one email, as JSON (``deskguard lookup payments``)."""
    ctx: PaymentContext = runtime.services(tenant_id).require_payments().payment_context(email)
    logs.log(LOG, logging.INFO, "stripe.lookup", tenant=tenant_id, **context_summary(ctx))
    return to_dict(ctx)


def format_minor(amount: int, currency: str) -> str:
    """``5890, "usd"`` → ``"58.90 USD"`` (display only; amounts stay integers everywhere else)."""
    cur = (currency or "").lower()
    if cur in ZERO_DECIMAL:
        return f"{amount} {cur.upper()}"
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(int(amount)), 100)
    return f"{sign}{whole}.{cents:02d} {cur.upper()}"
