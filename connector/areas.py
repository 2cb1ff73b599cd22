"""Product areas plug into the CLI, the web app, the worker and the scheduler through these
optional module-level hooks, so each area's wiring lives next to its code:

- ``register_cli(cli)``: add click commands/groups to the ``deskguard`` group
- ``register_web(app)``: register Flask blueprints
- job handlers: ``@connector.worker.handler("kind")`` at import time
- ``register_schedules(scheduler, runtime)``: add APScheduler jobs (runs in one process only)
"""

from __future__ import annotations

import importlib
from types import ModuleType

AREAS = (
    "connector.zendesk",  # issue #3: webhooks, poller, Zendesk setup
    "connector.classify",  # issue #4: local model, Claude, redaction
    "connector.pipeline",  # issue #5: decision engine and guardrails
    "connector.commerce",  # issue #6: Shopify, Stripe, approvals
    "connector.panel",  # issue #7: side panel, admin dashboard, app package
)


def load() -> list[ModuleType]:
    return [importlib.import_module(name) for name in AREAS]


def hook(name: str):
    for module in load():
        fn = getattr(module, name, None)
        if fn is not None:
            yield fn
