"""Ticket understanding (issue #4).

Wired in through the hooks described in connector/areas.py."""
