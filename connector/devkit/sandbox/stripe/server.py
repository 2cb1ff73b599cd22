"""Running a Stripe sandbox in a background thread, and the settings that point Deskguard at
it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector.devkit.sandbox import RunningServer, serve_in_thread
from connector.devkit.sandbox.stripe.app import create_app
from connector.devkit.sandbox.stripe.demo import seed_demo
from connector.devkit.sandbox.stripe.state import (
    DEMO_SECRET_KEY,
    DEMO_WEBHOOK_SECRET,
    StripeState,
)


@dataclass
class StripeSandbox:
    """A running Stripe sandbox and the settings that point Deskguard at it."""

    state: StripeState
    server: RunningServer

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
    state = StripeState(search_lag_seconds=search_lag_seconds)
    if seed:
        seed_demo(state)
    else:
        state.add_key(DEMO_SECRET_KEY)
    if webhook_url:
        state.add_webhook_endpoint(webhook_url, webhook_secret)
    return StripeSandbox(state, serve_in_thread(create_app(state), host=host, port=port))
