"""Stripe adapter on the official SDK (``stripe.StripeClient``): PaymentSource + PaymentActions.

- Reads: customer by email (search, then the list endpoint because the search index lags
  writes by up to a minute, up to an hour in outages — docs/vendors/stripe.md), recent charges
  and PaymentIntents, their refunds and disputes → ``PaymentContext``.
- Writes: ``refund`` with an explicit ``Idempotency-Key``; callers reach it only through
  ``connector.actions.execute`` (an approved collaborative action). ``find_refund`` reconciles a
  refund whose outcome was lost (crash after send) by the key we put in its metadata, which
  outlives Stripe's ≥24 h idempotency-key retention.
- Webhooks: ``verify_webhook`` runs ``stripe.Webhook.construct_event`` on the raw body.
- Retries: ``max_network_retries`` is set explicitly (the client's own default is zero).
- API version: sent explicitly as ``Stripe-Version`` on every request (``api_version``, from
  ``DESKGUARD_STRIPE_API_VERSION``), so an SDK upgrade never changes the version behind our
  back; the default is the version stripe-python 16.1 pins (``SDK_API_VERSION`` is what the
  installed SDK pins; ``config check`` warns when ours is older). "Set a Stripe API version",
  https://docs.stripe.com/sdks/set-version; "How API versioning works",
  https://docs.stripe.com/api-versions.
- Calls go through ``StripeClient.v1.*``: the service accessors directly on ``StripeClient``
  (``client.customers``) are deprecated since stripe-python 13 (stripe/stripe-python pull
  request 1575, "Deprecate and move V1 services living directly under StripeClient").
- Objects: since stripe-python 15 a ``StripeObject`` is no longer a ``dict`` (no ``.get``,
  ``.items``; "Migration guide for v15",
  https://github.com/stripe/stripe-python/wiki/Migration-guide-for-v15). Every object the SDK
  returns is turned into plain dicts with ``to_dict()`` before our mappers read it, so the
  mappers read Stripe objects and webhook payloads the same way.
- Every SDK error becomes ``TransientError`` / ``PermanentError``; a restricted key (``rk_``)
  missing a permission gives a PermanentError naming the permission the call needs.
- Connecting a key (connector/commerce/stripe_connect.py): ``missing_permissions`` probes each
  permission Deskguard needs with a call that changes nothing and names those Stripe refuses
  with its permission error (HTTP 403, ``stripe.PermissionError``; "Restricted API keys",
  https://docs.stripe.com/keys/restricted-api-keys); ``ensure_webhook_endpoint`` creates our
  webhook endpoint once (``POST /v1/webhook_endpoints`` returns its signing ``secret`` only at
  creation; "Webhook Endpoints", https://stripe.com/docs/api/webhook_endpoints).

This is the only module that imports ``stripe``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import stripe

from connector.domain import Charge, Dispute, PaymentContext, PaymentIntent, Refund
from connector.errors import BadRequest, ConfigError, PermanentError, TransientError, Unauthorized

VENDOR = "stripe"
API_VERSION = "2026-10-28.endive"  # the default of DESKGUARD_STRIPE_API_VERSION
SDK_API_VERSION: str = stripe.api_version  # what the installed stripe-python pins
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
IDEMPOTENCY_METADATA = "deskguard_idempotency_key"

# What each call needs from a restricted key: (what we were doing, the key permission).
# Stripe's dashboard calls these "<Resource>: Read/Write" (labels UNCONFIRMED, see
# docs/vendors/stripe.md).
OPERATIONS: dict[str, tuple[str, str]] = {
    "customers.search": ("search customers by email", "Customers: Read"),
    "customers.list": ("list customers by email", "Customers: Read"),
    "customers.retrieve": ("read a customer", "Customers: Read"),
    "charges.list": ("list charges", "Charges: Read"),
    "charges.retrieve": ("read a charge", "Charges: Read"),
    "payment_intents.list": ("list PaymentIntents", "PaymentIntents: Read"),
    "refunds.list": ("list refunds", "Refunds: Read"),
    "refunds.create": ("create a refund", "Refunds: Write"),
    "disputes.list": ("list disputes", "Disputes: Read"),
    "webhook_endpoints.list": ("list webhook endpoints", "Webhook Endpoints: Read"),
    "webhook_endpoints.create": ("create a webhook endpoint", "Webhook Endpoints: Write"),
    "webhook_endpoints.delete": ("delete a webhook endpoint", "Webhook Endpoints: Write"),
}
# What a key needs for Deskguard, in the order they are checked: every operation above.
REQUIRED_PERMISSIONS = tuple(dict.fromkeys(p for _what, p in OPERATIONS.values()))
ENDPOINT_METADATA = "deskguard_tenant"
_EMPTY: Any = {}  # the write probes' deliberately incomplete parameters


class BadWebhookSignature(Unauthorized):
    code = "bad_signature"


class MissingWebhookSignature(BadRequest):
    code = "missing_signature"


def _ts(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value else None


def plain(obj: Any) -> Any:
    """A StripeObject (not a dict since stripe-python 15) as plain dicts and lists, recursively;
    anything else unchanged."""
    if isinstance(obj, stripe.StripeObject):
        return obj.to_dict()
    if isinstance(obj, list):
        return [plain(o) for o in obj]
    return obj


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """Field of a Stripe object (converted with ``plain``) or a webhook payload's dict."""
    data = plain(obj)
    value = data.get(name, default) if isinstance(data, dict) else default
    return default if value is None else value


