"""The webhooks-and-triggers layer of the Zendesk sandbox's state: webhooks with their signing
secrets, triggers that fire on every ticket create/update (including the updates Deskguard makes
itself, which is what makes loop safety testable), and the delivery of signed webhooks.

Deliveries go out from a background thread, after the request that caused them has answered, as
Zendesk does. ``X-Zendesk-Webhook-Signature`` is base64(HMAC-SHA256(secret, timestamp + body)),
the secret's bytes used as-is (docs/vendors/zendesk.md, webhook signatures).
"""

from __future__ import annotations

import base64
import queue
import secrets
import threading
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from typing import Any

from connector.devkit.sandbox.zendesk.records import (
    STATUS_ORDER,
    ApiError,
    deep_copy,
    invalid_record,
    iso,
    render_placeholders,
    sign_webhook,
)
from connector.devkit.sandbox.zendesk.state_core import AccountState

RETRIED_STATUSES = (409, 429, 500, 502, 503, 504)  # docs/vendors/zendesk.md, delivery and retries


def sandbox_account_id(subdomain: str) -> int:
    """A stable numeric account id for the sandbox account (real accounts have one; the sandbox
    derives it from its subdomain so every run sends the same header)."""
    return zlib.crc32(subdomain.encode()) % 9_000_000 + 1_000_000


@dataclass
class Delivery:
    """One webhook invocation and its attempts (status codes, or an error text)."""

    webhook_id: str
    ticket_id: int
    body: str
    attempts: list[Any] = field(default_factory=list)
    done: bool = False


