"""A tenant's vendor clients, built in one place.

``build_services(runtime, tenant_id)`` returns a ``TenantServices``: the Zendesk desk, the Shopify
order source, the Stripe payment source and the ticket classifier, typed by the protocols in
``connector/domain.py``. ``Runtime.services(tenant_id)`` caches one per tenant.

A vendor that is not set up for the tenant is ``None``, with the reason kept in ``problems``;
``require_desk()`` and friends raise that reason as a ``ConfigError`` where a caller cannot go on
without the vendor. Tests pass fakes through the keyword arguments (see
``connector/devkit/fakes.py``: ``inject``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from connector.classify.service import TenantClassifier
from connector.commerce.service import build_orders, build_payments
from connector.domain import Classifier, OrderSource, PaymentSource, TicketDesk
from connector.errors import ConfigError
from connector.zendesk.service import build_desk

if TYPE_CHECKING:
    from connector.runtime import Runtime

T = TypeVar("T")


@dataclass(frozen=True)
class TenantServices:
    tenant_id: str
    desk: TicketDesk | None
    orders: OrderSource | None
    payments: PaymentSource | None
    classifier: Classifier
    problems: Mapping[str, str] = field(default_factory=dict)

    def require_desk(self) -> Any:
        """The Zendesk desk (the adapter offers more than ``TicketDesk``), or ConfigError."""
        return self._require("desk", self.desk)

    def require_orders(self) -> Any:
        return self._require("orders", self.orders)

    def require_payments(self) -> Any:
        return self._require("payments", self.payments)

    def _require(self, name: str, value: T | None) -> T:
        if value is None:
            raise ConfigError(
                self.problems.get(name) or f"{name} is not set up for {self.tenant_id}"
            )
        return value


def _built(build: Callable[[], T], name: str, problems: dict[str, str]) -> T | None:
    try:
        return build()
    except ConfigError as exc:
        problems[name] = exc.message or str(exc)
        return None


def build_services(
    runtime: Runtime,
    tenant_id: str,
    *,
    desk: TicketDesk | None = None,
    orders: OrderSource | None = None,
    payments: PaymentSource | None = None,
    classifier: Classifier | None = None,
) -> TenantServices:
    """The tenant's vendor clients; any client given as an argument is used as it is."""
    problems: dict[str, str] = {}
    return TenantServices(
        tenant_id=tenant_id,
        desk=_built(lambda: build_desk(runtime, tenant_id), "desk", problems)
        if desk is None
        else desk,
        orders=_built(lambda: build_orders(runtime, tenant_id), "orders", problems)
        if orders is None
        else orders,
        payments=_built(lambda: build_payments(runtime, tenant_id), "payments", problems)
        if payments is None
        else payments,
        classifier=TenantClassifier(runtime, tenant_id) if classifier is None else classifier,
        problems=problems,
    )
