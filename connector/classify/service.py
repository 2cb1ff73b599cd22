"""Which engine reads a tenant's tickets: the tenant's classifier.

``get_classifier(runtime, tenant_id)`` picks the engine: the tenant setting ``classifier`` when
set, else DESKGUARD_CLASSIFIER (default ``local``). The local model comes from the tenant
setting ``model_dir`` (a model trained with ``deskguard train``) or the shipped default. Claude
uses the tenant's Anthropic key from the encrypted secret store and falls back to the local
model. Engines are built once per (tenant, settings, key) and reused; a changed tenant setting
or a rotated key takes effect on the next ticket, because the registered service
(``TenantClassifier``, built in connector/services.py) looks the engine up on every call.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from typing import TYPE_CHECKING, Any

from connector.classify.claude import ClaudeClassifier, DraftReply, Prices
from connector.domain import Classifier, Reading, TicketText
from connector.errors import ConfigError
from connector.tenants import get_setting

if TYPE_CHECKING:
    from connector.runtime import Runtime

ENGINES = ("local", "claude")
API_KEY_SECRET = "anthropic_api_key"

_lock = threading.Lock()
_engines: weakref.WeakKeyDictionary[Runtime, dict[tuple, Any]] = weakref.WeakKeyDictionary()


def engine_name(runtime: Runtime, tenant_id: str) -> str:
    name = get_setting(runtime.db, tenant_id, "classifier") or runtime.config.classifier
    if name not in ENGINES:
        raise ConfigError(
            f"tenant {tenant_id!r} setting classifier={name!r} is not one of {', '.join(ENGINES)}"
        )
    return name


def local_classifier(runtime: Runtime, tenant_id: str) -> Classifier:
    from connector.classify.local import LocalClassifier  # loads numpy weights: only when needed

    return LocalClassifier.load(get_setting(runtime.db, tenant_id, "model_dir") or None)


def anthropic_key(runtime: Runtime, tenant_id: str) -> str | None:
    """The tenant's stored Anthropic key, or None (also when no secret keys are configured)."""
    if not runtime.config.secret_keys:
        return None
    value = runtime.secrets.get(runtime.db, tenant_id, API_KEY_SECRET)
    return value.reveal() if value else None


def _cached(runtime: Runtime, key: tuple, build) -> Any:
    with _lock:
        per_runtime = _engines.setdefault(runtime, {})
        if key not in per_runtime:
            per_runtime[key] = build()
        return per_runtime[key]


def claude_classifier(runtime: Runtime, tenant_id: str) -> ClaudeClassifier:
    from adapters.anthropic import AnthropicClient

    config = runtime.config
    api_key = anthropic_key(runtime, tenant_id)
    model_dir = get_setting(runtime.db, tenant_id, "model_dir") or None
    fingerprint = hashlib.sha256(api_key.encode()).hexdigest()[:16] if api_key else None

    def build() -> ClaudeClassifier:
        client = AnthropicClient.from_config(config, api_key) if api_key else None
        return ClaudeClassifier(
            client,
            fallback=lambda: local_classifier(runtime, tenant_id),
            model=config.claude_model,
            max_tokens=config.claude_max_tokens,
            prices=Prices.from_config(config),
            not_configured=f"no Anthropic API key is stored for tenant {tenant_id!r} "
            "(set DESKGUARD_ANTHROPIC_API_KEY)",
        )

    return _cached(runtime, ("claude", tenant_id, fingerprint, model_dir), build)


def get_classifier(runtime: Runtime, tenant_id: str) -> Classifier:
    """The engine that reads this tenant's tickets now."""
    if engine_name(runtime, tenant_id) == "claude":
        return claude_classifier(runtime, tenant_id)
    return local_classifier(runtime, tenant_id)


def drafts_enabled(runtime: Runtime, tenant_id: str) -> bool:
    value = get_setting(runtime.db, tenant_id, "claude_draft_replies")
    return bool(runtime.config.claude_draft_replies if value is None else value)


def get_drafter(runtime: Runtime, tenant_id: str) -> ClaudeClassifier | None:
    """Claude as reply drafter, or None when drafting is off or no Anthropic key is stored."""
    if not drafts_enabled(runtime, tenant_id) or anthropic_key(runtime, tenant_id) is None:
        return None
    return claude_classifier(runtime, tenant_id)


class TenantClassifier:
    """The "classifier" service: the tenant's current engine, looked up on every ticket."""

    def __init__(self, runtime: Runtime, tenant_id: str):
        self.runtime, self.tenant_id = runtime, tenant_id

    @property
    def engine(self) -> str:
        return engine_name(self.runtime, self.tenant_id)

    def classify(self, text: TicketText) -> Reading:
        return get_classifier(self.runtime, self.tenant_id).classify(text)

    def draft_reply(
        self,
        ticket_text: TicketText | str,
        reading: Reading,
        context_text: str = "",
        allowed_promises=(),
        **kwargs: Any,
    ) -> DraftReply:
        drafter = get_drafter(self.runtime, self.tenant_id)
        if drafter is None:
            raise ConfigError(
                "Claude drafts are off (DESKGUARD_CLAUDE_DRAFT_REPLIES) or no Anthropic key is "
                "stored"
            )
        return drafter.draft_reply(ticket_text, reading, context_text, allowed_promises, **kwargs)


def configure_env_tenant(runtime: Runtime, tenant_id: str) -> None:
    """Store DESKGUARD_ANTHROPIC_API_KEY encrypted for the env tenant (only when it changed)."""
    key = runtime.config.get("anthropic_api_key")
    if key and anthropic_key(runtime, tenant_id) != key:
        runtime.secrets.put(runtime.db, tenant_id, API_KEY_SECRET, key)
        runtime.forget_services(tenant_id)
