"""A Stripe API emulator: the endpoints Deskguard uses, over Stripe's wire format.

The real ``stripe`` SDK talks to it over HTTP (``StripeClient(key, base_addresses={"api": url})``).
What it reproduces, because Deskguard's behaviour depends on it (docs/vendors/stripe.md):

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

Layout: ``state.py`` (the account), ``demo.py`` (the demo account), ``api.py`` (the request
pipeline every ``/v1`` route runs through), one blueprint per resource (``routes_*.py``),
``app.py`` (the app factory) and ``server.py`` (``start_stripe_sandbox``).
"""

from __future__ import annotations

from connector.devkit.sandbox.stripe.api import StripeApiError
from connector.devkit.sandbox.stripe.app import create_app
from connector.devkit.sandbox.stripe.demo import DEMO_CUSTOMERS, seed_demo
from connector.devkit.sandbox.stripe.server import StripeSandbox, start_stripe_sandbox
from connector.devkit.sandbox.stripe.state import (
    API_VERSION,
    DAY,
    DEFAULT_RESTRICTED_PERMISSIONS,
    DEMO_SECRET_KEY,
    DEMO_WEBHOOK_SECRET,
    PERMISSIONS,
    READ_ONLY_PERMISSIONS,
    REFUND_REASONS,
    Delivery,
    Failure,
    StripeState,
    sign_payload,
)

__all__ = [
    "API_VERSION",
    "DAY",
    "DEFAULT_RESTRICTED_PERMISSIONS",
    "DEMO_CUSTOMERS",
    "DEMO_SECRET_KEY",
    "DEMO_WEBHOOK_SECRET",
    "PERMISSIONS",
    "READ_ONLY_PERMISSIONS",
    "REFUND_REASONS",
    "Delivery",
    "Failure",
    "StripeApiError",
    "StripeSandbox",
    "StripeState",
    "create_app",
    "seed_demo",
    "sign_payload",
    "start_stripe_sandbox",
]
