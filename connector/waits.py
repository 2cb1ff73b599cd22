"""Bounded waits: no vendor call holds a worker longer than DESKGUARD_VENDOR_MAX_WAIT_SECONDS.

A vendor that answers 429 (or 503) says how long to wait (``Retry-After``). A short wait is best
spent in place: the job finishes in this attempt. A long one (a real ``Retry-After: 600``) must not
hold a worker thread for minutes: the call gives up with ``TransientError(retry_after=...)`` and the
worker puts the job back in the queue with that delay (``Queue.fail`` honours ``retry_after``), so
the thread serves other tenants meanwhile.

Every adapter that retries by itself asks one ``WaitBudget`` per call, before each sleep::

    budget = WaitBudget.from_config(config)
    ...
    budget.wait(retry_after, vendor="zendesk", status=429)   # sleeps, or raises TransientError

The longest wait actually spent in place is kept per process (``longest_wait``) for benchmarks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from connector.errors import TransientError

DEFAULT_MAX_WAIT = 30.0
_longest = 0.0
_lock = threading.Lock()


def longest_wait() -> float:
    """The longest single call's total in-place wait in this process, in seconds."""
    return _longest


def reset_longest_wait() -> None:
    global _longest
    with _lock:
        _longest = 0.0


def _note(total: float) -> None:
    global _longest
    with _lock:
        _longest = max(_longest, total)


class WaitBudget:
    """The in-place waiting one vendor call may still do (all its retries together)."""

    def __init__(
        self,
        max_wait: float = DEFAULT_MAX_WAIT,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_wait = max(0.0, float(max_wait))
        self.waited = 0.0
        self._sleep = sleep

    @classmethod
    def from_config(cls, config: Any, **kwargs: Any) -> WaitBudget:
        return cls(float(config.get("vendor_max_wait_seconds", DEFAULT_MAX_WAIT)), **kwargs)

    def allows(self, seconds: float) -> bool:
        return self.waited + max(0.0, seconds) <= self.max_wait

    def wait(
        self,
        seconds: float | None,
        *,
        vendor: str,
        status: int | None = None,
        message: str = "",
    ) -> None:
        """Sleep ``seconds`` when the call's total wait stays within the budget; otherwise raise
        ``TransientError`` carrying ``retry_after=seconds`` (the job goes back to the queue)."""
        delay = max(0.0, float(seconds or 0.0))
        if not self.allows(delay):
            raise TransientError(
                message
                or f"{vendor} asked to wait {delay:.0f} s; longer than this worker may wait "
                f"({self.max_wait:.0f} s): the job is retried later",
                vendor=vendor,
                status=status,
                retry_after=delay,
            )
        if delay:
            self._sleep(delay)
        self.waited += delay
        _note(self.waited)
