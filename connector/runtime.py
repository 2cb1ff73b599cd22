"""The running product in one process: config, ledger, queue, secrets and each tenant's services.

``Runtime.services(tenant_id)`` returns the tenant's vendor clients (connector/services.py),
built once and cached until ``forget_services`` (after a credential change or `app/uninstalled`).
Tests hand in fakes through ``fakes`` (see ``connector/devkit/fakes.py``: ``inject``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from connector import audit_keys
from connector.db import Ledger
from connector.queue import Queue
from connector.secrets import SecretBox, SecretStore
from connector.services import TenantServices, build_services
from connector.settings import Config, load_config


class Runtime:
    def __init__(
        self,
        config: Config | Mapping[str, Any] | None = None,
        *,
        jitter: Callable[[], float] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not isinstance(config, Config):
            config = load_config(config)
        self.config = config
        self.ledger = Ledger(
            config.ledger_location,
            busy_timeout_ms=config.busy_timeout_ms,
            pool_size=config.database_pool_size,
        )
        # The audit chain's keys are never in the ledger: registered here for this ledger.
        audit_keys.use_keys(config.ledger_location, audit_keys.Keyring.from_config(config))
        kwargs: dict[str, Any] = {
            k: v for k, v in (("jitter", jitter), ("clock", clock)) if v is not None
        }
        self.queue = Queue.from_config(self.ledger, config, **kwargs)
        # Clients that replace the real ones for every tenant (keyword arguments of
        # build_services: desk, orders, payments, classifier). Set by tests and benchmarks.
        self.fakes: dict[str, Any] = {}
        self._box: SecretBox | None = None
        self._services: dict[str, TenantServices] = {}
        self._lock = threading.Lock()

    @property
    def db(self) -> Any:
        return self.ledger.db

    @property
    def secrets(self) -> SecretStore:
        """Fails with a clear ConfigError when DESKGUARD_SECRET_KEYS is missing or malformed."""
        if self._box is None:
            self._box = SecretBox(self.config.secret_keys)
        return SecretStore(self._box)

    def services(self, tenant_id: str) -> TenantServices:
        """The tenant's vendor clients (desk, orders, payments, classifier), built once."""
        with self._lock:
            services = self._services.get(tenant_id)
            if services is None:
                services = build_services(self, tenant_id, **self.fakes)
                self._services[tenant_id] = services
            return services

    def forget_services(self, tenant_id: str | None = None) -> None:
        """Drop cached clients (after a credential change or `app/uninstalled`)."""
        with self._lock:
            if tenant_id is None:
                self._services.clear()
            else:
                self._services.pop(tenant_id, None)

    def close(self) -> None:
        self.ledger.close()
