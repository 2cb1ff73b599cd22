"""Decision engine and guardrails (issue #5).

``process_ticket(runtime, tenant_id, ticket_id, *, job=None)`` runs the pipeline for one ticket
event (connector/pipeline/engine.py). ``set_category_modes`` switches modes in one call (the
demo uses it). Wired into the CLI, web app and scheduler through the hooks of connector/areas.py.
"""

from connector.pipeline.engine import Result, process_ticket
from connector.pipeline.policy import set_category_modes, set_default_mode

__all__ = ["Result", "process_ticket", "set_category_modes", "set_default_mode"]
