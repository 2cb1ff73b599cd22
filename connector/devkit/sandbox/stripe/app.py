"""A Stripe API emulator: the endpoints Deskguard uses, over Stripe's wire format.

The real ``stripe`` SDK talks to it over HTTP (``StripeClient(key, base_addresses={"api": url})``).
What it reproduces, because Deskguard's behaviour depends on it (INTEGRATIONS.md §3):

- auth: ``Authorization: Bearer <key>`` or basic auth with the key as user; unknown key → 401.
  Restricted keys (``rk_test_...``) carry a permission set; a missing one → 403 naming it.
- error bodies ``{"error": {"type", "code", "message", "param"}}`` and a ``Request-Id`` header.
- customer search (``query=email:'x'``) lags behind writes by ``search_lag_seconds``, like the
  real index (up to a minute, up to an hour during outages), so callers need a list fallback.
- list pagination (``limit``, ``starting_after``, ``has_more``; newest first) and search pages
  (``page`` / ``next_page``).
- ``POST /v1/refunds`` with ``Idempotency-Key`` replay: same key + same params → the first
  response again (``Idempotent-Replayed: true``); same key + other params → 400
  ``idempotency_error``.
- failures on demand (``fail(...)``): injected before the endpoint runs, so nothing is stored
  under the idempotency key (as for Stripe's own infrastructure failures).
- signed webhook delivery: ``Stripe-Signature: t=<unix>,v1=<hex hmac-sha256 of "t.body">``.

Emulators import no vendor SDK. Control plane for the demo and tests: the ``StripeState``
methods, or ``/_sandbox/...`` endpoints (loopback only, no auth).
"""

from __future__ import annotations

import base64
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
from flask import Flask, Response, request

API_VERSION = "2025-01-27.acacia"
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
DEMO_SECRET_KEY = "sk_test_deskguard_demo"
DEMO_WEBHOOK_SECRET = "whsec_deskguard_demo"
# Stripe's restricted-key permission names, per resource (T5 in INTEGRATIONS.md).
PERMISSIONS = {
    ("GET", "customers"): "rak_customer_read",
    ("GET", "charges"): "rak_charge_read",
    ("GET", "payment_intents"): "rak_payment_intent_read",
    ("GET", "refunds"): "rak_refund_read",
    ("POST", "refunds"): "rak_refund_write",
    ("GET", "disputes"): "rak_dispute_read",
}
READ_ONLY_PERMISSIONS = frozenset(p for (m, _), p in PERMISSIONS.items() if m == "GET")
DEFAULT_RESTRICTED_PERMISSIONS = frozenset(PERMISSIONS.values())
DAY = 86400


