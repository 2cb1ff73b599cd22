"""Run the Flask app under gunicorn from `deskguard serve` (no separate config file needed)."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication


class _App(BaseApplication):
    def __init__(self, options: dict[str, Any], overrides: dict[str, Any] | None):
        self.options = options
        self.overrides = overrides or None
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from connector.web import create_app

        # Each web worker builds its own app after the fork (sqlite connections must not be
        # shared across processes). The scheduler is never started here.
        return create_app(self.overrides)


def run(
    *, host: str, port: int, workers: int, threads: int, overrides: dict[str, Any] | None = None
) -> None:
    _App(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "accesslog": None,
            "timeout": 30,
            "graceful_timeout": 10,
        },
        overrides,
    ).run()
