"""Structured JSON logs, with tenant/ticket/job context bound once per job (contextvars).

``bind(tenant=..., ticket=..., job=...)`` sets context for the current thread/job; every log line
emitted inside carries it. Values whose key looks secret are masked by the formatter, and
``SecretValue`` masks itself, so no token reaches a log line.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "deskguard_log_context", default=None
)
_SECRETISH = re.compile(r"(token|secret|password|api_key|authorization)", re.I)


@contextlib.contextmanager
def bind(**values: Any) -> Iterator[None]:
    token = _context.set(
        {**(_context.get() or {}), **{k: v for k, v in values.items() if v is not None}}
    )
    try:
        yield
    finally:
        _context.reset(token)


def context() -> dict[str, Any]:
    return dict(_context.get() or {})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            **(_context.get() or {}),
        }
        for key, value in getattr(record, "fields", {}).items():
            out[key] = "********" if _SECRETISH.search(key) else value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class ConsoleFormatter(JsonFormatter):
    def format(self, record: logging.LogRecord) -> str:
        data = json.loads(super().format(record))
        head = f"{data.pop('ts')} {data.pop('level'):7} {data.pop('event')}"
        data.pop("logger", None)
        exc = data.pop("exc", None)
        tail = " ".join(f"{k}={v}" for k, v in data.items())
        return head + (f"  {tail}" if tail else "") + (f"\n{exc}" if exc else "")


def configure(level: str = "info", fmt: str = "json", stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    root = logging.getLogger("deskguard")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def get(name: str) -> logging.Logger:
    return logging.getLogger(f"deskguard.{name}")


def log(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """Log an event with structured fields: ``log(LOG, logging.INFO, "job.done", ms=12)``."""
    logger.log(level, event, extra={"fields": fields})
