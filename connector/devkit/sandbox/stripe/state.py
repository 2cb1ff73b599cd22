"""In-memory state of the Stripe sandbox: API keys and their permissions, customers, charges
with their PaymentIntents, refunds, disputes, idempotency records, injected failures, the request
log, and signed webhook delivery (``Stripe-Signature: t=<unix>,v1=<hex hmac-sha256 of
"t.body">``)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

# The version the emulated account answers with when a request names none (its "default API
# version"), and the one Deskguard sends (DESKGUARD_STRIPE_API_VERSION's default; a test keeps
# them equal).
API_VERSION = "2026-10-28.endive"
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
DEMO_SECRET_KEY = "sk_test_deskguard_demo"
DEMO_WEBHOOK_SECRET = "whsec_deskguard_demo"
# Stripe's restricted-key permission names, per resource (unconfirmed; docs/vendors/stripe.md).
PERMISSIONS = {
    ("GET", "customers"): "rak_customer_read",
    ("GET", "charges"): "rak_charge_read",
    ("GET", "payment_intents"): "rak_payment_intent_read",
    ("GET", "refunds"): "rak_refund_read",
    ("POST", "refunds"): "rak_refund_write",
    ("GET", "disputes"): "rak_dispute_read",
    ("GET", "webhook_endpoints"): "rak_webhook_read",
    ("POST", "webhook_endpoints"): "rak_webhook_write",
    ("DELETE", "webhook_endpoints"): "rak_webhook_write",
}
READ_ONLY_PERMISSIONS = frozenset(p for (m, _), p in PERMISSIONS.items() if m == "GET")
DEFAULT_RESTRICTED_PERMISSIONS = frozenset(PERMISSIONS.values())
DAY = 86400


@dataclass
class Failure:
    method: str
    path: str  # prefix match on the request path
    status: int
    times: int
    message: str = "An unknown error occurred"


@dataclass
class Delivery:
    url: str
    event_id: str
    status: int | None
    error: str = ""


@dataclass
class StripeState:
    """In-memory Stripe account. Every public method is thread-safe."""

    search_lag_seconds: float = 0.0
    clock: Callable[[], float] = time.time
    keys: dict[str, frozenset[str] | None] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    payment_intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    disputes: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], tuple[str, int, dict[str, Any]]] = field(
        default_factory=dict
    )
    failures: list[Failure] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    webhook_endpoints: list[tuple[str, str]] = field(default_factory=list)
    # Endpoints created through the API (routes_webhook_endpoints.py): id -> object; each also
    # has its (url, secret) in webhook_endpoints, where deliveries go.
    endpoint_objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    # The account's default API version: answered when a request sends no Stripe-Version. A
    # request naming another version is served anyway (as Stripe does) and listed by
    # ``version_mismatches`` for tests.
    api_version: str = API_VERSION
    lock: threading.RLock = field(default_factory=threading.RLock)
    _seq: itertools.count = field(default_factory=lambda: itertools.count(1))

    # --- ids and time ----------------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._seq):04d}{uuid.uuid4().hex[:12]}"

    def now(self) -> int:
        return int(self.clock())

    # --- control plane ---------------------------------------------------------------
    def add_key(self, key: str, permissions: frozenset[str] | set[str] | None = None) -> str:
        """Accept ``key``. Secret keys have every permission; restricted keys get
        ``permissions``."""
        if not key.startswith(("sk_test_", "rk_test_")):
            raise ValueError("emulator keys start with sk_test_ or rk_test_")
        with self.lock:
            if key.startswith("sk_"):
                self.keys[key] = None
            else:
                self.keys[key] = frozenset(
                    DEFAULT_RESTRICTED_PERMISSIONS if permissions is None else permissions
                )
        return key

    def fail(
        self, method: str, path: str, status: int = 500, times: int = 1, message: str = ""
    ) -> None:
        """The next ``times`` requests to ``method path*`` answer ``status`` (injected)."""
        with self.lock:
            self.failures.append(
                Failure(method.upper(), path, status, times, message or "An unknown error occurred")
            )

    def add_webhook_endpoint(self, url: str, secret: str) -> None:
        with self.lock:
            self.webhook_endpoints.append((url, secret))

    def create_webhook_endpoint(
        self,
        url: str,
        enabled_events: list[str],
        *,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
        api_version: str | None = None,
    ) -> dict[str, Any]:
        """A webhook endpoint as ``POST /v1/webhook_endpoints`` creates it (with its secret).
        ``api_version``: the version its events are rendered in (None: the account default)."""
        with self.lock:
            endpoint_id = self.new_id("we")
            secret = "whsec_" + uuid.uuid4().hex + uuid.uuid4().hex[:8]
            endpoint: dict[str, Any] = {
                "id": endpoint_id,
                "object": "webhook_endpoint",
                "api_version": api_version,
                "application": None,
                "created": self.now(),
                "description": description,
                "enabled_events": list(enabled_events),
                "livemode": False,
                "metadata": dict(metadata or {}),
                "secret": secret,
                "status": "enabled",
                "url": url,
            }
            self.endpoint_objects[endpoint_id] = endpoint
            self.webhook_endpoints.append((url, secret))
            return dict(endpoint)

    def delete_webhook_endpoint(self, endpoint_id: str) -> dict[str, Any] | None:
        with self.lock:
            endpoint = self.endpoint_objects.pop(endpoint_id, None)
            if endpoint is None:
                return None
            pair = (endpoint["url"], endpoint["secret"])
            if pair in self.webhook_endpoints:
                self.webhook_endpoints.remove(pair)
            return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}

    def add_customer(
        self,
        email: str,
        name: str = "",
        *,
        created: int | None = None,
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        with self.lock:
            cus: dict[str, Any] = {
                "id": self.new_id("cus"),
                "object": "customer",
                "email": email,
                "name": name,
                "created": self.now() if created is None else created,
                "livemode": False,
                "metadata": dict(metadata or {}),
                "description": None,
            }
            self.customers[cus["id"]] = cus
            return dict(cus)

    def add_charge(
        self,
        customer_id: str | None,
        amount: int,
        *,
        currency: str = "usd",
        status: str = "succeeded",
        created: int | None = None,
        description: str = "",
        metadata: dict[str, str] | None = None,
        email: str | None = None,
    ) -> dict[str, Any]:
        """A payment: a PaymentIntent and its (latest) charge."""
        with self.lock:
            created = self.now() if created is None else created
            cus = self.customers.get(customer_id or "")
            email = email if email is not None else (cus["email"] if cus else None)
            pi_id, ch_id = self.new_id("pi"), self.new_id("ch")
            pi_status = {"succeeded": "succeeded", "failed": "requires_payment_method"}.get(
                status, "processing"
            )
            self.payment_intents[pi_id] = {
                "id": pi_id,
                "object": "payment_intent",
                "amount": amount,
                "amount_received": amount if status == "succeeded" else 0,
                "currency": currency,
                "customer": customer_id,
                "status": pi_status,
                "latest_charge": ch_id,
                "created": created,
                "description": description,
                "metadata": dict(metadata or {}),
                "livemode": False,
                "receipt_email": email,
            }
            charge = {
                "id": ch_id,
                "object": "charge",
                "amount": amount,
                "amount_captured": amount if status == "succeeded" else 0,
                "amount_refunded": 0,
                "currency": currency,
                "customer": customer_id,
                "payment_intent": pi_id,
                "status": status,
                "paid": status == "succeeded",
                "captured": status == "succeeded",
                "refunded": False,
                "disputed": False,
                "created": created,
                "description": description,
                "metadata": dict(metadata or {}),
                "livemode": False,
                "receipt_email": email,
                "billing_details": {"email": email, "name": cus["name"] if cus else None},
                "failure_code": "card_declined" if status == "failed" else None,
            }
            self.charges[ch_id] = charge
            return dict(charge)

    def add_dispute(
        self,
        charge_id: str,
        *,
        reason: str = "fraudulent",
        due_in_days: float = 7,
        amount: int | None = None,
        status: str = "needs_response",
    ) -> dict[str, Any]:
        with self.lock:
            charge = self.charges[charge_id]
            now = self.now()
            dispute = {
                "id": self.new_id("dp"),
                "object": "dispute",
                "amount": charge["amount"] if amount is None else amount,
                "currency": charge["currency"],
                "charge": charge_id,
                "payment_intent": charge["payment_intent"],
                "reason": reason,
                "status": status,
                "created": now,
                "livemode": False,
                "metadata": {},
                "is_charge_refundable": False,
                "balance_transactions": [],
                "evidence_details": {
                    "due_by": now + int(due_in_days * DAY),
                    "has_evidence": False,
                    "past_due": False,
                    "submission_count": 0,
                },
            }
            self.disputes[dispute["id"]] = dispute
            charge["disputed"] = True
            return dict(dispute)

    def customer_by_email(self, email: str) -> dict[str, Any] | None:
        with self.lock:
            return next((dict(c) for c in self.customers.values() if c["email"] == email), None)

    def charges_of(self, email: str) -> list[dict[str, Any]]:
        with self.lock:
            ids = {c["id"] for c in self.customers.values() if c["email"] == email}
            return [dict(ch) for ch in self.charges.values() if ch["customer"] in ids]

    def versions_sent(self) -> list[str | None]:
        """The ``Stripe-Version`` header of every API request, in order (None: not sent)."""
        with self.lock:
            return [r.get("stripe_version") for r in self.requests]

    def version_mismatches(self) -> list[dict[str, Any]]:
        """API requests whose ``Stripe-Version`` was missing or not the account's version."""
        with self.lock:
            return [r for r in self.requests if r.get("stripe_version") != self.api_version]

    def requests_to(self, method: str, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [
                r for r in self.requests if r["method"] == method and r["path"].startswith(path)
            ]

    # --- webhooks --------------------------------------------------------------------
    def event(self, type_: str, obj: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.new_id("evt"),
            "object": "event",
            "api_version": self.api_version,
            "created": self.now(),
            "type": type_,
            "livemode": False,
            "pending_webhooks": len(self.webhook_endpoints),
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": obj},
        }

    def deliver(self, event: dict[str, Any], *, timeout: float = 10.0) -> list[Delivery]:
        """POST a signed event to every registered endpoint; returns what each answered."""
        body = json.dumps(event, separators=(",", ":")).encode()
        with self.lock:
            endpoints = list(self.webhook_endpoints)
        out = []
        for url, secret in endpoints:
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": sign_payload(body, secret, timestamp=self.now()),
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            }
            try:
                resp = requests.post(url, data=body, headers=headers, timeout=timeout)
                delivery = Delivery(url, event["id"], resp.status_code)
            except requests.RequestException as exc:
                delivery = Delivery(url, event["id"], None, type(exc).__name__)
            out.append(delivery)
        with self.lock:
            self.deliveries.extend(out)
        return out

    def open_dispute(
        self,
        charge_id: str,
        *,
        reason: str = "fraudulent",
        due_in_days: float = 7,
        deliver: bool = True,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Create a dispute and (optionally) deliver ``charge.dispute.created``."""
        dispute = self.add_dispute(charge_id, reason=reason, due_in_days=due_in_days)
        event = self.event("charge.dispute.created", dispute)
        if deliver:
            self.deliver(event)
        return dispute, event


def sign_payload(payload: bytes | str, secret: str, *, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe sends for ``payload`` (HMAC-SHA256 hex of
    ``t.body``). A comma-separated ``secret`` signs with each (one ``v1=`` apiece), as Stripe
    does while an endpoint's rolled secret and its predecessor are both live."""
    body = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    t = int(time.time()) if timestamp is None else int(timestamp)
    macs = [
        hmac.new(key.strip().encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
        for key in secret.split(",")
        if key.strip()
    ]
    return ",".join([f"t={t}", *(f"v1={mac}" for mac in macs)])
