"""What an approval is made of: its kinds, and the parameter rules each kind's parameters must
pass before an approval is proposed (the state machine is connector/commerce/approvals.py)."""

from __future__ import annotations

from typing import Any

from connector.errors import BadRequest

KINDS = ("refund", "cancel_order")
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
# Shopify's OrderCancelReason enum (Admin GraphQL 2026-10; checked against the schema in tests).
CANCEL_REASONS = ("CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "OTHER", "STAFF")


# --- validation ----------------------------------------------------------------------------
def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadRequest(
            f"{name} must be a positive integer in minor units (e.g. cents), got {value!r}"
        )
    return value


def validate_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """The canonical params of one kind, or BadRequest naming the problem."""
    if kind not in KINDS:
        raise BadRequest(f"unknown approval kind {kind!r}: expected one of {', '.join(KINDS)}")
    if not isinstance(params, dict):
        raise BadRequest("params must be an object")
    if kind == "refund":
        pi, charge = params.get("payment_intent"), params.get("charge")
        if bool(pi) == bool(charge):
            raise BadRequest("a refund needs exactly one of payment_intent or charge")
        target = pi or charge
        if not isinstance(target, str) or not target.startswith("pi_" if pi else "ch_"):
            raise BadRequest("payment_intent must look like pi_... and charge like ch_...")
        currency = params.get("currency")
        if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
            raise BadRequest("currency must be a three-letter ISO code, e.g. usd")
        reason = params.get("reason")
        if reason not in REFUND_REASONS:
            raise BadRequest(f"refund reason must be one of {', '.join(REFUND_REASONS)}")
        out: dict[str, Any] = {
            "amount": _positive_int(params.get("amount"), "amount"),
            "currency": currency.lower(),
            "reason": reason,
        }
        out["payment_intent" if pi else "charge"] = target
        return out
    order_id, order_name = params.get("order_id"), params.get("order_name")
    if not isinstance(order_id, str) or not order_id:
        raise BadRequest("cancel_order needs order_id (the Shopify order GID)")
    if not isinstance(order_name, str) or not order_name:
        raise BadRequest("cancel_order needs order_name (e.g. #1002)")
    reason = str(params.get("reason", "")).upper()
    if reason not in CANCEL_REASONS:
        raise BadRequest(f"cancel reason must be one of {', '.join(CANCEL_REASONS)}")
    for flag in ("restock", "notify_customer"):
        if not isinstance(params.get(flag), bool):
            raise BadRequest(f"cancel_order needs {flag}: true or false")
    return {
        "order_id": order_id,
        "order_name": order_name,
        "reason": reason,
        "restock": params["restock"],
        "notify_customer": params["notify_customer"],
    }
