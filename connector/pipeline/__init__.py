"""Decision engine and guardrails (issue #5).

Wired in through the hooks described in connector/areas.py."""
