"""Zendesk app side panel and admin dashboard (issue #7).

Wired in through the hooks described in connector/areas.py."""
