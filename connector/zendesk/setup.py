"""``deskguard zendesk setup``: create (idempotently) the webhook and the trigger that deliver
ticket changes to Deskguard, and store the webhook's signing secret encrypted.

- The webhook is found by its endpoint URL (``<public url>/webhooks/zendesk/<tenant>``); it is
  created only when no webhook has that endpoint. Its ``subscriptions`` must be exactly
  ``["conditional_ticket_events"]`` to be usable from a trigger (docs/vendors/zendesk.md).
- The trigger is found by having a ``notification_webhook`` action for that webhook; it fires on
  every ticket create and update, and its body carries ids only. Deskguard re-reads the ticket
  through the API, so no free-text placeholder can break the JSON.
- Creations go through ``connector.actions`` like every other vendor write (audited, kill switch
  checked); running setup twice creates nothing the second time.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from connector import actions, audit
from connector.db import transaction
from connector.errors import ConfigError
from connector.zendesk.events import ZendeskSetupCompleted
from connector.zendesk.service import WEBHOOK_SECRET, save_account

if TYPE_CHECKING:
    from connector.runtime import Runtime

TRIGGER_TITLE = "Deskguard: send ticket changes to the sidecar"
# ``{{ticket.updated_at_with_timestamp}}`` renders ISO-8601; it versions the event for
# deduplication.
TRIGGER_BODY = json.dumps(
    {
        "ticket_id": "{{ticket.id}}",
        "updated_at": "{{ticket.updated_at_with_timestamp}}",
        "status": "{{ticket.status}}",
    }
)
TRIGGER_CONDITIONS = {
    "all": [],
    "any": [
        {"field": "update_type", "operator": "is", "value": "Create"},
        {"field": "update_type", "operator": "is", "value": "Change"},
    ],
}


def webhook_endpoint(public_url: str, tenant_id: str) -> str:
    return f"{public_url.rstrip('/')}/webhooks/zendesk/{tenant_id}"


def _webhook_of(trigger: dict[str, Any]) -> str | None:
    for action in trigger.get("actions") or []:
        if action.get("field") == "notification_webhook" and action.get("value"):
            return str(action["value"][0])
    return None


def setup_zendesk(
    runtime: Runtime, tenant_id: str, public_url: str | None = None
) -> dict[str, Any]:
    public_url = (public_url or runtime.config.get("public_url") or "").rstrip("/")
    if not public_url.startswith(("http://", "https://")):
        raise ConfigError(
            "the sidecar's public URL is unknown: set DESKGUARD_PUBLIC_URL or pass --url "
            "(e.g. https://deskguard.example.com)"
        )
    db = runtime.db
    desk = runtime.services(tenant_id).require_desk()
    me = desk.current_user()
    save_account(db, tenant_id, api_user_id=int(me["id"]))
    endpoint = webhook_endpoint(public_url, tenant_id)
    name = f"Deskguard ({tenant_id})"

    existing = [h for h in desk.find_webhooks("Deskguard") if h.get("endpoint") == endpoint]
    webhook_created = not existing
    if existing:
        hook = existing[0]
    else:
        hook = actions.execute(
            db,
            tenant_id,
            actions.WriteAction(
                vendor="zendesk",
                kind="zendesk.webhook_create",
                idempotency_key=f"{tenant_id}:zendesk.setup:webhook:{uuid.uuid4()}",
                params={"name": name, "endpoint": endpoint},
                send=lambda _key: desk.create_webhook(name=name, endpoint=endpoint),
                reconcile=lambda _key: next(
                    (h for h in desk.find_webhooks("Deskguard") if h.get("endpoint") == endpoint),
                    None,
                ),
            ),
        ).result

    secret = desk.webhook_signing_secret(hook["id"])
    current = runtime.secrets.get(db, tenant_id, WEBHOOK_SECRET)
    secret_changed = current is None or current.reveal() != secret
    if secret_changed:
        runtime.secrets.put(db, tenant_id, WEBHOOK_SECRET, secret)

    triggers = [t for t in desk.list_triggers() if _webhook_of(t) == str(hook["id"])]
    trigger_created = not triggers
    if triggers:
        trigger = triggers[0]
    else:
        trigger_actions = [{"field": "notification_webhook", "value": [hook["id"], TRIGGER_BODY]}]
        trigger = actions.execute(
            db,
            tenant_id,
            actions.WriteAction(
                vendor="zendesk",
                kind="zendesk.trigger_create",
                idempotency_key=f"{tenant_id}:zendesk.setup:trigger:{uuid.uuid4()}",
                params={"title": TRIGGER_TITLE, "webhook_id": hook["id"]},
                send=lambda _key: desk.create_trigger(
                    title=TRIGGER_TITLE, conditions=TRIGGER_CONDITIONS, actions=trigger_actions
                ),
                reconcile=lambda _key: next(
                    (t for t in desk.list_triggers() if _webhook_of(t) == str(hook["id"])), None
                ),
            ),
        ).result

    save_account(
        db,
        tenant_id,
        webhook_id=str(hook["id"]),
        webhook_endpoint=endpoint,
        trigger_id=int(trigger["id"]),
    )
    with transaction(db):
        audit.record(
            db,
            tenant_id,
            ZendeskSetupCompleted(
                webhook_id=str(hook["id"]),
                webhook_endpoint=endpoint,
                trigger_id=int(trigger["id"]),
                webhook_created=webhook_created,
                trigger_created=trigger_created,
                secret_changed=secret_changed,
                api_user_id=int(me["id"]),
            ),
        )
    return {
        "tenant": tenant_id,
        "api_user": {"id": me["id"], "email": me["email"]},
        "webhook": {"id": hook["id"], "endpoint": endpoint, "created": webhook_created},
        "trigger": {"id": trigger["id"], "title": trigger.get("title"), "created": trigger_created},
        "signing_secret": "stored (encrypted)" + (", changed" if secret_changed else ", unchanged"),
    }
