"""Single-tenant self-host: the tenant configured from `.env`.

``ensure_env_tenant`` creates (or updates) that tenant and lets each area store its own
credentials from the environment into the encrypted secret store (hook
``configure_env_tenant(runtime, tenant_id)`` in an area module).
"""

from __future__ import annotations

from connector import areas
from connector.runtime import Runtime
from connector.tenants import ensure_tenant


def env_tenant_id(runtime: Runtime) -> str:
    config = runtime.config
    tenant = config.tenant_id or config.get("zendesk_subdomain", "") or "default"
    return tenant


def ensure_env_tenant(runtime: Runtime) -> str:
    tenant_id = env_tenant_id(runtime)
    ensure_tenant(runtime.db, tenant_id, source="env")
    for configure in areas.hook("configure_env_tenant"):
        configure(runtime, tenant_id)
    return tenant_id
