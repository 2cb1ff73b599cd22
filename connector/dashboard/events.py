"""Typed audit events of the dashboard: one dataclass per thing that happens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from connector import audit


# --- sign-in -------------------------------------------------------------------------------
@audit.event
@dataclass(frozen=True)
class AdminLoginFailed(audit.Event):
    kind: ClassVar[str] = "admin.login_failed"
    client_ip: str
    via: str  # "form" or "bearer"
    failures_from_ip: int  # in the window, this one included
    failures_total: int
    locked: str  # "ip" or "global" when this failure reached a limit, else ""