def _id(value: Any) -> str | None:
    """An id field that may be expanded into an object."""
    if value is None or isinstance(value, str):
        return value
    return _get(value, "id")


def _metadata(obj: Any) -> dict[str, str]:
    meta = _get(obj, "metadata", {}) or {}
    return {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {}


def charge_from_stripe(obj: Any, *, email: str = "") -> Charge:
    obj = plain(obj)
    billing = _get(obj, "billing_details", {}) or {}
    return Charge(
        id=obj["id"],
        amount=int(_get(obj, "amount", 0)),
        currency=_get(obj, "currency", ""),
        status=_get(obj, "status", ""),
        created_at=_ts(_get(obj, "created")),
        payment_intent=_id(_get(obj, "payment_intent")),
        amount_refunded=int(_get(obj, "amount_refunded", 0)),
        disputed=bool(_get(obj, "disputed", False)),
        description=_get(obj, "description", ""),
        customer_id=_id(_get(obj, "customer")),
        email=_get(billing, "email", "") or _get(obj, "receipt_email", "") or email,
        metadata=_metadata(obj),
    )


def refund_from_stripe(obj: Any) -> Refund:
    obj = plain(obj)
    return Refund(
        id=obj["id"],
        amount=int(_get(obj, "amount", 0)),
        currency=_get(obj, "currency", ""),
        status=_get(obj, "status", ""),
        charge=_id(_get(obj, "charge")),
        payment_intent=_id(_get(obj, "payment_intent")),
        reason=_get(obj, "reason"),
        created_at=_ts(_get(obj, "created")),
    )


def dispute_from_stripe(obj: Any) -> Dispute:
    """Also used for the ``data.object`` of a ``charge.dispute.*`` webhook event (a plain dict)."""
    obj = plain(obj)
    evidence = _get(obj, "evidence_details", {}) or {}
    return Dispute(
        id=obj["id"],
        amount=int(_get(obj, "amount", 0)),
        currency=_get(obj, "currency", ""),
        reason=_get(obj, "reason", ""),
        status=_get(obj, "status", ""),
        charge=_id(_get(obj, "charge")),
        due_by=_ts(_get(evidence, "due_by")),
        payment_intent=_id(_get(obj, "payment_intent")),
        created_at=_ts(_get(obj, "created")),
    )


def payment_intent_from_stripe(obj: Any) -> PaymentIntent:
    obj = plain(obj)
    return PaymentIntent(
        id=obj["id"],
        amount=int(_get(obj, "amount", 0)),
        currency=_get(obj, "currency", ""),
        status=_get(obj, "status", ""),
        created_at=_ts(_get(obj, "created")),
        latest_charge=_id(_get(obj, "latest_charge")),
        description=_get(obj, "description", ""),
    )


def translate_error(exc: stripe.StripeError, operation: str) -> TransientError | PermanentError:
    """One Stripe SDK error → our error with retry semantics. Reads types and statuses, not text."""
    what, permission = OPERATIONS.get(operation, (operation, ""))
    status = getattr(exc, "http_status", None)
    detail = getattr(exc, "user_message", None) or str(exc) or type(exc).__name__
    headers = getattr(exc, "headers", None) or {}
    if isinstance(exc, stripe.APIConnectionError):
        return TransientError(f"Stripe unreachable while trying to {what}: {detail}", vendor=VENDOR)
    if isinstance(exc, stripe.RateLimitError) or status == 429:
        retry_after = headers.get("Retry-After") or headers.get("retry-after")
        return TransientError(
            f"Stripe rate limit while trying to {what}",
            vendor=VENDOR,
            status=429,
            retry_after=float(retry_after) if retry_after else None,
        )
    if status is not None and (status >= 500 or status == 409):
        return TransientError(
            f"Stripe error {status} while trying to {what}: {detail}", vendor=VENDOR, status=status
        )
    if isinstance(exc, stripe.AuthenticationError):
        return PermanentError(
            "Stripe rejected the API key (401): check DESKGUARD_STRIPE_API_KEY for this tenant",
            vendor=VENDOR,
            status=status,
            code="stripe_auth_failed",
        )
    if isinstance(exc, stripe.PermissionError):
        return PermanentError(
            f"The Stripe key may not {what}: a restricted key needs the '{permission}' permission "
            f"(Stripe said: {detail})",
            vendor=VENDOR,
            status=status,
            code="stripe_permission_missing",
        )
    if isinstance(exc, stripe.IdempotencyError):
        return PermanentError(
            f"Stripe refused to reuse an idempotency key with other parameters while trying "
            f"to {what}: {detail}",
            vendor=VENDOR,
            status=status,
            code="stripe_idempotency_error",
        )
    code = getattr(exc, "code", None)
    if status == 404:
        return PermanentError(
            f"Stripe: not found while trying to {what}: {detail}",
            vendor=VENDOR,
            status=404,
            code="stripe_not_found",
        )
    return PermanentError(
        f"Stripe rejected the request to {what}" + (f" ({code})" if code else "") + f": {detail}",
        vendor=VENDOR,
        status=status,
        code="stripe_rejected",
    )


def verify_webhook(
    payload: bytes, sig_header: str | None, secret: str, *, tolerance: int = 300
) -> dict[str, Any]:
    """Verify ``Stripe-Signature`` on the raw body, then parse it. Returns the event as a dict.

    Raises MissingWebhookSignature (400), BadWebhookSignature (401) or BadRequest (400, body not
    UTF-8 JSON). Nothing is parsed before the signature checks out.
    """
    if not sig_header:
        raise MissingWebhookSignature("missing Stripe-Signature header")
    if not secret:
        raise ConfigError(
            "the Stripe webhook endpoint secret is not configured (DESKGUARD_STRIPE_WEBHOOK_SECRET)"
        )
    try:
        stripe.Webhook.construct_event(payload, sig_header, secret, tolerance=tolerance)
    except stripe.SignatureVerificationError as exc:
        raise BadWebhookSignature(
            f"Stripe signature verification failed: {exc.user_message or exc}"
        ) from None
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("webhook body is not UTF-8 JSON") from None
    event = json.loads(payload)
    if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
        raise BadRequest("webhook body is not a Stripe event")
    return event


def _escape_query_value(value: str) -> str:
    # Stripe search: string values in single quotes; a quote inside is escaped with a backslash.
    return value.replace("\\", "\\\\").replace("'", "\\'")


def retries_within(wanted: int, max_wait_seconds: float) -> int:
    """How many network retries fit in ``max_wait_seconds`` of sleeping. stripe-python sleeps
    between retries itself, at most ``HTTPClient.MAX_DELAY`` (5 s) each with exponential backoff,
    and does not read ``Retry-After`` (stripe/_http_client.py, ``_sleep_time_seconds``); so N
    retries sleep at most N x MAX_DELAY. Beyond that the call fails as transient and the worker
    re-queues the job (connector/waits.py)."""
    per_retry = float(stripe.HTTPClient.MAX_DELAY)
    return max(0, min(int(wanted), int(max_wait_seconds // per_retry)))


class StripeAdapter:
    """One ``StripeClient`` per tenant.

    Thread-safe: the SDK's requests client keeps a session per thread.
    """

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str = "https://api.stripe.com",
        api_version: str = API_VERSION,
        max_network_retries: int = 2,
        timeout: float = 20.0,
        lookup_limit: int = 10,
        page_size: int = 100,
        max_customers: int = 3,
        http_client: stripe.HTTPClient | None = None,
        max_wait_seconds: float | None = None,
    ):
        api_key = str.__str__(api_key) if api_key else ""
        if not api_key.startswith(("sk_", "rk_")):
            raise ConfigError(
                "DESKGUARD_STRIPE_API_KEY must be a secret key (sk_...)"
                " or a restricted key (rk_...)"
            )
        if not api_version or not api_version.strip():
            raise ConfigError("DESKGUARD_STRIPE_API_VERSION must name a Stripe API version")
        if max_wait_seconds is not None:
            max_network_retries = retries_within(max_network_retries, max_wait_seconds)
        self.max_network_retries = max_network_retries
        self.restricted = api_key.startswith("rk_")
        self.api_version = api_version.strip()
        self.api_base = api_base.rstrip("/")
        self.lookup_limit = lookup_limit
        self.page_size = max(1, min(page_size, 100))
        self.max_customers = max_customers
        self.api_calls = 0
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": self.api_base},
            stripe_version=self.api_version,
            max_network_retries=max_network_retries,
            http_client=http_client or stripe.RequestsClient(timeout=timeout),
        )

    # --- plumbing --------------------------------------------------------------------
    def _call(self, operation: str, fn, *args, **kwargs):
        self.api_calls += 1
        try:
            return fn(*args, **kwargs)
        except stripe.StripeError as exc:
            raise translate_error(exc, operation) from None

    def _paged(self, operation: str, first_page, limit: int) -> Iterator[Any]:
        """Up to ``limit`` objects (as plain dicts), following ``has_more``/``starting_after``
        across pages."""
        iterator = iter(first_page.data)
        page = first_page
        count = 0
        while count < limit:
            for obj in iterator:
                yield plain(obj)
                count += 1
                if count >= limit:
                    return
            if not page.has_more or not page.data:
                return
            page = self._call(operation, page.next_page)
            iterator = iter(page.data)

    def _list(self, operation: str, service, params: dict[str, Any], limit: int) -> list[Any]:
        params = {**params, "limit": min(self.page_size, limit)}
        first = self._call(operation, service.list, params=params)
        return list(self._paged(operation, first, limit))

    # --- reading ---------------------------------------------------------------------
    def find_customers(self, email: str) -> list[Any]:
        """Customers with this email: search first, then list (search lags new customers)."""
        email = email.strip()
        if not email:
            return []
        query = f"email:'{_escape_query_value(email)}'"
        found = self._call(
            "customers.search",
            self._client.v1.customers.search,
            params={"query": query, "limit": self.max_customers},
        )
        customers = [plain(c) for c in found.data]
        if not customers:
            customers = self._list(
                "customers.list", self._client.v1.customers, {"email": email}, self.max_customers
            )
        return customers[: self.max_customers]

    def payment_context(self, email: str) -> PaymentContext:
        customers = self.find_customers(email)
        if not customers:
            return PaymentContext(customer_id=None, email=email)
        charges: list[Charge] = []
        intents: list[PaymentIntent] = []
        for cus in customers:
            cus_email = _get(cus, "email", "") or email
            for obj in self._list(
                "charges.list", self._client.v1.charges, {"customer": cus["id"]}, self.lookup_limit
            ):
                charges.append(charge_from_stripe(obj, email=cus_email))
            for obj in self._list(
                "payment_intents.list",
                self._client.v1.payment_intents,
                {"customer": cus["id"]},
                self.lookup_limit,
            ):
                intents.append(payment_intent_from_stripe(obj))
        charges.sort(key=lambda c: c.created_at or datetime.min.replace(tzinfo=UTC), reverse=True)
        intents.sort(key=lambda p: p.created_at or datetime.min.replace(tzinfo=UTC), reverse=True)
        refunds = list(
            itertools.chain.from_iterable(
                self.refunds_for(charge=c.id) for c in charges if c.amount_refunded
            )
        )
        disputes = list(
            itertools.chain.from_iterable(
                self.disputes_for(charge=c.id) for c in charges if c.disputed
            )
        )
        return PaymentContext(
            customer_id=customers[0]["id"],
            email=email,
            charges=tuple(charges),
            refunds=tuple(refunds),
            disputes=tuple(disputes),
            payment_intents=tuple(intents),
            customer_ids=tuple(c["id"] for c in customers),
        )

    def refunds_for(
        self, *, charge: str | None = None, payment_intent: str | None = None
    ) -> list[Refund]:
        params = {k: v for k, v in (("charge", charge), ("payment_intent", payment_intent)) if v}
        return [
            refund_from_stripe(o)
            for o in self._list("refunds.list", self._client.v1.refunds, params, self.lookup_limit)
        ]

    def disputes_for(
        self, *, charge: str | None = None, payment_intent: str | None = None
    ) -> list[Dispute]:
        params = {k: v for k, v in (("charge", charge), ("payment_intent", payment_intent)) if v}
        return [
            dispute_from_stripe(o)
            for o in self._list(
                "disputes.list", self._client.v1.disputes, params, self.lookup_limit
            )
        ]

    def charge(self, charge_id: str) -> Charge:
        """One charge, with the customer's email filled in when the charge itself has none."""
        obj = plain(self._call("charges.retrieve", self._client.v1.charges.retrieve, charge_id))
        charge = charge_from_stripe(obj)
        if not charge.email and charge.customer_id:
            cus = self._call(
                "customers.retrieve", self._client.v1.customers.retrieve, charge.customer_id
            )
            charge = charge_from_stripe(obj, email=_get(cus, "email", ""))
        return charge

    # --- writing (only from inside actions.execute) -----------------------------------
    def refund(
        self,
        *,
        payment_intent: str | None,
        charge: str | None,
        amount: int,
        reason: str,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> Refund:
        if bool(payment_intent) == bool(charge):
            raise ValueError("refund needs exactly one of payment_intent or charge")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 1:
            raise ValueError("refund amount must be a positive integer in minor units")
        if reason not in REFUND_REASONS:
            raise ValueError(f"refund reason must be one of {', '.join(REFUND_REASONS)}")
        if not idempotency_key or len(idempotency_key) > 255:
            raise ValueError("idempotency key must be 1-255 characters")
        params: dict[str, Any] = {
            "amount": amount,
            "reason": reason,
            "metadata": {**metadata, IDEMPOTENCY_METADATA: idempotency_key},
        }
        params["payment_intent" if payment_intent else "charge"] = payment_intent or charge
        obj = self._call(
            "refunds.create",
            self._client.v1.refunds.create,
            params=params,
            options={"idempotency_key": idempotency_key},
        )
        return refund_from_stripe(obj)

    def find_refund(
        self, *, payment_intent: str | None, charge: str | None, idempotency_key: str
    ) -> Refund | None:
        """The refund an earlier attempt with this key created, if Stripe has it.

        Used for crash reconciliation.
        """
        params = {k: v for k, v in (("charge", charge), ("payment_intent", payment_intent)) if v}
        first = self._call(
            "refunds.list", self._client.v1.refunds.list, params={**params, "limit": self.page_size}
        )
        for obj in self._paged("refunds.list", first, 1000):
            if _metadata(obj).get(IDEMPOTENCY_METADATA) == idempotency_key:
                return refund_from_stripe(obj)
        return None


@dataclass(frozen=True)
class WebhookEndpoint:
    id: str
    url: str
    secret: str | None = field(default=None, repr=False)  # only when created just now
    created: bool = False


def _probe_refused(exc: stripe.StripeError) -> bool:
    """True when Stripe refused the probe for lack of permission (anything else, e.g. the 400
    for the empty parameters a write probe sends, means the key may make the call)."""
    return isinstance(exc, stripe.PermissionError) or getattr(exc, "http_status", None) == 403


class StripeKeyCheck:
    """Checks a key's permissions and sets up our webhook endpoint (on a ``StripeAdapter``)."""

    def __init__(self, adapter: StripeAdapter):
        self._adapter = adapter
        self._client = adapter._client

    def _probes(self) -> list[tuple[str, Any]]:
        v1 = self._client.v1
        return [
            ("customers.list", lambda: v1.customers.list(params={"limit": 1})),
            ("charges.list", lambda: v1.charges.list(params={"limit": 1})),
            ("payment_intents.list", lambda: v1.payment_intents.list(params={"limit": 1})),
            ("refunds.list", lambda: v1.refunds.list(params={"limit": 1})),
            # A refund with no charge: Stripe answers 400 when the key may create refunds.
            ("refunds.create", lambda: v1.refunds.create(params={})),
            ("disputes.list", lambda: v1.disputes.list(params={"limit": 1})),
            ("webhook_endpoints.list", lambda: v1.webhook_endpoints.list(params={"limit": 1})),
            # An endpoint with no url: 400 when the key may create endpoints.
            ("webhook_endpoints.create", lambda: v1.webhook_endpoints.create(params=_EMPTY)),
        ]

    def missing_permissions(self) -> list[str]:
        """The permissions (labels of ``OPERATIONS``) Stripe refuses this key; [] when none.

        Raises PermanentError for a key Stripe does not know (401), TransientError when Stripe
        cannot be reached."""
        missing: list[str] = []
        for operation, call in self._probes():
            self._adapter.api_calls += 1
            try:
                call()
            except stripe.StripeError as exc:
                if _probe_refused(exc):
                    missing.append(OPERATIONS[operation][1])
                    continue
                error = translate_error(exc, operation)
                if isinstance(error, TransientError) or isinstance(exc, stripe.AuthenticationError):
                    raise error from None
        return list(dict.fromkeys(missing))

    def ensure_webhook_endpoint(
        self, url: str, events: list[str], *, tenant_id: str, have_secret: bool
    ) -> WebhookEndpoint:
        """Our endpoint for ``url``: the existing one when we still hold its secret; else any
        old ones at ``url`` are deleted and one is created (Stripe shows a secret only once).
        No idempotency key on the create: after a crash between create and storing the secret,
        the next attempt finds that endpoint without a secret, deletes it and creates another,
        whereas a replayed key would hand back an endpoint deleted in the meantime."""
        adapter = self._adapter
        v1 = self._client.v1
        first = adapter._call(
            "webhook_endpoints.list", v1.webhook_endpoints.list, params={"limit": 100}
        )
        ours = [
            e
            for e in adapter._paged("webhook_endpoints.list", first, 1000)
            if _get(e, "url") == url
        ]
        if ours and have_secret:
            return WebhookEndpoint(id=ours[0]["id"], url=url)
        for old in ours:
            adapter._call("webhook_endpoints.delete", v1.webhook_endpoints.delete, old["id"])
        created = plain(
            adapter._call(
                "webhook_endpoints.create",
                v1.webhook_endpoints.create,
                params={
                    "url": url,
                    "enabled_events": list(events),
                    "description": f"Deskguard (tenant {tenant_id})",
                    # events to this endpoint are rendered in the version we read them with,
                    # not the account default ("Webhook Endpoints", create: api_version)
                    "api_version": adapter.api_version,
                    "metadata": {ENDPOINT_METADATA: tenant_id},
                },
            )
        )
        return WebhookEndpoint(
            id=created["id"], url=url, secret=_get(created, "secret"), created=True
        )


def context_summary(ctx: PaymentContext) -> dict[str, Any]:
    """Counts for logs and lookups (no personal data beyond what the caller passed in)."""
    return {
        "customers": len(ctx.customer_ids),
        "charges": len(ctx.charges),
        "refunds": len(ctx.refunds),
        "disputes": len(ctx.disputes),
        "payment_intents": len(ctx.payment_intents),
    }
