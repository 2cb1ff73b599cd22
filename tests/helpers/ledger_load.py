"""Write load on a ledger while something else runs (the backup tests copy under it)."""

from __future__ import annotations

import threading


def enqueue_until(runtime, stop: threading.Event, counter: list[int]) -> None:
    """Enqueue jobs one after another until ``stop`` is set; ``counter[0]`` counts them. Closes
    this thread's ledger connection at the end."""
    try:
        while not stop.is_set():
            n = counter[0]
            runtime.queue.enqueue("acme", "zendesk.ticket", {"ticket_id": n + 1}, f"load-{n}")
            counter[0] = n + 1
    finally:
        runtime.ledger.close()
