"""Single-tenant self-host: the tenant configured from `.env`.

``ensure_env_tenant`` creates (or updates) that tenant and stores each vendor's credentials from
the environment in the encrypted secret store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connector.classify.service import configure_env_tenant as configure_anthropic
from connector.commerce.service import configure_env_tenant as configure_commerce
from connector.tenants import ensure_tenant
from connector.zendesk.service import configure_env_tenant as configure_zendesk

if TYPE_CHECKING:
    from connector.runtime import Runtime


def env_tenant_id(runtime: Runtime) -> str:
    config = runtime.config
    tenant: str = config.tenant_id or config.get("zendesk_subdomain", "") or "default"
    return tenant


def ensure_env_tenant(runtime: Runtime) -> str:
    tenant_id = env_tenant_id(runtime)
    ensure_tenant(runtime.db, tenant_id, source="env")
    configure_zendesk(runtime, tenant_id)
    configure_anthropic(runtime, tenant_id)
    configure_commerce(runtime, tenant_id)
    return tenant_id
