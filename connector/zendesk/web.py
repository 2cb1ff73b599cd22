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
replayed), 413 (too large), 400 (not JSON, or a body whose ``ticket_id`` / ``updated_at`` is not
the documented shape: a positive id below 2^63 and a real timestamp; connector/webhook_shapes.py).

Replays are recognised by the signature's *decoded* digest, stored in its canonical base64 form:
base64 has several spellings of the same 32 bytes (the unused low bits of the last character, and
the decoder ignores them), so keying on the header text would let a re-spelled copy of a captured
signature through the replay table.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, jsonify, request

from connector import logs
from connector.db import transaction
from connector.errors import DeskguardError, NotFound, Unauthorized
from connector.web_context import get_runtime
from connector.webhook_shapes import (
    MAX_UNIX_SECONDS,
    InvalidPayload,
    finite_number,
    loads_object,
    positive_id,
)
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
) -> bytes:
    """Raise ``WebhookRejected`` unless the signature matches and the timestamp is fresh.

    Returns the decoded HMAC digest: the replay key (every base64 spelling of it is the same)."""
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
    except (ValueError, OverflowError):
        raise WebhookRejected("webhook timestamp is not ISO-8601", code="stale_timestamp") from None
    now = time.time() if now is None else now
    if abs(now - signed_at) > tolerance:
        raise WebhookRejected(
            f"webhook timestamp is outside the {int(tolerance)} s tolerance", code="stale_timestamp"
        )
    return given


def replay_key(digest: bytes) -> str:
    """The canonical base64 of a verified digest: what the replay table stores."""
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class TicketEvent:
    ticket_id: int
    updated_at: str


def parse_event(body: bytes) -> TicketEvent:
    """The trigger body carries ids only: ``{"ticket_id": ..., "updated_at": ...}`` (or the id as
    ``{"ticket": {"id": ...}}``). Anything else is ``InvalidPayload`` / ``InvalidJson`` (400)."""
    data = loads_object(body)
    ticket = data.get("ticket")
    raw_id = data.get("ticket_id", ticket.get("id") if isinstance(ticket, dict) else None)
    if raw_id is None:
        raise InvalidPayload("ticket_id is missing")
    ticket_id = positive_id(raw_id, "ticket_id")
    return TicketEvent(ticket_id, signed_updated_at(data.get("updated_at")))


def signed_updated_at(value: object) -> str:
    """``updated_at`` as our normalised version string; a value no real ticket can have (a
    boolean, ``1e20``, a date past the year 9999, a non-ISO string) is ``InvalidPayload``."""
    problem = InvalidPayload(
        "updated_at is missing or not a timestamp (use {{ticket.updated_at_with_timestamp}})"
    )
    if isinstance(value, bool) or value is None:
        raise problem
    if isinstance(value, int | float):
        seconds = finite_number(value, "updated_at")
        if not 0 <= seconds <= MAX_UNIX_SECONDS:
            raise problem
    elif isinstance(value, str):
        digits = value.strip()
        if digits.isdigit() and not (
            digits.isascii() and len(digits) <= 12 and int(digits) <= MAX_UNIX_SECONDS
        ):
            raise problem
    else:
        raise problem
    try:
        return normalize_updated_at(value)
    except (TypeError, ValueError, OverflowError, OSError):
        raise problem from None


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
        digest = verify_signature(
            secret,
            request.headers.get(TIMESTAMP_HEADER, ""),
            body,
            signature,
            tolerance=runtime.config.get("zendesk_webhook_tolerance_seconds", 300),
        )
        event = parse_event(body)
        db = runtime.db
        # Shared: the replay insert and the enqueue are atomic statements, and enqueue_ticket
        # takes the tenant's intake lock, so web processes do not queue behind the ledger lock.
        with transaction(db, shared=True):
            # Replay protection and the enqueue commit together: a delivery that failed to enqueue
            # may be re-sent with the same signature and still be accepted.
            seen = db.conn.execute(
                "INSERT INTO zendesk_webhook_seen (tenant_id, signature, seen_at) VALUES (?,?,?)"
                " ON CONFLICT DO NOTHING",
                (tenant_id, replay_key(digest), time.time()),
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
