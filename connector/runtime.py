"""The running product: config, ledger, queue, secrets, and vendor services per tenant.

Areas register *service factories* by name (``register_service("zendesk", factory)``); a
factory takes ``(runtime, tenant_id)`` and returns an adapter. Tests swap a service for an
in-memory fake with ``runtime.override("zendesk", fake)``. This is the one seam between the
pipeline and the vendors, in the spirit of stripe-python's ``http_client=``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from connector.db import Ledger
from connector.queue import Queue
from connector.secrets import SecretBox, SecretStore
from connector.settings import Config, load_config

ServiceFactory = Callable[["Runtime", str], Any]
SERVICE_FACTORIES: dict[str, ServiceFactory] = {}


def register_service(name: str, factory: ServiceFactory) -> None:
    SERVICE_FACTORIES[name] = factory


class Runtime:
    def __init__(
        self, config: Config | Mapping[str, Any] | None = None, *, jitter=None, clock=None
    ):
        if not isinstance(config, Config):
            config = load_config(config)
        self.config = config
        self.ledger = Ledger(config.db_path, busy_timeout_ms=config.busy_timeout_ms)
        kwargs = {k: v for k, v in (("jitter", jitter), ("clock", clock)) if v is not None}
        self.queue = Queue.from_config(self.ledger, config, **kwargs)
        self._box: SecretBox | None = None
        self._services: dict[tuple[str, str], Any] = {}
        self._overrides: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def db(self):
        return self.ledger.db

    @property
    def secrets(self) -> SecretStore:
        """Fails with a clear ConfigError when DESKGUARD_SECRET_KEYS is missing or malformed."""
        if self._box is None:
            self._box = SecretBox(self.config.secret_keys)
        return SecretStore(self._box)

    def service(self, name: str, tenant_id: str) -> Any:
        if name in self._overrides:
            return self._overrides[name]
        key = (name, tenant_id)
        with self._lock:
            if key not in self._services:
                if name not in SERVICE_FACTORIES:
                    raise KeyError(f"no service {name!r} registered")
                self._services[key] = SERVICE_FACTORIES[name](self, tenant_id)
            return self._services[key]

    def has_service(self, name: str) -> bool:
        return name in self._overrides or name in SERVICE_FACTORIES

    def override(self, name: str, service: Any) -> None:
        self._overrides[name] = service

    def forget_services(self, tenant_id: str | None = None) -> None:
        """Drop cached adapters (after a credential change or `app/uninstalled`)."""
        with self._lock:
            for key in list(self._services):
                if tenant_id is None or key[1] == tenant_id:
                    del self._services[key]

    def close(self) -> None:
        self.ledger.close()
