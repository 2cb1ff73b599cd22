"""Decision engine and guardrails (issue #5).

Wired in through the hooks described in connector/areas.py."""

from connector.pipeline.engine import Result, process_ticket

__all__ = ["Result", "process_ticket"]