class StripeApiError(Exception):
    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status, self.type, self.message, self.code, self.param = (
            status,
            type_,
            message,
            code,
            param,
        )
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            err["code"] = self.code
            err["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            err["param"] = self.param
        return {"error": err}


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
    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _seq: itertools.count = field(default_factory=lambda: itertools.count(1))

    # --- ids and time ----------------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._seq):04d}{uuid.uuid4().hex[:12]}"

    def now(self) -> int:
        return int(self.clock())

    # --- control plane ---------------------------------------------------------------
    def add_key(self, key: str, permissions: frozenset[str] | set[str] | None = None) -> str:
        """Accept ``key``. Secret keys have every permission; restricted keys get ``permissions``."""
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

    def add_customer(
        self,
        email: str,
        name: str = "",
        *,
        created: int | None = None,
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        with self.lock:
            cus = {
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
            "api_version": API_VERSION,
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
    """The ``Stripe-Signature`` header Stripe sends for ``payload`` (HMAC-SHA256 hex of ``t.body``)."""
    body = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    t = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


# --- demo data --------------------------------------------------------------------------
# email, name, [(amount in cents, Shopify order name, days ago)]. Amounts and dates match the
# sandbox Shopify's demo orders (connector/sandbox/shopify_demo.py), so briefs can pair them.
DEMO_CUSTOMERS: tuple[tuple[str, str, list[tuple[int, str, float]]], ...] = (
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


# --- HTTP -------------------------------------------------------------------------------
def _parse_params(items) -> dict[str, Any]:
    """Stripe's form encoding: ``a=1``, ``metadata[k]=v``, ``expand[]=x`` / ``expand[0]=x``."""
    out: dict[str, Any] = {}
    for key, value in items:
        if "[" not in key:
            out[key] = value
            continue
        head, rest = key.split("[", 1)
        sub = rest.rstrip("]")
        if sub == "" or sub.isdigit():
            out.setdefault(head, []).append(value)
        else:
            out.setdefault(head, {})[sub] = value
    return out


def _fingerprint(method: str, path: str, params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([method, path, params], sort_keys=True).encode()).hexdigest()


def _limit(params: dict[str, Any]) -> int:
    try:
        limit = int(params.get("limit", 10))
    except ValueError:
        raise StripeApiError(
            400, "invalid_request_error", "Invalid integer: limit", param="limit"
        ) from None
    if not 1 <= limit <= 100:
        raise StripeApiError(
            400,
            "invalid_request_error",
            "This value must be greater than or equal to 1 and less than or equal to 100.",
            param="limit",
        )
    return limit


def _list(objects: list[dict[str, Any]], params: dict[str, Any], url: str) -> dict[str, Any]:
    ordered = sorted(objects, key=lambda o: (o["created"], o["id"]), reverse=True)
    after = params.get("starting_after")
    if after:
        ids = [o["id"] for o in ordered]
        if after not in ids:
            raise StripeApiError(
                400,
                "invalid_request_error",
                f"No such object: '{after}'",
                code="resource_missing",
                param="starting_after",
            )
        ordered = ordered[ids.index(after) + 1 :]
    limit = _limit(params)
    return {"object": "list", "data": ordered[:limit], "has_more": len(ordered) > limit, "url": url}


def _email_query(query: str) -> str:
    # The subset of Stripe's search query language Deskguard uses: email:'a@b.com'
    q = query.strip()
    if not (q.startswith("email:") and len(q) > 8 and q[6] in "'\"" and q.endswith(q[6])):
        raise StripeApiError(
            400,
            "invalid_request_error",
            f"The emulator only supports queries of the form email:'x', got: {query!r}",
            param="query",
        )
    return q[7:-1]


def create_app(state: StripeState | None = None, *, seed: bool = True) -> Flask:
    """The emulator as a Flask app. ``state`` defaults to a fresh account (demo data when ``seed``)."""
    if state is None:
        state = StripeState()
        if seed:
            seed_demo(state)
    app = Flask("deskguard-sandbox-stripe")
    app.extensions["stripe_state"] = state

    def authenticate() -> tuple[str, frozenset[str] | None]:
        header = request.headers.get("Authorization", "")
        key = ""
        if header.startswith("Bearer "):
            key = header[7:].strip()
        elif header.startswith("Basic "):
            try:
                key = base64.b64decode(header[6:]).decode().split(":", 1)[0]
            except (ValueError, UnicodeDecodeError):
                key = ""
        if not key:
            raise StripeApiError(
                401,
                "invalid_request_error",
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            )
        if key not in state.keys:
            raise StripeApiError(
                401,
                "invalid_request_error",
                f"Invalid API Key provided: {key[:8]}{'*' * 8}{key[-4:]}",
                code="api_key_invalid" if not key.startswith(("sk_", "rk_")) else None,
            )
        return key, state.keys[key]

    def require(perms: frozenset[str] | None, key: str, method: str, resource: str) -> None:
        needed = PERMISSIONS.get((method, resource))
        if perms is None or needed is None or needed in perms:
            return
        raise StripeApiError(
            403,
            "invalid_request_error",
            f"The provided key '{key[:8]}{'*' * 8}{key[-4:]}' does not have the required permissions for this "
            f"endpoint on account 'acct_deskguardsandbox'. Having the '{needed}' permission would allow this "
            "request to continue.",
        )

    def injected_failure(method: str, path: str) -> Failure | None:
        for f in state.failures:
            if f.times > 0 and f.method == method and path.startswith(f.path):
                f.times -= 1
                return f
        return None

    def get_obj(table: dict[str, dict[str, Any]], obj_id: str, kind: str) -> dict[str, Any]:
        obj = table.get(obj_id)
        if obj is None:
            raise StripeApiError(
                404,
                "invalid_request_error",
                f"No such {kind}: '{obj_id}'",
                code="resource_missing",
                param="id",
            )
        return obj

    # --- endpoints -------------------------------------------------------------------
    def customers_search(params):
        email = _email_query(params.get("query", ""))
        limit = _limit(params)
        now = state.now()
        found = sorted(
            (
                c
                for c in state.customers.values()
                if c["email"] == email and c["created"] + state.search_lag_seconds <= now
            ),
            key=lambda c: (c["created"], c["id"]),
            reverse=True,
        )
        try:
            offset = (
                int(base64.urlsafe_b64decode(params["page"]).decode()) if params.get("page") else 0
            )
        except ValueError:
            raise StripeApiError(
                400, "invalid_request_error", "Invalid page", param="page"
            ) from None
        page = found[offset : offset + limit]
        more = len(found) > offset + limit
        next_page = (
            base64.urlsafe_b64encode(str(offset + limit).encode()).decode() if more else None
        )
        return {
            "object": "search_result",
            "data": page,
            "has_more": more,
            "next_page": next_page,
            "url": "/v1/customers/search",
        }

    def customers_list(params):
        rows = [
            c
            for c in state.customers.values()
            if not params.get("email") or c["email"] == params["email"]
        ]
        return _list(rows, params, "/v1/customers")

    def charges_list(params):
        rows = [
            c
            for c in state.charges.values()
            if (not params.get("customer") or c["customer"] == params["customer"])
            and (
                not params.get("payment_intent") or c["payment_intent"] == params["payment_intent"]
            )
        ]
        return _list(rows, params, "/v1/charges")

    def payment_intents_list(params):
        rows = [
            p
            for p in state.payment_intents.values()
            if not params.get("customer") or p["customer"] == params["customer"]
        ]
        return _list(rows, params, "/v1/payment_intents")

    def by_charge_or_pi(table, params, url):
        rows = [
            o
            for o in table.values()
            if (not params.get("charge") or o["charge"] == params["charge"])
            and (
                not params.get("payment_intent") or o["payment_intent"] == params["payment_intent"]
            )
        ]
        return _list(rows, params, url)

    def refunds_create(params):
        charge_id, pi_id = params.get("charge"), params.get("payment_intent")
        if not charge_id and not pi_id:
            raise StripeApiError(
                400,
                "invalid_request_error",
                "One of the following params should be provided for this request: payment_intent or charge.",
            )
        if pi_id:
            pi = get_obj(state.payment_intents, pi_id, "payment_intent")
            if charge_id and charge_id != pi["latest_charge"]:
                raise StripeApiError(
                    400,
                    "invalid_request_error",
                    "The charge does not belong to this payment_intent.",
                    param="charge",
                )
            charge_id = pi["latest_charge"]
        charge = get_obj(state.charges, charge_id, "charge")
        if charge["status"] != "succeeded":
            raise StripeApiError(
                400,
                "invalid_request_error",
                "This charge cannot be refunded because it has not succeeded.",
                param="charge",
            )
        if charge["disputed"]:
            raise StripeApiError(
                400,
                "invalid_request_error",
                f"Charge {charge_id} has been charged back; cannot issue a refund.",
                code="charge_disputed",
            )
        remaining = charge["amount"] - charge["amount_refunded"]
        if remaining <= 0:
            raise StripeApiError(
                400,
                "invalid_request_error",
                f"Charge {charge_id} has already been refunded.",
                code="charge_already_refunded",
            )
        try:
            amount = int(params.get("amount", remaining))
        except ValueError:
            raise StripeApiError(
                400, "invalid_request_error", "Invalid integer: amount", param="amount"
            ) from None
        if amount < 1:
            raise StripeApiError(
                400,
                "invalid_request_error",
                "Amount must be at least 1 cent.",
                code="amount_too_small",
                param="amount",
            )
        if amount > remaining:
            raise StripeApiError(
                400,
                "invalid_request_error",
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
                code="amount_too_large",
                param="amount",
            )
        reason = params.get("reason")
        if reason is not None and reason not in REFUND_REASONS:
            raise StripeApiError(
                400,
                "invalid_request_error",
                f"Invalid reason: must be one of {', '.join(REFUND_REASONS)}",
                param="reason",
            )
        metadata = params.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise StripeApiError(400, "invalid_request_error", "Invalid object", param="metadata")
        refund = {
            "id": state.new_id("re"),
            "object": "refund",
            "amount": amount,
            "currency": charge["currency"],
            "charge": charge_id,
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "status": "succeeded",
            "created": state.now(),
            "metadata": dict(metadata),
        }
        state.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        return refund

    routes: dict[tuple[str, str], Callable[[dict[str, Any]], dict[str, Any]]] = {
        ("GET", "customers/search"): customers_search,
        ("GET", "customers"): customers_list,
        ("GET", "charges"): charges_list,
        ("GET", "payment_intents"): payment_intents_list,
        ("GET", "refunds"): lambda p: by_charge_or_pi(state.refunds, p, "/v1/refunds"),
        ("GET", "disputes"): lambda p: by_charge_or_pi(state.disputes, p, "/v1/disputes"),
        ("POST", "refunds"): refunds_create,
    }
    tables = {
        "customers": (state.customers, "customer"),
        "charges": (state.charges, "charge"),
        "payment_intents": (state.payment_intents, "payment_intent"),
        "refunds": (state.refunds, "refund"),
        "disputes": (state.disputes, "dispute"),
    }

    def respond(
        status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> Response:
        resp = Response(json.dumps(body), status=status, mimetype="application/json")
        resp.headers["Request-Id"] = "req_" + uuid.uuid4().hex[:14]
        resp.headers["Stripe-Version"] = request.headers.get("Stripe-Version", API_VERSION)
        for k, v in (headers or {}).items():
            resp.headers[k] = v
        return resp

    @app.route("/v1/<path:path>", methods=["GET", "POST", "DELETE"])
    def api(path: str):
        method = request.method
        params = _parse_params(
            request.args.items(multi=True) if method == "GET" else request.form.items(multi=True)
        )
        idem = request.headers.get("Idempotency-Key") if method == "POST" else None
        with state.lock:
            entry = {
                "method": method,
                "path": "/v1/" + path,
                "params": params,
                "idempotency_key": idem,
                "status": None,
            }
            state.requests.append(entry)
            try:
                key, perms = authenticate()
                failure = injected_failure(method, "/v1/" + path)
                if failure:
                    raise StripeApiError(failure.status, "api_error", failure.message)
                parts = path.strip("/").split("/")
                resource = parts[0]
                require(perms, key, method, resource)
                if idem:
                    fp = _fingerprint(method, path, params)
                    stored = state.idempotency.get((key, idem))
                    if stored:
                        if stored[0] != fp:
                            raise StripeApiError(
                                400,
                                "idempotency_error",
                                "Keys for idempotent requests can only be used with the same parameters they were "
                                f"first used with. Try using a key other than '{idem}' if you meant to execute a "
                                "different request.",
                            )
                        entry["status"] = stored[1]
                        return respond(
                            stored[1],
                            stored[2],
                            {"Idempotent-Replayed": "true", "Idempotency-Key": idem},
                        )
                handler = routes.get((method, "/".join(parts)))
                if handler is None and method == "GET" and len(parts) == 2 and resource in tables:
                    table, kind = tables[resource]
                    handler = lambda p: get_obj(table, parts[1], kind)  # noqa: E731
                if handler is None:
                    raise StripeApiError(
                        404,
                        "invalid_request_error",
                        f"Unrecognized request URL ({method}: /v1/{path}).",
                    )
                try:
                    status, body = 200, handler(params)
                except StripeApiError as exc:
                    if not idem:
                        raise
                    status, body = exc.status, exc.body()
                if idem:
                    # The endpoint ran: its result, success or error, is what the key replays.
                    state.idempotency[(key, idem)] = (
                        _fingerprint(method, path, params),
                        status,
                        body,
                    )
                entry["status"] = status
                return respond(status, body, {"Idempotency-Key": idem} if idem else None)
            except StripeApiError as exc:
                entry["status"] = exc.status
                return respond(exc.status, exc.body(), exc.headers)

    # --- sandbox control plane (demo and tests) ---------------------------------------
    @app.post("/_sandbox/fail")
    def sandbox_fail():
        data = request.get_json(force=True)
        state.fail(
            data.get("method", "GET"),
            data["path"],
            int(data.get("status", 500)),
            int(data.get("times", 1)),
        )
        return respond(200, {"ok": True})

    @app.post("/_sandbox/webhook_endpoints")
    def sandbox_webhook_endpoint():
        data = request.get_json(force=True)
        state.add_webhook_endpoint(data["url"], data["secret"])
        return respond(200, {"ok": True})

    @app.post("/_sandbox/customers")
    def sandbox_customer():
        data = request.get_json(force=True)
        return respond(200, state.add_customer(data["email"], data.get("name", "")))

    @app.post("/_sandbox/disputes")
    def sandbox_dispute():
        data = request.get_json(force=True)
        charge_id = data.get("charge")
        if not charge_id and data.get("email"):
            charges = state.charges_of(data["email"])
            charge_id = charges[0]["id"] if charges else None
        if charge_id not in state.charges:
            return respond(
                404, {"error": {"type": "invalid_request_error", "message": "no such charge"}}
            )
        dispute, event = state.open_dispute(
            charge_id,
            reason=data.get("reason", "fraudulent"),
            due_in_days=float(data.get("due_in_days", 7)),
            deliver=bool(data.get("deliver", True)),
        )
        return respond(
            200,
            {
                "dispute": dispute,
                "event": event,
                "deliveries": [d.__dict__ for d in state.deliveries if d.event_id == event["id"]],
            },
        )

    @app.get("/_sandbox/requests")
    def sandbox_requests():
        with state.lock:
            return respond(200, {"requests": list(state.requests)})

    return app


@dataclass
class StripeSandbox:
    """A running Stripe sandbox and the settings that point Deskguard at it."""

    state: StripeState
    server: Any  # connector.sandbox.RunningServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def settings(self) -> dict[str, Any]:
        """Config overrides for ``Runtime(...)`` / ``create_app(...)``."""
        return {
            "stripe_api_key": DEMO_SECRET_KEY,
            "stripe_api_base": self.url,
            "stripe_webhook_secret": DEMO_WEBHOOK_SECRET,
        }

    @property
    def env(self) -> dict[str, str]:
        return {
            "DESKGUARD_STRIPE_API_KEY": DEMO_SECRET_KEY,
            "DESKGUARD_STRIPE_API_BASE": self.url,
            "DESKGUARD_STRIPE_WEBHOOK_SECRET": DEMO_WEBHOOK_SECRET,
        }

    def stop(self) -> None:
        self.server.stop()


def start_stripe_sandbox(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: bool = True,
    search_lag_seconds: float = 0.0,
    webhook_url: str | None = None,
    webhook_secret: str = DEMO_WEBHOOK_SECRET,
) -> StripeSandbox:
    """Serve the sandbox in a background thread (port 0 picks a free port); the demo uses this.

    ``webhook_url`` (e.g. ``http://127.0.0.1:8000/webhooks/stripe/<tenant>``) receives signed
    events, such as the one ``POST /_sandbox/disputes {"email": ...}`` sends.
    """
    from connector.sandbox import serve_in_thread

    state = StripeState(search_lag_seconds=search_lag_seconds)
    if seed:
        seed_demo(state)
    else:
        state.add_key(DEMO_SECRET_KEY)
    if webhook_url:
        state.add_webhook_endpoint(webhook_url, webhook_secret)
    return StripeSandbox(state, serve_in_thread(create_app(state), host=host, port=port))
