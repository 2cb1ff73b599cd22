"""``POST /webhooks/zendesk/<tenant>``: signed Zendesk webhook deliveries.

Order matters: size limit, then the signature over the *raw* body in constant time (the bytes
Zendesk signed, before anything parses them), then the timestamp tolerance and replay check, and
only then JSON parsing, so an unsigned or forged delivery is never parsed. A delivery that passes
is enqueued durably (deduplicated) and answered 202; Zendesk is never called inline, so the answer
stays fast and a slow Zendesk cannot make deliveries time out.

Signature (see docs/vendors/zendesk.md): ``X-Zendesk-Webhook-Signature`` =
base64(HMAC-SHA256(secret, X-Zendesk-Webhook-Signature-Timestamp + raw body)), the secret's bytes
used as-is.
Every refusal answers the JSON error shape and enqueues nothing: 401 (unsigned, forged, stale,
replayed), 413 (too large), 400 (not JSON, or no ticket id / updated_at).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, jsonify, request

from connector import logs
from connector.db import transaction
from connector.errors import BadRequest, DeskguardError, NotFound, Unauthorized
from connector.web_context import get_runtime
from connector.zendesk.intake import enqueue_ticket
from connector.zendesk.service import WEBHOOK_SECRET, normalize_updated_at

LOG = logs.get("zendesk.webhooks")
SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"

bp = Blueprint("zendesk_webhooks", __name__)


class WebhookRejected(Unauthorized):
    code = "invalid_signature"


def compute_signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def sign_payload(secret: str, body: bytes, *, timestamp: str | None = None) -> dict[str, str]:
    """Headers of a correctly signed delivery (tests, the benchmark and the sandbox use this)."""
    timestamp = timestamp or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        SIGNATURE_HEADER: compute_signature(secret, timestamp, body),
        TIMESTAMP_HEADER: timestamp,
        "Content-Type": "application/json",
    }


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance: float,
    now: float | None = None,
) -> None:
    """Raise ``WebhookRejected`` unless the signature matches and the timestamp is fresh."""
    if not signature or not timestamp:
        raise WebhookRejected("missing Zendesk webhook signature headers", code="missing_signature")
    try:
        given = base64.b64decode(signature.encode(), validate=True)
    except (binascii.Error, ValueError):
        given = b""
    expected = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    if not hmac.compare_digest(given, expected):
        raise WebhookRejected("webhook signature does not match")
    try:
        signed_at = datetime.fromisoformat(timestamp.strip().replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise WebhookRejected("webhook timestamp is not ISO-8601", code="stale_timestamp") from None
    now = time.time() if now is None else now
    if abs(now - signed_at) > tolerance:
        raise WebhookRejected(
            f"webhook timestamp is outside the {int(tolerance)} s tolerance", code="stale_timestamp"
        )


@dataclass(frozen=True)
class TicketEvent:
    ticket_id: int
    updated_at: str


def parse_event(body: bytes) -> TicketEvent:
    """The trigger body carries ids only: ``{"ticket_id": ..., "updated_at": ...}``."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("body is not valid JSON", code="invalid_json") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object", code="invalid_payload")
    raw_id = data.get(
        "ticket_id",
        (data.get("ticket") or {}).get("id") if isinstance(data.get("ticket"), dict) else None,
    )
    try:
        ticket_id = int(str(raw_id).strip())
        if ticket_id <= 0:
            raise ValueError
    except (TypeError, ValueError):
        raise BadRequest(
            "ticket_id is missing or not a positive integer", code="invalid_payload"
        ) from None
    try:
        updated_at = normalize_updated_at(data.get("updated_at"))
    except (TypeError, ValueError):
        raise BadRequest(
            "updated_at is missing or not a timestamp (use {{ticket.updated_at_with_timestamp}})",
            code="invalid_payload",
        ) from None
    return TicketEvent(ticket_id, updated_at)


class _SecretCache:
    """Decrypted signing secrets keyed by their ciphertext: one indexed read per delivery, and a
    decryption only when the stored secret changed (e.g. after `deskguard zendesk setup`)."""

    def __init__(self):
        self._plain: dict[str, str] = {}

    def get(self, runtime, tenant_id: str) -> str | None:
        row = runtime.db.conn.execute(
            "SELECT s.ciphertext FROM tenants t"
            " LEFT JOIN secrets s ON s.tenant_id = t.id AND s.name = ?"
            " WHERE t.id = ? AND t.active = 1",
            (WEBHOOK_SECRET, tenant_id),
        ).fetchone()
        if row is None:
            raise NotFound(f"unknown tenant {tenant_id!r}", code="unknown_tenant")
        token = row[0]
        if token is None:
            return None
        plain = self._plain.get(token)
        if plain is None:
            plain = runtime.secrets.box.decrypt(token).reveal()
            if len(self._plain) > 1000:
                self._plain.clear()
            self._plain[token] = plain
        return plain


SECRETS = _SecretCache()


@bp.post("/webhooks/zendesk/<tenant_id>")
def receive(tenant_id: str):
    runtime = get_runtime()
    body = request.get_data(cache=False)  # 413 above max_body_bytes (Flask's MAX_CONTENT_LENGTH)
    try:
        secret = SECRETS.get(runtime, tenant_id)
        if not secret:
            raise WebhookRejected(
                "no webhook signing secret is configured for this tenant "
                "(run `deskguard zendesk setup`)",
                code="webhook_not_configured",
            )
        signature = request.headers.get(SIGNATURE_HEADER, "")
        verify_signature(
            secret,
            request.headers.get(TIMESTAMP_HEADER, ""),
            body,
            signature,
            tolerance=runtime.config.get("zendesk_webhook_tolerance_seconds", 300),
        )
        event = parse_event(body)
        db = runtime.db
        with transaction(db):
            # Replay protection and the enqueue commit together: a delivery that failed to enqueue
            # may be re-sent with the same signature and still be accepted.
            seen = db.conn.execute(
                "INSERT INTO zendesk_webhook_seen (tenant_id, signature, seen_at) VALUES (?,?,?)"
                " ON CONFLICT DO NOTHING",
                (tenant_id, signature, time.time()),
            ).rowcount
            if not seen:
                raise WebhookRejected(
                    "this delivery was already received (replayed signature)", code="replayed"
                )
            job_id, created = enqueue_ticket(
                runtime.queue, tenant_id, event.ticket_id, event.updated_at, "webhook"
            )
    except DeskguardError as exc:
        logs.log(
            LOG,
            logging.WARNING,
            "zendesk.webhook_refused",
            tenant=tenant_id,
            code=exc.code,
            status=exc.http_status,
        )
        raise
    return jsonify(
        {
            "status": "accepted",
            "job_id": job_id,
            "duplicate": not created,
            "ticket_id": event.ticket_id,
            "updated_at": event.updated_at,
        }
    ), 202
