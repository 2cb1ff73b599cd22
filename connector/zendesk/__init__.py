"""Zendesk intake and write-back (issue #3).

Wired in through the hooks described in connector/areas.py."""
