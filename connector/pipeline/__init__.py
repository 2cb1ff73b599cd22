"""Decision engine and guardrails (issue #5).

``process_ticket(runtime, tenant_id, ticket_id, *, job=None)`` runs the pipeline for one ticket
event (connector/pipeline/engine.py). ``set_category_modes`` switches modes in one call (the
demo uses it). Wired into the CLI, web app and scheduler through the hooks of connector/areas.py.
"""

from connector.pipeline.engine import Result, process_ticket
from connector.pipeline.policy import set_category_modes, set_default_mode


def register_cli(cli) -> None:
    from connector.pipeline.cli import register_cli as register

    register(cli)


def register_web(app) -> None:
    from connector.pipeline.api import register_web as register

    register(app)


def register_schedules(scheduler, runtime) -> None:
    from connector.pipeline.killswitch import register_schedules as register

    register(scheduler, runtime)


__all__ = [
    "Result",
    "process_ticket",
    "register_cli",
    "register_schedules",
    "register_web",
    "set_category_modes",
    "set_default_mode",
]
