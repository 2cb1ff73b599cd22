"""Write leases: one worker at a time may send a given write (idempotency key).

connector.actions replays a *completed* key and reconciles a key an earlier attempt left in
flight; but two workers running the same ticket version at the same moment (a webhook and the
poller, or two quick customer comments) would both find the key in flight and both send. The
lease (table ``write_leases``, migrations/m004_decisions.py) makes the second one back off with a
retryable error; its retry then replays the recorded result. A crashed holder's lease runs out
after ``DESKGUARD_QUEUE_LEASE_SECONDS``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from connector.db import transaction
from connector.errors import TransientError
from connector.runtime import Runtime


@contextlib.contextmanager
def write_lease(rt: Runtime, tenant_id: str, key: str) -> Iterator[None]:
    """Hold the one lease on ``key`` while sending it; TransientError when another worker holds it."""
    owner = f"{threading.get_ident()}:{id(rt)}"
    now = time.time()
    lease = float(rt.config.get("queue_lease_seconds", 120.0))
    db = rt.db
    with transaction(db):
        row = db.conn.execute("SELECT owner, expires_at FROM write_leases WHERE tenant_id = ? AND idempotency_key = ?",
                              (tenant_id, key)).fetchone()
        if row and row[0] != owner and row[1] > now:
            raise TransientError(f"another worker is sending {key}", vendor="deskguard",
                                 retry_after=max(1.0, row[1] - now))
        db.conn.execute("INSERT INTO write_leases (tenant_id, idempotency_key, owner, expires_at) VALUES (?,?,?,?)"
                        " ON CONFLICT (tenant_id, idempotency_key) DO UPDATE SET owner = excluded.owner,"
                        " expires_at = excluded.expires_at", (tenant_id, key, owner, now + lease))
    try:
        yield
    finally:
        with transaction(db):
            db.conn.execute("DELETE FROM write_leases WHERE tenant_id = ? AND idempotency_key = ? AND owner = ?",
                            (tenant_id, key, owner))
