"""The documented body of each Shopify topic Deskguard acts on, checked before anything happens.

``X-Shopify-Hmac-Sha256`` signs the body only; the topic and the shop arrive in unsigned headers.
So a body captured for one topic could be re-sent under another topic's header. Each topic's
body is checked against the shape Shopify documents for it, and the keys that mark another
topic's body are refused, so the headers must agree with what was signed:

- ``customers/data_request``: ``shop_id``, ``shop_domain``, ``customer {id, email, phone}``,
  ``orders_requested`` (order ids), ``data_request {id}``.
- ``customers/redact``: ``shop_id``, ``shop_domain``, ``customer {id, email, phone}``,
  ``orders_to_redact`` (order ids). Shopify notes a customer record can hold only an email.
- ``shop/redact``: ``shop_id``, ``shop_domain``.
  (Shopify, "Privacy law compliance", mandatory compliance webhooks:
  https://shopify.dev/docs/apps/build/compliance/privacy-law-compliance)
- ``app/uninstalled``: the shop, as the Admin REST ``Shop`` resource (``id``,
  ``myshopify_domain``, ``domain``, ...). (Shopify, "Shop" REST resource:
  https://shopify.dev/docs/api/admin-rest/latest/resources/shop; the payload shape is
  unconfirmed against a live delivery, see docs/vendors/shopify.md.)

The shop named in the body (``shop_domain`` or ``myshopify_domain``) must be the
``X-Shopify-Shop-Domain`` header's shop; the caller then binds that shop to the tenant. Topics
Deskguard does not act on are recorded and ignored, so their bodies are not checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector.webhook_shapes import (
    InvalidPayload,
    id_list,
    non_empty_text,
    obj,
    optional_id,
    positive_id,
    refuse_keys,
    text,
)

DATA_REQUEST = "customers/data_request"
CUSTOMERS_REDACT = "customers/redact"
SHOP_REDACT = "shop/redact"
APP_UNINSTALLED = "app/uninstalled"
# Keys only one compliance topic's body carries: finding one under another topic means the body
# was signed for that topic.
_DATA_REQUEST_ONLY = ("data_request", "orders_requested")
_REDACT_ONLY = ("orders_to_redact",)
_COMPLIANCE_KEYS = ("shop_id", "shop_domain", "customer", *_DATA_REQUEST_ONLY, *_REDACT_ONLY)


class ShopMismatch(InvalidPayload):
    code = "shop_mismatch"


@dataclass(frozen=True)
class Customer:
    id: int | None
    email: str
    phone: str


@dataclass(frozen=True)
class SignedBody:
    """What a checked body says: its shop id, and for the customer topics the customer, the
    order ids and (data requests) the request id."""

    shop_id: int
    customer: Customer | None = None
    order_ids: tuple[int, ...] = ()
    request_id: int | None = None


def _shop(payload: dict[str, Any], key: str, header_shop: str) -> None:
    named = non_empty_text(payload.get(key), key).strip().lower()
    if named != header_shop:
        raise ShopMismatch(
            f"the signed body names shop {named!r} but X-Shopify-Shop-Domain is {header_shop!r}"
        )


def _customer(payload: dict[str, Any]) -> Customer:
    data = obj(payload, "customer")
    customer = Customer(
        id=optional_id(data.get("id"), "customer.id"),
        email=(text(data.get("email"), "customer.email", max_len=320, optional=True) or "").strip(),
        phone=text(data.get("phone"), "customer.phone", max_len=64, optional=True) or "",
    )
    if customer.id is None and not customer.email:
        raise InvalidPayload("customer must carry an id or an email")
    return customer


def data_request(payload: dict[str, Any], shop: str) -> SignedBody:
    refuse_keys(payload, _REDACT_ONLY, DATA_REQUEST)
    _shop(payload, "shop_domain", shop)
    request = obj(payload, "data_request")
    return SignedBody(
        shop_id=positive_id(payload.get("shop_id"), "shop_id"),
        customer=_customer(payload),
        order_ids=tuple(id_list(payload.get("orders_requested"), "orders_requested")),
        request_id=positive_id(request.get("id"), "data_request.id"),
    )


def customers_redact(payload: dict[str, Any], shop: str) -> SignedBody:
    refuse_keys(payload, _DATA_REQUEST_ONLY, CUSTOMERS_REDACT)
    _shop(payload, "shop_domain", shop)
    return SignedBody(
        shop_id=positive_id(payload.get("shop_id"), "shop_id"),
        customer=_customer(payload),
        order_ids=tuple(id_list(payload.get("orders_to_redact"), "orders_to_redact")),
    )


def shop_redact(payload: dict[str, Any], shop: str) -> SignedBody:
    refuse_keys(payload, ("customer", *_DATA_REQUEST_ONLY, *_REDACT_ONLY), SHOP_REDACT)
    _shop(payload, "shop_domain", shop)
    return SignedBody(shop_id=positive_id(payload.get("shop_id"), "shop_id"))


def app_uninstalled(payload: dict[str, Any], shop: str) -> SignedBody:
    refuse_keys(payload, _COMPLIANCE_KEYS, APP_UNINSTALLED)
    _shop(payload, "myshopify_domain", shop)
    text(payload.get("domain"), "domain", max_len=255)
    return SignedBody(shop_id=positive_id(payload.get("id"), "id"))


CHECKS = {
    DATA_REQUEST: data_request,
    CUSTOMERS_REDACT: customers_redact,
    SHOP_REDACT: shop_redact,
    APP_UNINSTALLED: app_uninstalled,
}


def check(topic: str, payload: dict[str, Any], shop: str) -> SignedBody | None:
    """The checked body of a topic Deskguard acts on (``InvalidPayload`` / ``ShopMismatch``,
    both 400, when it is not that topic's shape); None for topics it only records."""
    fn = CHECKS.get(topic)
    return fn(payload, shop) if fn else None
