"""Deskguard: an open-source AI triage sidecar for Zendesk teams of online stores."""

__version__ = "0.1.0"
