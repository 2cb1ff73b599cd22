"""Product areas plug into the CLI, the web app, the worker and the scheduler through these
optional module-level hooks, so each area's wiring lives next to its code:

- ``register_cli(cli)``: add click commands/groups to the ``deskguard`` group
- ``register_web(app)``: register Flask blueprints
- job handlers: ``@connector.worker.handler("kind")`` at import time
- ``WIRING``: module names imported when the areas load (for what they register at import)
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
    """Every area package, and the modules each lists in ``WIRING`` (imported for what they
    register: services, job handlers), so a package itself can stay cheap to import."""
    modules = [importlib.import_module(name) for name in AREAS]
    for module in modules:
        for name in getattr(module, "WIRING", ()):
            importlib.import_module(name)
    return modules


def hook(name: str):
    for module in load():
        fn = getattr(module, name, None)
        if fn is not None:
            yield fn
