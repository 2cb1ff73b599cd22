"""The Anthropic sandbox's account state (API keys, injected failures, scripted answers, the
prompt cache and the request log) and the API's error shape."""

from __future__ import annotations

import itertools
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEMO_API_KEY = "sk-ant-sandbox-deskguard-demo"
# Minimum cacheable prefix per model (docs/vendors/anthropic.md, prompt caching); others 1024.
MIN_CACHE_TOKENS = {
    "claude-haiku-4-5": 4096,
    "claude-haiku-4-5-20251001": 4096,
    "claude-opus-4-5": 4096,
    "claude-opus-4-6": 4096,
    "claude-sonnet-4-5": 1024,
    "claude-opus-4-1": 1024,
    "claude-opus-4": 1024,
    "claude-3-5-haiku-latest": 2048,
    "claude-3-haiku-20240307": 2048,
}
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "api_error",
    529: "overloaded_error",
}


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}

    def body(self, request_id: str) -> dict[str, Any]:
        return {
            "type": "error",
            "error": {"type": ERROR_TYPES.get(self.status, "api_error"), "message": self.message},
            "request_id": request_id,
        }


@dataclass
class Failure:
    status: int
    times: int
    retry_after: float | None = None


@dataclass
class AnthropicState:
    """In-memory API account. Every public method is thread-safe."""

    api_keys: set[str] = field(default_factory=lambda: {DEMO_API_KEY})
    clock: Callable[[], float] = time.monotonic
    delay_seconds: float = 0.0
    min_cache_tokens: dict[str, int] = field(default_factory=lambda: dict(MIN_CACHE_TOKENS))
    failures: list[Failure] = field(default_factory=list)
    invalid_outputs: int = 0
    refusals: int = 0  # the next N answers are refusals (stop_reason "refusal", no content)
    refusal_category: str | None = "general_harms"  # their stop_details.category
    scripted_texts: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    cache: dict[str, float] = field(default_factory=dict)  # prefix key -> expiry (clock time)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _seq: itertools.count = field(default_factory=lambda: itertools.count(1))

    # --- control plane ---------------------------------------------------------------
    def add_key(self, key: str) -> str:
        with self.lock:
            self.api_keys.add(key)
        return key

    def fail(self, status: int = 529, times: int = 1, retry_after: float | None = None) -> None:
        """The next ``times`` requests answer ``status`` (e.g. 429, 529, 500). A 429 always
        carries ``retry-after`` (1 s unless given), as the real API's does."""
        if status == 429 and retry_after is None:
            retry_after = 1.0
        with self.lock:
            self.failures.append(Failure(status, times, retry_after))

    def invalid_next(self, times: int = 1) -> None:
        """The next ``times`` tool_use answers carry input that fails the reading schema."""
        with self.lock:
            self.invalid_outputs += times

    def refuse_next(self, times: int = 1, category: str | None = "general_harms") -> None:
        """The next ``times`` answers decline: HTTP 200, no content, ``stop_reason: refusal``
        with ``stop_details.category`` (None: a refusal with no named category)."""
        with self.lock:
            self.refusals += times
            self.refusal_category = category

    def script_text(self, *texts: str) -> None:
        """The next text answers are exactly these strings (in order)."""
        with self.lock:
            self.scripted_texts.extend(texts)

    def reset(self) -> None:
        with self.lock:
            self.failures.clear()
            self.scripted_texts.clear()
            self.requests.clear()
            self.cache.clear()
            self.invalid_outputs = 0
            self.refusals = 0
            self.refusal_category = "general_harms"
            self.delay_seconds = 0.0

    def recorded(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.requests)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._seq):04d}{uuid.uuid4().hex[:20]}"

    # --- internals (call with the lock held) -----------------------------------------------
    def _take_failure(self) -> Failure | None:
        for failure in self.failures:
            if failure.times > 0:
                failure.times -= 1
                if failure.times == 0:
                    self.failures.remove(failure)
                return failure
        return None

    def _cache_lookup(self, key: str, ttl: float) -> bool:
        """True on a hit (and refresh); False after writing a new entry."""
        now = self.clock()
        hit = self.cache.get(key, -math.inf) > now
        self.cache[key] = now + ttl
        return hit