class WebhookState(AccountState):
    """An account's webhooks, triggers and webhook deliveries."""

    def __init__(
        self, *, delivery_retries: int = 3, delivery_timeout: float = 10.0, **options: Any
    ):
        super().__init__(**options)
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.webhook_secrets: dict[str, str] = {}
        self.triggers: dict[int, dict[str, Any]] = {}
        self.delivery_retries = delivery_retries
        self.delivery_timeout = delivery_timeout
        self.deliveries: list[Delivery] = []
        self.deliveries_paused = False
        self._outbox: queue.Queue[Delivery | None] = queue.Queue()
        self._inflight = 0
        self._idle = threading.Condition(self.lock)
        self._delivery_thread: threading.Thread | None = None

    # --- webhooks and triggers ----------------------------------------------------------------
    def create_webhook(self, data: dict[str, Any], *, author_id: int) -> dict[str, Any]:
        missing = [
            k
            for k in (
                "name",
                "endpoint",
                "http_method",
                "request_format",
                "status",
                "subscriptions",
            )
            if not data.get(k)
        ]
        if missing:
            raise ApiError(400, "InvalidValue", "missing " + ", ".join(missing))
        if not str(data["endpoint"]).startswith(("http://", "https://")):
            raise ApiError(400, "InvalidValue", "endpoint must be an http(s) URL")
        with self.lock:
            wid = "01" + secrets.token_hex(12).upper()
            now = iso(self.clock())
            hook = {
                "id": wid,
                "name": data["name"],
                "description": data.get("description", ""),
                "endpoint": data["endpoint"],
                "http_method": data["http_method"],
                "request_format": data["request_format"],
                "status": data["status"],
                "subscriptions": list(data["subscriptions"]),
                "created_at": now,
                "created_by": str(author_id),
                "updated_at": now,
                "updated_by": str(author_id),
            }
            self.webhooks[wid] = hook
            self.webhook_secrets[wid] = base64.b64encode(secrets.token_bytes(30)).decode()
            return dict(hook)

    def get_webhook(self, webhook_id: str) -> dict[str, Any]:
        with self.lock:
            if webhook_id not in self.webhooks:
                raise ApiError(404, "RecordNotFound", "Not found")
            return dict(self.webhooks[webhook_id])

    def signing_secret(self, webhook_id: str, *, reset: bool = False) -> str:
        with self.lock:
            self.get_webhook(webhook_id)
            if reset:
                self.webhook_secrets[webhook_id] = base64.b64encode(
                    secrets.token_bytes(30)
                ).decode()
            return self.webhook_secrets[webhook_id]

    def create_trigger(self, data: dict[str, Any]) -> dict[str, Any]:
        if not data.get("title") or not data.get("actions") or not data.get("conditions"):
            raise invalid_record("base", "title, conditions and actions are required")
        with self.lock:
            for action in data["actions"]:
                if action.get("field") == "notification_webhook":
                    webhook_id = action["value"][0]
                    hook = self.webhooks.get(webhook_id)
                    if hook is None or hook["subscriptions"] != ["conditional_ticket_events"]:
                        raise invalid_record("actions", "webhook cannot be used in triggers")
            tid = self._next("trigger")
            now = iso(self.clock())
            trigger = {
                "id": tid,
                "url": self.url(f"triggers/{tid}.json"),
                "title": data["title"],
                "active": data.get("active", True),
                "position": len(self.triggers) + 1,
                "conditions": {
                    "all": data["conditions"].get("all", []),
                    "any": data["conditions"].get("any", []),
                },
                "actions": data["actions"],
                "description": data.get("description"),
                "created_at": now,
                "updated_at": now,
                "category_id": data.get("category_id"),
            }
            self.triggers[tid] = trigger
            return deep_copy(trigger)

    def _matches(self, condition: dict[str, Any], ticket: dict[str, Any], update_type: str) -> bool:
        field_name, op, value = (
            condition.get("field"),
            condition.get("operator"),
            condition.get("value"),
        )
        if field_name == "update_type":
            return (update_type == value) == (op == "is")
        if field_name == "status":
            mine, other = STATUS_ORDER.index(ticket["status"]), STATUS_ORDER.index(value)
            by_op: dict[str | None, bool] = {
                "is": mine == other,
                "is_not": mine != other,
                "less_than": mine < other,
                "greater_than": mine > other,
            }
            return by_op.get(op, False)
        if field_name == "current_tags":
            wanted = set(str(value).split())
            has = bool(wanted & set(ticket["tags"]))
            return has if op == "includes" else not has
        return False  # conditions the sandbox does not model never match

    def _fire_triggers(self, ticket: dict[str, Any], update_type: str) -> None:
        for trigger in sorted(self.triggers.values(), key=lambda t: t["position"]):
            if not trigger["active"]:
                continue
            conds = trigger["conditions"]
            if not all(self._matches(c, ticket, update_type) for c in conds["all"]):
                continue
            if conds["any"] and not any(
                self._matches(c, ticket, update_type) for c in conds["any"]
            ):
                continue
            for action in trigger["actions"]:
                if action.get("field") != "notification_webhook":
                    continue
                webhook_id, template = action["value"][0], action["value"][1]
                hook = self.webhooks.get(webhook_id)
                if hook is None or hook["status"] != "active":
                    continue
                self._enqueue_delivery(
                    Delivery(webhook_id, ticket["id"], render_placeholders(template, ticket))
                )

    # --- webhook delivery -----------------------------------------------------------------------
    def _enqueue_delivery(self, delivery: Delivery) -> None:
        with self.lock:
            self.deliveries.append(delivery)
            self._inflight += 1
            if self._delivery_thread is None:
                self._delivery_thread = threading.Thread(
                    target=self._deliver_loop, name="zendesk-sandbox-webhooks", daemon=True
                )
                self._delivery_thread.start()
        self._outbox.put(delivery)

    def _deliver_loop(self) -> None:
        while True:
            delivery = self._outbox.get()
            if delivery is None:
                return
            while self.deliveries_paused:
                time.sleep(0.02)
            try:
                self._deliver(delivery)
            finally:
                with self.lock:
                    delivery.done = True
                    self._inflight -= 1
                    self._idle.notify_all()

    def _deliver(self, delivery: Delivery) -> None:
        for attempt in range(self.delivery_retries + 1):
            status = self.send_signed(delivery.webhook_id, delivery.body.encode(), record=delivery)
            if isinstance(status, int) and status < 300:
                return
            if isinstance(status, int) and status not in RETRIED_STATUSES:
                return
            time.sleep(min(0.2 * (attempt + 1), 1.0))

    def send_signed(
        self,
        webhook_id: str,
        body: bytes,
        *,
        timestamp: str | None = None,
        record: Delivery | None = None,
        secret: str | None = None,
    ) -> int | str:
        """POST a signed delivery to the webhook's endpoint now; returns the status (or an
        error)."""
        with self.lock:
            hook = dict(self.webhooks[webhook_id])
            secret = secret or self.webhook_secrets[webhook_id]
        timestamp = timestamp or iso(self.clock())
        request = urllib.request.Request(
            hook["endpoint"],
            data=body,
            method=hook["http_method"],
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Zendesk Webhook",
                # The headers of every Zendesk webhook request ("Anatomy of a webhook request",
                # https://developer.zendesk.com/documentation/webhooks/anatomy-of-a-webhook-request/)
                "X-Zendesk-Account-Id": str(sandbox_account_id(self.subdomain)),
                "X-Zendesk-Webhook-Id": webhook_id,
                "X-Zendesk-Webhook-Invocation-Id": secrets.token_hex(8),
                "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
                "X-Zendesk-Webhook-Signature": sign_webhook(secret, timestamp, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.delivery_timeout) as response:
                status: int | str = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (urllib.error.URLError, OSError) as exc:
            status = f"error: {exc}"
        if record is not None:
            with self.lock:
                record.attempts.append(status)
        return status

    def wait_for_deliveries(self, timeout: float = 10.0) -> bool:
        """Block until every queued webhook delivery has been attempted (tests)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while self._inflight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def close(self) -> None:
        if self._delivery_thread is not None:
            self._outbox.put(None)
            self._delivery_thread.join(5)
            self._delivery_thread = None
