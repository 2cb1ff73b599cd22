"""The one table of settings.

Every setting is declared here once: name, environment variable, default, help, whether it is a
secret, and how its text is parsed. Values come from (lowest to highest precedence) the defaults,
a ``.env`` file, the process environment, and a mapping passed to ``load_config`` (tests and
``create_app(config)``). ``.env.example`` and the settings table in docs/configuration.md are
generated from this table (``deskguard config docs --write``) and a test fails when they drift.

Per-tenant runtime overrides (kill switch, modes, thresholds) live in the ``tenant_settings``
table, not here; these are process-wide settings.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from connector.api_versions import (
    shopify_supported_versions,
    shopify_version_status,
    stripe_version_older,
)
from connector.claude_models import Prices as ClaudePrices
from connector.claude_models import claude_model_warnings
from connector.errors import ConfigError


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true/false")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be ≥ 1")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be ≥ 0")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError("must be > 0")
    return value


def _choice(*options: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in options:
            raise ValueError("must be one of " + ", ".join(options))
        return value

    parse.__name__ = "one of " + "|".join(options)
    return parse


def _url(text: str) -> str:
    value = text.strip().rstrip("/")
    if value and not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _audit_key_list(text: str) -> tuple[str, ...]:
    """Comma list of url-safe base64 keys of 32+ bytes (the audit chain's HMAC keys)."""
    import base64
    import binascii

    keys = _csv(text)
    for i, key in enumerate(keys, start=1):
        try:
            raw = base64.b64decode(key + "=" * (-len(key) % 4), altchars=b"-_", validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"key #{i} is not url-safe base64") from None
        if len(raw) < 32:
            raise ValueError(f"key #{i} is shorter than 32 bytes")
    return keys


def _shopify_api_version(text: str) -> str:
    value = text.strip()
    if not re.fullmatch(r"\d{4}-(01|04|07|10)|unstable", value):
        raise ValueError(
            "must be a Shopify API version like 2026-10 (quarterly: 01/04/07/10) or unstable"
        )
    return value


def _stripe_api_version(text: str) -> str:
    value = text.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}(\.[a-z]+)?", value):
        raise ValueError("must be a Stripe API version like 2026-10-28.endive")
    return value


def _database_url(text: str) -> str:
    text = text.strip()
    if text and not text.startswith(("postgresql://", "postgres://")):
        raise ValueError("must be a postgresql:// URL (unset for the SQLite ledger)")
    return text


def _url_template(text: str) -> str:
    value = text.strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: str | None
    help: str
    secret: bool = False
    parse: Callable[[str], Any] = str
    section: str = "core"


# Sections keep each area's rows together; add new rows to your area's section.
SETTINGS: tuple[Setting, ...] = (
    # --- core ----------------------------------------------------------------------------
    Setting(
        "db_path",
        "DESKGUARD_DB_PATH",
        "deskguard.db",
        "SQLite ledger file (WAL mode). Holds the queue, audit log, rate ledger and secrets.",
    ),
    Setting(
        "database_url",
        "DESKGUARD_DATABASE_URL",
        "",
        "PostgreSQL ledger for several processes or machines (postgresql://user:pass@host/db). "
        "Unset: the SQLite file DESKGUARD_DB_PATH. See docs/scale-out.md.",
        secret=True,
        parse=_database_url,
    ),
    Setting(
        "database_pool_size",
        "DESKGUARD_DATABASE_POOL_SIZE",
        "8",
        "Most connections one process opens to the PostgreSQL ledger (psycopg pool).",
        parse=_positive_int,
    ),
    Setting(
        "backup_dir",
        "DESKGUARD_BACKUP_DIR",
        "backups",
        "Folder where `deskguard backup` writes verified ledger copies (deskguard-<time>.db).",
    ),
    Setting(
        "backup_keep",
        "DESKGUARD_BACKUP_KEEP",
        "14",
        "How many backups `deskguard backup` keeps; older ones are deleted after a good copy.",
        parse=_positive_int,
    ),
    Setting(
        "secret_keys",
        "DESKGUARD_SECRET_KEYS",
        None,
        "Comma list of Fernet keys (base64, 32 bytes). The first encrypts; all decrypt. "
        "Generate one with `deskguard secrets new-key`.",
        secret=True,
        parse=_csv,
    ),
    Setting(
        "audit_keys",
        "DESKGUARD_AUDIT_KEYS",
        None,
        "Comma list of audit chain keys (url-safe base64, 32+ bytes; `deskguard audit new-key`). "
        "The first signs new audit rows; all verify (keep retired keys). Unset: derived from "
        "DESKGUARD_SECRET_KEYS.",
        secret=True,
        parse=_audit_key_list,
    ),
    Setting(
        "audit_head_interval_seconds",
        "DESKGUARD_AUDIT_HEAD_INTERVAL_SECONDS",
        "3600",
        "How often the scheduler logs the signed audit head (`audit.head`) and appends it to "
        "DESKGUARD_AUDIT_HEAD_FILE; 0 turns it off.",
        parse=_non_negative_int,
    ),
    Setting(
        "audit_head_file",
        "DESKGUARD_AUDIT_HEAD_FILE",
        "",
        "File the scheduler appends each signed audit head to (one JSON line each); put it "
        "outside the ledger's reach. Empty: the log line only.",
    ),
    Setting(
        "tenant_id",
        "DESKGUARD_TENANT_ID",
        "",
        "Self-host tenant id. Empty means the Zendesk subdomain. One tenant per Zendesk account.",
    ),
    Setting(
        "admin_token",
        "DESKGUARD_ADMIN_TOKEN",
        None,
        "Bearer token for the admin API and /admin dashboard. Unset disables them.",
        secret=True,
    ),
    Setting(
        "log_level",
        "DESKGUARD_LOG_LEVEL",
        "INFO",
        "Log level: DEBUG, INFO, WARNING, ERROR.",
        parse=_choice("debug", "info", "warning", "error"),
    ),
    Setting(
        "log_format",
        "DESKGUARD_LOG_FORMAT",
        "json",
        "json (one JSON object per line) or console (human-readable).",
        parse=_choice("json", "console"),
    ),
    Setting(
        "busy_timeout_ms",
        "DESKGUARD_BUSY_TIMEOUT_MS",
        "5000",
        "How long a writer waits for a lock before failing (SQLite's busy timeout; on "
        "PostgreSQL the lock timeout and the wait for a pooled connection, at least 1 s).",
        parse=_positive_int,
    ),
    Setting(
        "queue_max_attempts",
        "DESKGUARD_QUEUE_MAX_ATTEMPTS",
        "8",
        "Attempts before a job goes to the dead-letter state.",
        parse=_positive_int,
    ),
    Setting(
        "queue_lease_seconds",
        "DESKGUARD_QUEUE_LEASE_SECONDS",
        "120",
        "How long a claimed job stays leased to a worker before another may take it over.",
        parse=_positive_float,
    ),
    Setting(
        "vendor_max_wait_seconds",
        "DESKGUARD_VENDOR_MAX_WAIT_SECONDS",
        "30",
        "Longest a vendor call may hold a worker waiting out a rate limit (retry-after); a longer"
        " wait puts the job back in the queue with that delay instead.",
        parse=_positive_float,
    ),
    Setting(
        "reconcile_interval_seconds",
        "DESKGUARD_RECONCILE_INTERVAL_SECONDS",
        "60",
        "How often each worker process finishes vendor writes a crash interrupted (also at start).",
        parse=_positive_float,
    ),
    Setting(
        "queue_backoff_base",
        "DESKGUARD_QUEUE_BACKOFF_BASE",
        "2.0",
        "First retry delay in seconds; doubles on every failed attempt (with jitter).",
        parse=_positive_float,
    ),
    Setting(
        "queue_backoff_max",
        "DESKGUARD_QUEUE_BACKOFF_MAX",
        "3600",
        "Longest retry delay in seconds.",
        parse=_positive_float,
    ),
    Setting(
        "worker_threads",
        "DESKGUARD_WORKER_THREADS",
        "4",
        "Worker threads for `deskguard worker` when --threads is not given.",
        parse=_positive_int,
    ),
    Setting(
        "run_scheduler",
        "DESKGUARD_RUN_SCHEDULER",
        "true",
        "Whether `deskguard worker` also runs the APScheduler jobs (polling, kill-switch sync). "
        "Run exactly one such process; `deskguard serve` never runs the scheduler.",
        parse=_bool,
    ),
    Setting(
        "scheduler_lease_seconds",
        "DESKGUARD_SCHEDULER_LEASE_SECONDS",
        "30",
        "Length of the scheduler's leader lease in the ledger, renewed every third of it. A "
        "scheduler process that crashed is replaced this long after its last renewal at most.",
        parse=_positive_float,
    ),
    Setting(
        "max_body_bytes",
        "DESKGUARD_MAX_BODY_BYTES",
        "262144",
        "Largest request body the web app accepts (413 above).",
        parse=_positive_int,
    ),
    # --- app (Zendesk app, side panel, admin dashboard) ----------------------------------
    Setting(
        "public_url",
        "DESKGUARD_PUBLIC_URL",
        "",
        "Public https URL of this sidecar as Zendesk and browsers reach it (e.g. "
        "https://deskguard.example.com). `deskguard zendesk package-app` puts it in the app "
        "manifest; secure admin cookies need https.",
        parse=_url,
        section="app",
    ),
    Setting(
        "zaf_sdk_url",
        "DESKGUARD_ZAF_SDK_URL",
        "https://static.zdassets.com/zendesk_app_framework_sdk/2.0/zaf_sdk.min.js",
        "Where the side panel page loads the Zendesk Apps Framework SDK from (inside Zendesk "
        "only).",
        parse=_url,
        section="app",
    ),
    Setting(
        "app_frame_ancestors",
        "DESKGUARD_APP_FRAME_ANCESTORS",
        "https://*.zendesk.com",
        "Space-separated origins allowed to frame the side panel (CSP frame-ancestors).",
        section="app",
    ),
    Setting(
        "app_approver_roles",
        "DESKGUARD_APP_APPROVER_ROLES",
        "admin",
        "Comma list of Zendesk roles whose agents may approve or reject refunds and cancellations "
        "in the side panel.",
        parse=_csv,
        section="app",
    ),
    Setting(
        "app_approver_ids",
        "DESKGUARD_APP_APPROVER_IDS",
        "",
        "Comma list of Zendesk agent ids who may approve or reject, whatever their role.",
        parse=_csv,
        section="app",
    ),
    Setting(
        "admin_session_hours",
        "DESKGUARD_ADMIN_SESSION_HOURS",
        "12",
        "How long an /admin login cookie stays valid.",
        parse=_positive_float,
        section="app",
    ),
    Setting(
        "admin_token_login",
        "DESKGUARD_ADMIN_TOKEN_LOGIN",
        "true",
        'Offer the shared-admin-token form on /admin/login next to "Sign in with Zendesk". '
        "false: people sign in only with their Zendesk admin account (or from the app's nav_bar "
        "in Zendesk); the token still works as a bearer token for the API.",
        parse=_bool,
        section="app",
    ),
    Setting(
        "admin_role_recheck_minutes",
        "DESKGUARD_ADMIN_ROLE_RECHECK_MINUTES",
        "10",
        "How often a signed-in console user's Zendesk role is asked again (on their next "
        "request); a user no longer an admin is signed out.",
        parse=_positive_float,
        section="app",
    ),
    Setting(
        "demo_mode",
        "DESKGUARD_DEMO_MODE",
        "false",
        "A signed panel launch with ?shim=1 (the Zendesk sandbox's launch page) gets a stand-in "
        "Zendesk client and a demo app token, so the panel runs in a normal browser. Never enable "
        "in production.",
        parse=_bool,
        section="app",
    ),
    Setting(
        "app_role_cache_seconds",
        "DESKGUARD_APP_ROLE_CACHE_SECONDS",
        "300",
        "How long the side panel trusts Zendesk's answer about an agent's role (approve, kill "
        "switch) before asking again; 0 asks on every permissioned action.",
        parse=_non_negative_int,
        section="app",
    ),
    Setting(
        "app_id",
        "DESKGUARD_APP_ID",
        "",
        "Zendesk's id of the Deskguard app (Admin Center, or GET /api/v2/apps/installations.json: "
        "app_id). Its public key verifies the signed side-panel launch. A tenant setting "
        "app_id overrides it.",
        section="app",
    ),
    Setting(
        "app_installation_id",
        "DESKGUARD_APP_INSTALLATION_ID",
        "",
        "Id of the app's installation in the tenant's Zendesk (installations.json: id); the "
        "signed launch must name it as its audience. A tenant setting app_installation_id "
        "overrides it.",
        section="app",
    ),
    Setting(
        "app_public_key_url",
        "DESKGUARD_APP_PUBLIC_KEY_URL",
        "",
        "Where to fetch the app's public key (PEM). Empty: "
        "<Zendesk URL>/api/v2/apps/<app id>/public_key.pem.",
        parse=_url,
        section="app",
    ),
    Setting(
        "app_public_key_cache_seconds",
        "DESKGUARD_APP_PUBLIC_KEY_CACHE_SECONDS",
        "3600",
        "How long a fetched app public key is used before it is fetched again (a signature that "
        "fails also refetches it, at most once a minute).",
        parse=_positive_int,
        section="app",
    ),
    Setting(
        "app_session_minutes",
        "DESKGUARD_APP_SESSION_MINUTES",
        "30",
        "Lifetime of the side-panel session issued after a verified signed launch; after it the "
        "agent reopens the app (Zendesk signs a new launch).",
        parse=_positive_float,
        section="app",
    ),
    Setting(
        "admin_login_max_failures",
        "DESKGUARD_ADMIN_LOGIN_MAX_FAILURES",
        "5",
        "Wrong admin tokens (login form or bearer on /admin) one client IP may send per window "
        "before /admin answers 429.",
        parse=_positive_int,
        section="app",
    ),
    Setting(
        "admin_login_global_max_failures",
        "DESKGUARD_ADMIN_LOGIN_GLOBAL_MAX_FAILURES",
        "50",
        "Wrong admin tokens from all IPs together per window before every /admin login answers "
        "429.",
        parse=_positive_int,
        section="app",
    ),
    Setting(
        "admin_login_window_seconds",
        "DESKGUARD_ADMIN_LOGIN_WINDOW_SECONDS",
        "300",
        "The window the admin login limits count failures over.",
        parse=_positive_int,
        section="app",
    ),
    Setting(
        "trusted_proxy_hops",
        "DESKGUARD_TRUSTED_PROXY_HOPS",
        "0",
        "Reverse proxies in front of the sidecar that append to X-Forwarded-For (1 behind the "
        "example nginx); the admin login limits then count the client address those proxies saw.",
        parse=_non_negative_int,
        section="app",
    ),
    Setting(
        "metrics_allow_loopback",
        "DESKGUARD_METRICS_ALLOW_LOOPBACK",
        "false",
        "Let /metrics answer scrapes from this machine (127.0.0.1, ::1) without the admin token. "
        "A request relayed by a proxy counts as loopback only when DESKGUARD_TRUSTED_PROXY_HOPS "
        "names that proxy and the client it saw was local; otherwise the token is required.",
        parse=_bool,
        section="app",
    ),
    # --- stripe (Stripe adapter, webhooks, approved refunds) -----------------------------
    Setting(
        "stripe_api_key",
        "DESKGUARD_STRIPE_API_KEY",
        None,
        "Stripe secret key (sk_...) or restricted key (rk_...: read on Customers, Charges, "
        "PaymentIntents, Refunds and Disputes; write on Refunds). Stored encrypted for the env "
        "tenant at start-up.",
        secret=True,
        section="stripe",
    ),
    Setting(
        "stripe_api_base",
        "DESKGUARD_STRIPE_API_BASE",
        "https://api.stripe.com",
        "Stripe API base URL (the sandbox emulator's URL in the demo and tests).",
        parse=_url,
        section="stripe",
    ),
    Setting(
        "stripe_webhook_secret",
        "DESKGUARD_STRIPE_WEBHOOK_SECRET",
        None,
        "Signing secret (whsec_...) of the Stripe webhook endpoint /webhooks/stripe/<tenant>; "
        "during a rotation give several, comma-separated (a delivery signed with any passes). "
        "Stored encrypted for the env tenant at start-up.",
        secret=True,
        section="stripe",
    ),
    Setting(
        "stripe_webhook_tolerance_seconds",
        "DESKGUARD_STRIPE_WEBHOOK_TOLERANCE_SECONDS",
        "300",
        "Stripe-Signature timestamps further than this from now, in the past or the future, are "
        "refused (replay protection).",
        parse=_positive_int,
        section="stripe",
    ),
    Setting(
        "stripe_api_version",
        "DESKGUARD_STRIPE_API_VERSION",
        "2026-10-28.endive",
        "Stripe API version sent as Stripe-Version on every request (the one stripe-python 16.1 "
        "pins). `config check` warns when it is older than the installed SDK's.",
        parse=_stripe_api_version,
        section="stripe",
    ),
    Setting(
        "stripe_max_network_retries",
        "DESKGUARD_STRIPE_MAX_NETWORK_RETRIES",
        "2",
        "Retries the Stripe SDK makes on connection errors, 409 and 5xx (its own default is none).",
        parse=_non_negative_int,
        section="stripe",
    ),
    Setting(
        "stripe_timeout_seconds",
        "DESKGUARD_STRIPE_TIMEOUT_SECONDS",
        "20",
        "HTTP timeout of one Stripe request.",
        parse=_positive_float,
        section="stripe",
    ),
    Setting(
        "stripe_lookup_limit",
        "DESKGUARD_STRIPE_LOOKUP_LIMIT",
        "10",
        "Most recent charges and PaymentIntents read per Stripe customer for a ticket's context.",
        parse=_positive_int,
        section="stripe",
    ),
    Setting(
        "stripe_dispute_requester_email",
        "DESKGUARD_STRIPE_DISPUTE_REQUESTER_EMAIL",
        "",
        "Requester of the ticket opened for a dispute whose customer has no email in Stripe. "
        "Empty: such a dispute job fails to the dead-letter queue, visible in `deskguard queue "
        "status`.",
        section="stripe",
    ),
    Setting(
        "approval_lease_seconds",
        "DESKGUARD_APPROVAL_LEASE_SECONDS",
        "300",
        "How long one execution of an approved refund or cancellation holds the approval; a second "
        "click meanwhile waits for it, and after a crash the next attempt takes over and "
        "reconciles.",
        parse=_positive_float,
        section="stripe",
    ),
    # --- shopify (Shopify adapter, webhooks, privacy) ------------------------------------
    Setting(
        "shopify_shop",
        "DESKGUARD_SHOPIFY_SHOP",
        "",
        "The store's myshopify.com domain (e.g. acme-store.myshopify.com) for the env tenant. "
        "Empty disables Shopify order context.",
        section="shopify",
    ),
    Setting(
        "shopify_access_token",
        "DESKGUARD_SHOPIFY_ACCESS_TOKEN",
        None,
        "Admin API access token (shpat_...; scopes read_orders, read_customers, write_orders for "
        "approved cancellations). Stored encrypted for the env tenant at start-up.",
        secret=True,
        section="shopify",
    ),
    Setting(
        "shopify_api_secret",
        "DESKGUARD_SHOPIFY_API_SECRET",
        None,
        "The app's client secret: verifies X-Shopify-Hmac-Sha256 on /webhooks/shopify[/<tenant>]. "
        "During a rotation give new,old (Shopify may sign with the old one for up to an hour). "
        "Unset: every Shopify webhook is refused with 401.",
        secret=True,
        section="shopify",
    ),
    Setting(
        "shopify_client_id",
        "DESKGUARD_SHOPIFY_CLIENT_ID",
        "",
        "The Dev Dashboard app's client id. With DESKGUARD_SHOPIFY_API_SECRET it gets the env "
        "tenant's tokens by the client credentials grant (no DESKGUARD_SHOPIFY_ACCESS_TOKEN "
        "needed) and runs the marketplace install (/shopify/install, /shopify/callback).",
        section="shopify",
    ),
    Setting(
        "shopify_token_renew_margin_seconds",
        "DESKGUARD_SHOPIFY_TOKEN_RENEW_MARGIN_SECONDS",
        "600",
        "A client-credentials token is renewed when it has less than this left (and once on a "
        "401).",
        parse=_positive_int,
        section="shopify",
    ),
    Setting(
        "shopify_install_max_age_seconds",
        "DESKGUARD_SHOPIFY_INSTALL_MAX_AGE_SECONDS",
        "600",
        "Oldest `timestamp` accepted on Shopify's signed install and callback requests (replay "
        "protection).",
        parse=_positive_int,
        section="shopify",
    ),
    Setting(
        "shopify_api_version",
        "DESKGUARD_SHOPIFY_API_VERSION",
        "2026-10",
        "Shopify Admin API version (YYYY-MM). The GraphQL documents are validated against 2026-10; "
        "`config check` warns when the version is past Shopify's 12-month support window.",
        parse=_shopify_api_version,
        section="shopify",
    ),
    Setting(
        "shopify_admin_url",
        "DESKGUARD_SHOPIFY_ADMIN_URL",
        "https://{shop}",
        "Admin API base URL; {shop} is replaced by the shop domain and "
        "/admin/api/<version>/graphql.json is appended. The sandbox emulator's URL in the demo and "
        "tests.",
        parse=_url_template,
        section="shopify",
    ),
    Setting(
        "shopify_timeout_seconds",
        "DESKGUARD_SHOPIFY_TIMEOUT_SECONDS",
        "10",
        "HTTP timeout of one Shopify GraphQL request (ShopifyAPI itself sets none).",
        parse=_positive_float,
        section="shopify",
    ),
    Setting(
        "shopify_throttle_max_wait_seconds",
        "DESKGUARD_SHOPIFY_THROTTLE_MAX_WAIT_SECONDS",
        "10",
        "Longest a lookup waits in total for Shopify's query-cost bucket to refill before it gives "
        "up and the job is retried later.",
        parse=_positive_float,
        section="shopify",
    ),
    Setting(
        "shopify_lookup_limit",
        "DESKGUARD_SHOPIFY_LOOKUP_LIMIT",
        "10",
        "Most recent orders read per customer email for a ticket's context (at most 50).",
        parse=_positive_int,
        section="shopify",
    ),
    Setting(
        "privacy_export_dir",
        "DESKGUARD_PRIVACY_EXPORT_DIR",
        "",
        "Where customers/data_request exports are written (JSON, mode 0600). Empty: a "
        "privacy-exports directory next to the ledger file.",
        section="shopify",
    ),
    Setting(
        "privacy_export_ttl_days",
        "DESKGUARD_PRIVACY_EXPORT_TTL_DAYS",
        "30",
        "Days a customers/data_request export file is kept before it is deleted (hourly sweep "
        "and on each Shopify webhook). customers/redact and shop/redact delete it at once.",
        parse=_positive_int,
        section="shopify",
    ),
    # --- claude (Claude engine, Anthropic API, PII redaction) ----------------------------
    Setting(
        "classifier",
        "DESKGUARD_CLASSIFIER",
        "local",
        "Which engine reads tickets: local (the embedded model; no key, no network) or claude (the "
        "Anthropic API, with the local model as fallback). A tenant setting `classifier` overrides "
        "it.",
        parse=_choice("local", "claude"),
        section="claude",
    ),
    Setting(
        "anthropic_api_key",
        "DESKGUARD_ANTHROPIC_API_KEY",
        None,
        "Anthropic API key (sk-ant-...). Stored encrypted for the env tenant at start-up; needed "
        "only when the classifier is claude or Claude drafts replies.",
        secret=True,
        section="claude",
    ),
    Setting(
        "anthropic_base_url",
        "DESKGUARD_ANTHROPIC_BASE_URL",
        "https://api.anthropic.com",
        "Anthropic API base URL (the sandbox emulator's URL in the demo and tests).",
        parse=_url,
        section="claude",
    ),
    Setting(
        "claude_model",
        "DESKGUARD_CLAUDE_MODEL",
        "claude-haiku-5-5",
        "Claude model id used for readings and drafts (Claude Haiku 5.5; `config check` warns "
        "about a legacy, deprecated or retired model). Set the DESKGUARD_CLAUDE_PRICE_* settings "
        "to the prices of the model you choose.",
        section="claude",
    ),
    Setting(
        "claude_max_retries",
        "DESKGUARD_CLAUDE_MAX_RETRIES",
        "2",
        "Retries the anthropic SDK makes on 408/409/429/5xx/529 and connection errors before the "
        "local engine answers instead.",
        parse=_non_negative_int,
        section="claude",
    ),
    Setting(
        "claude_timeout_seconds",
        "DESKGUARD_CLAUDE_TIMEOUT_SECONDS",
        "30",
        "Timeout of one Claude request (the SDK's own default is 600 s).",
        parse=_positive_float,
        section="claude",
    ),
    Setting(
        "claude_connect_timeout_seconds",
        "DESKGUARD_CLAUDE_CONNECT_TIMEOUT_SECONDS",
        "5",
        "Connect timeout of one Claude request.",
        parse=_positive_float,
        section="claude",
    ),
    Setting(
        "claude_max_tokens",
        "DESKGUARD_CLAUDE_MAX_TOKENS",
        "4096",
        "Most output tokens of one Claude reading or draft, thinking included (Claude Haiku 5.5 "
        "thinks by default). An answer cut at this limit is retried once with twice the limit.",
        parse=_positive_int,
        section="claude",
    ),
    Setting(
        "claude_price_input_per_mtok",
        "DESKGUARD_CLAUDE_PRICE_INPUT_PER_MTOK",
        "0.10",
        "USD per million uncached input tokens (claude-haiku-5-5 list price for prompts up to "
        "100k tokens; Deskguard's prompts stay far below that).",
        parse=_positive_float,
        section="claude",
    ),
    Setting(
        "claude_price_output_per_mtok",
        "DESKGUARD_CLAUDE_PRICE_OUTPUT_PER_MTOK",
        "0.50",
        "USD per million output tokens, thinking included (claude-haiku-5-5 list price).",
        parse=_positive_float,
        section="claude",
    ),
    Setting(
        "claude_price_cache_write_per_mtok",
        "DESKGUARD_CLAUDE_PRICE_CACHE_WRITE_PER_MTOK",
        "0.125",
        "USD per million tokens written to the 5-minute prompt cache (claude-haiku-5-5: 1.25 × "
        "input).",
        parse=_positive_float,
        section="claude",
    ),
    Setting(
        "claude_price_cache_read_per_mtok",
        "DESKGUARD_CLAUDE_PRICE_CACHE_READ_PER_MTOK",
        "0.01",
        "USD per million tokens read from the prompt cache (claude-haiku-5-5: 0.1 × input).",
        parse=_positive_float,
        section="claude",
    ),
    Setting(
        "claude_draft_replies",
        "DESKGUARD_CLAUDE_DRAFT_REPLIES",
        "false",
        "Whether Claude drafts the suggested reply in the decision brief (needs an Anthropic key; "
        "the ticket and context are redacted first).",
        parse=_bool,
        section="claude",
    ),
    # --- policy (decision policy file, kill switch) --------------------------------------
    Setting(
        "policy_file",
        "DESKGUARD_POLICY_FILE",
        "",
        "Decision policy defaults (JSON or TOML): modes, thresholds, caps, go-live gate, "
        "per-category prerequisites. Empty means the bundled "
        "connector/pipeline/policy_defaults.json. Tenants override keys through `deskguard policy` "
        "or the admin API.",
        section="policy",
    ),
    Setting(
        "kill_switch_sync_seconds",
        "DESKGUARD_KILL_SWITCH_SYNC_SECONDS",
        "5",
        "How often the scheduler reads the kill switch from the Zendesk app's installation "
        "settings (keep ≤ 5 so a flip there takes effect within 10 s).",
        parse=_positive_float,
        section="policy",
    ),
    Setting(
        "kill_switch_app_setting",
        "DESKGUARD_KILL_SWITCH_APP_SETTING",
        "kill_switch",
        "Name of the Zendesk app setting (checkbox) that mirrors the kill switch.",
        section="policy",
    ),
    # --- zendesk (intake, webhooks, poller, write-back) ----------------------------------
    Setting(
        "zendesk_url",
        "DESKGUARD_ZENDESK_URL",
        "",
        "Zendesk base URL of the env tenant, e.g. https://acme.zendesk.com (the sandbox's "
        "http://127.0.0.1:PORT in the demo and tests). Empty: "
        "https://<DESKGUARD_ZENDESK_SUBDOMAIN>.zendesk.com.",
        parse=_url,
        section="zendesk",
    ),
    Setting(
        "zendesk_subdomain",
        "DESKGUARD_ZENDESK_SUBDOMAIN",
        "",
        "Zendesk subdomain (acme for acme.zendesk.com); the tenant id when DESKGUARD_TENANT_ID is "
        "empty.",
        section="zendesk",
    ),
    Setting(
        "zendesk_oauth_client_id",
        "DESKGUARD_ZENDESK_OAUTH_CLIENT_ID",
        "",
        "Identifier of the confidential OAuth client Deskguard uses (Admin Center > Apps and "
        "integrations > APIs > OAuth clients). Self-hosted: your account's own client (tokens by "
        "the client-credentials grant); marketplace: the global client (/connect/zendesk).",
        section="zendesk",
    ),
    Setting(
        "zendesk_oauth_client_secret",
        "DESKGUARD_ZENDESK_OAUTH_CLIENT_SECRET",
        None,
        "Secret of that OAuth client. Tokens it obtains are stored encrypted and refreshed.",
        secret=True,
        section="zendesk",
    ),
    Setting(
        "zendesk_oauth_scopes",
        "DESKGUARD_ZENDESK_OAUTH_SCOPES",
        "read,tickets:write,webhooks:write,triggers:write",
        "Comma list of the OAuth scopes Deskguard asks for: read (tickets, users, search, the "
        "export, app settings) and writes to tickets, webhooks and triggers only.",
        parse=_csv,
        section="zendesk",
    ),
    Setting(
        "zendesk_oauth_expires_in_seconds",
        "DESKGUARD_ZENDESK_OAUTH_EXPIRES_IN_SECONDS",
        "1800",
        "Access-token lifetime requested from Zendesk (expires_in; Zendesk accepts more than 300 "
        "and less than 172800).",
        parse=_positive_int,
        section="zendesk",
    ),
    Setting(
        "zendesk_oauth_refresh_expires_in_seconds",
        "DESKGUARD_ZENDESK_OAUTH_REFRESH_EXPIRES_IN_SECONDS",
        "2592000",
        "Refresh-token lifetime requested (refresh_token_expires_in; longer than the access "
        "token's). 30 days is Zendesk's default.",
        parse=_positive_int,
        section="zendesk",
    ),
    Setting(
        "zendesk_oauth_refresh_margin_seconds",
        "DESKGUARD_ZENDESK_OAUTH_REFRESH_MARGIN_SECONDS",
        "120",
        "An access token is refreshed this long before it expires (at most half its lifetime).",
        parse=_positive_float,
        section="zendesk",
    ),
    Setting(
        "zendesk_oauth_url_template",
        "DESKGUARD_ZENDESK_OAUTH_URL_TEMPLATE",
        "https://{subdomain}.zendesk.com",
        "Base URL of a Zendesk account connected at /connect/zendesk?subdomain=S ({subdomain} is "
        "replaced; the emulator's http://127.0.0.1:PORT in tests and the demo).",
        parse=_url_template,
        section="zendesk",
    ),
    Setting(
        "zendesk_email",
        "DESKGUARD_ZENDESK_EMAIL",
        "",
        "Deprecated (API tokens end 30 April 2027): email of the agent an API token belongs to. "
        "Only for installs not yet moved to OAuth (`deskguard zendesk migrate-auth`).",
        section="zendesk",
    ),
    Setting(
        "zendesk_api_token",
        "DESKGUARD_ZENDESK_API_TOKEN",
        None,
        "Deprecated: that agent's API token (Zendesk deactivates every API token on 30 April "
        "2027). Ignored once an OAuth client is configured.",
        secret=True,
        section="zendesk",
    ),
    Setting(
        "zendesk_webhook_secret",
        "DESKGUARD_ZENDESK_WEBHOOK_SECRET",
        None,
        "Signing secret of the Zendesk webhook. Normally stored by `deskguard zendesk setup`; set "
        "it only when you created the webhook by hand.",
        secret=True,
        section="zendesk",
    ),
    Setting(
        "zendesk_timeout_seconds",
        "DESKGUARD_ZENDESK_TIMEOUT_SECONDS",
        "15",
        "HTTP timeout of one Zendesk API request.",
        parse=_positive_float,
        section="zendesk",
    ),
    Setting(
        "zendesk_ratelimit_budget_seconds",
        "DESKGUARD_ZENDESK_RATELIMIT_BUDGET_SECONDS",
        "60",
        "Longest one Zendesk operation waits out 429 Retry-After periods before it gives up and "
        "the job is retried later (never more than DESKGUARD_VENDOR_MAX_WAIT_SECONDS).",
        parse=_positive_int,
        section="zendesk",
    ),
    Setting(
        "zendesk_webhook_tolerance_seconds",
        "DESKGUARD_ZENDESK_WEBHOOK_TOLERANCE_SECONDS",
        "300",
        "Webhook deliveries whose signed timestamp is further than this from now are refused "
        "(401).",
        parse=_positive_int,
        section="zendesk",
    ),
    Setting(
        "zendesk_poll",
        "DESKGUARD_ZENDESK_POLL",
        "true",
        "Poll the incremental ticket export as well as receiving webhooks (catches missed "
        "deliveries; the two deduplicate against each other).",
        parse=_bool,
        section="zendesk",
    ),
    Setting(
        "zendesk_poll_interval_seconds",
        "DESKGUARD_ZENDESK_POLL_INTERVAL_SECONDS",
        "60",
        "How often the scheduler polls each tenant's incremental export.",
        parse=_positive_float,
        section="zendesk",
    ),
    Setting(
        "zendesk_poll_lookback_seconds",
        "DESKGUARD_ZENDESK_POLL_LOOKBACK_SECONDS",
        "3600",
        "Where a tenant's very first poll starts (seconds before now); later polls resume from the "
        "stored cursor.",
        parse=_non_negative_int,
        section="zendesk",
    ),
    Setting(
        "zendesk_export_requests_per_minute",
        "DESKGUARD_ZENDESK_EXPORT_REQUESTS_PER_MINUTE",
        "10",
        "Requests per minute the poller allows itself on the incremental export (Zendesk's own "
        "limit is 10; 30 with the High Volume add-on).",
        parse=_positive_int,
        section="zendesk",
    ),
    Setting(
        "zendesk_batch_threshold",
        "DESKGUARD_ZENDESK_BATCH_THRESHOLD",
        "10",
        "Backlogs: when one export page brings at least this many changed tickets, the poller "
        "enqueues batch jobs of up to 100 tickets, each read in one request (show_many) instead of "
        "one per ticket. 0 turns batching off.",
        parse=_non_negative_int,
        section="zendesk",
    ),
)

SECRET_MASK = "********"
# scheme://userinfo@ where userinfo is "user:password" or a bare token (RFC 3986, 3.2.1: the
# "user:password" form is deprecated precisely because it puts a credential in the URL).
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#@\s]+)@")


def mask_url_credentials(text: str) -> str:
    """Mask credentials in every URL within ``text``: ``https://user:pass@host`` becomes
    ``https://user:***@host``; a bare ``https://token@host`` becomes ``https://***@host``."""

    def mask(match: re.Match[str]) -> str:
        user, sep, _password = match["userinfo"].partition(":")
        shown = f"{user}:***" if sep else "***"
        return f"{match['scheme']}{shown}@"

    return _URL_USERINFO.sub(mask, text)


class Config(Mapping[str, Any]):
    """Parsed settings; read as ``config.db_path`` or ``config["db_path"]``."""

    def __init__(self, values: dict[str, Any], sources: dict[str, str]):
        self._values = values
        self._sources = sources

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def source(self, name: str) -> str:
        return self._sources.get(name, "default")

    @property
    def ledger_location(self) -> str:
        """Where the ledger lives: the PostgreSQL URL when one is set, else the SQLite file."""
        return str(self._values.get("database_url") or self._values.get("db_path") or "")

    def replace(self, **changes: Any) -> Config:
        values = dict(self._values)
        sources = dict(self._sources)
        for name, value in changes.items():
            if name not in values:
                raise KeyError(name)
            values[name] = value
            sources[name] = "override"
        return Config(values, sources)

    def redacted(self) -> dict[str, Any]:
        """The effective config with every secret masked (for `config check`, diagnostics, logs),
        and credentials embedded in any URL masked too (``https://user:***@host``)."""
        out: dict[str, Any] = {}
        for s in SETTINGS:
            value = self._values.get(s.name)
            if s.secret and value not in (None, "", ()):
                value = SECRET_MASK
            elif isinstance(value, tuple):
                value = [mask_url_credentials(v) if isinstance(v, str) else v for v in value]
            elif isinstance(value, str):
                value = mask_url_credentials(value)
            out[s.name] = value
        return out


def read_dotenv(path: str | os.PathLike[str]) -> dict[str, str]:
    """Parse a .env file (KEY=VALUE lines, # comments, optional quotes)."""
    from dotenv import dotenv_values

    p = Path(path)
    if not p.is_file():
        return {}
    return {k: v for k, v in dotenv_values(p).items() if v is not None}


def load_config(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    dotenv_path: str | os.PathLike[str] | None = ".env",
    invalid: list[str] | None = None,
) -> Config:
    """Build the effective config. Raises ``ConfigError`` naming the variable on a bad value;
    with ``invalid`` (a list: `config check`) each bad value is appended there instead and the
    setting keeps its default, so every mistake is reported at once."""
    environ = os.environ if environ is None else environ
    dotenv = read_dotenv(dotenv_path) if dotenv_path else {}
    overrides = dict(overrides or {})
    known = {s.name for s in SETTINGS}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for s in SETTINGS:
        if s.name in overrides:
            raw: Any = overrides[s.name]
            sources[s.name] = "override"
        elif s.env in environ:
            raw = environ[s.env]
            sources[s.name] = "environment"
        elif s.env in dotenv:
            raw = dotenv[s.env]
            sources[s.name] = ".env"
        else:
            raw = s.default
            sources[s.name] = "default"
        if raw is None or not isinstance(raw, str):
            values[s.name] = raw  # unset, or an already-typed override from a test
            continue
        try:
            values[s.name] = s.parse(raw)
        except (ValueError, TypeError) as exc:
            shown = SECRET_MASK if s.secret else mask_url_credentials(repr(raw))
            message = f"{s.env}={shown} is invalid: {exc}"
            if invalid is None:
                raise ConfigError(message) from None
            invalid.append(message)
            values[s.name] = None if s.default is None else s.parse(s.default)
            sources[s.name] = "default"
    return Config(values, sources)


def config_warnings(
    config: Config, *, today: date | None = None, stripe_sdk_version: str | None = None
) -> list[str]:
    """Deprecations `config check` reports without failing. ``today`` (default: the UTC date)
    and ``stripe_sdk_version`` (default: the version the installed stripe-python pins) are
    seams for tests."""
    warnings = []
    if config.get("zendesk_api_token") and not config.get("zendesk_oauth_client_id"):
        warnings.append(
            "DESKGUARD_ZENDESK_API_TOKEN: Zendesk permanently deactivates every API token on 30 "
            "April 2027; create an OAuth client, set DESKGUARD_ZENDESK_OAUTH_CLIENT_ID and "
            "_SECRET, then run `deskguard zendesk migrate-auth` (docs/zendesk.md)"
        )
    today = today or datetime.now(UTC).date()
    warnings += shopify_version_warnings(str(config.get("shopify_api_version") or ""), today)
    if stripe_sdk_version is None:
        from adapters.stripe import SDK_API_VERSION  # imports stripe: only when checking

        stripe_sdk_version = SDK_API_VERSION
    warnings += stripe_version_warnings(
        str(config.get("stripe_api_version") or ""), stripe_sdk_version
    )
    warnings += claude_config_warnings(config)
    return warnings + admin_token_warnings(config) + key_format_warnings(config)


def shopify_version_warnings(version: str, today: date) -> list[str]:
    """A warning when the Shopify version is past (or outside) its support window on ``today``.

    Shopify supports each stable version for at least 12 months from its release, then answers
    its requests with the oldest supported version ("About Shopify API versioning",
    https://shopify.dev/docs/api/usage/versioning)."""
    status = shopify_version_status(version, today)
    supported = shopify_supported_versions(today)
    window = f"{supported[0]} to {supported[-1]}" if supported else "none"
    if status == "unsupported":
        return [
            f"DESKGUARD_SHOPIFY_API_VERSION={version} is past Shopify's support window (each "
            f"stable version is supported for 12 months; on {today.isoformat()} supported are "
            f"{window}): Shopify serves it as {supported[0] if supported else 'a newer version'}. "
            f"Set it to {supported[-1] if supported else 'a supported version'} (the version "
            "Deskguard's queries are validated against is in docs/vendors/shopify.md)"
        ]
    if status == "unreleased":
        return [
            f"DESKGUARD_SHOPIFY_API_VERSION={version} is not released yet on {today.isoformat()} "
            f"(supported: {window})"
        ]
    if status == "unstable":
        return [
            "DESKGUARD_SHOPIFY_API_VERSION=unstable changes without notice; use a stable version "
            f"(supported: {window})"
        ]
    return []


def stripe_version_warnings(version: str, sdk_version: str) -> list[str]:
    """A warning when the Stripe API version we send is older than the one stripe-python pins
    (the SDK's types follow its own version: "Set a Stripe API version",
    https://docs.stripe.com/sdks/set-version)."""
    if version and stripe_version_older(version, sdk_version):
        return [
            f"DESKGUARD_STRIPE_API_VERSION={version} is older than {sdk_version}, the version the "
            "installed stripe-python pins; review Stripe's changelog "
            "(https://docs.stripe.com/changelog) and set it to "
            f"{sdk_version}"
        ]
    return []


ADMIN_TOKEN_MIN_LENGTH = 32


def admin_token_warnings(config: Mapping[str, Any]) -> list[str]:
    """The admin bearer token is never locked out (connector/dashboard/login_limit.py), so its
    length is what stops guessing."""
    token = str(config.get("admin_token") or "")
    if token and len(token) < ADMIN_TOKEN_MIN_LENGTH:
        return [
            f"DESKGUARD_ADMIN_TOKEN is shorter than {ADMIN_TOKEN_MIN_LENGTH} characters "
            f"({len(token)}): the correct bearer token is never locked out, so its length is "
            "what stops guessing (use e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        ]
    return []


# Key prefixes. Stripe: secret keys start sk_live_/sk_test_, restricted keys rk_live_/rk_test_,
# publishable keys pk_live_/pk_test_ ("API keys", https://docs.stripe.com/keys); an endpoint's
# signing secret starts whsec_ ("Check the webhook signatures",
# https://docs.stripe.com/webhooks#verify-webhook-signatures). Anthropic keys start sk-ant-
# (Claude Console > API keys; "Getting started", https://docs.anthropic.com/en/api/getting-started).
# A prefix that does not match is a warning (formats may grow); a publishable key is a problem.
_KEY_PREFIXES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("stripe_api_key", ("sk_", "rk_"), "a secret (sk_...) or restricted (rk_...) key"),
    ("stripe_webhook_secret", ("whsec_",), "an endpoint signing secret (whsec_...)"),
    ("anthropic_api_key", ("sk-ant-",), "an Anthropic API key (sk-ant-...)"),
)


_PUBLIC_PREFIXES = ("sk_", "rk_", "whsec_", "sk-ant-", "sk-", "shpat_", "shpss_", "xoxb-")


def key_format_warnings(config: Mapping[str, Any]) -> list[str]:
    warnings = []
    for name, prefixes, what in _KEY_PREFIXES:
        value = str(config.get(name) or "").strip()
        if not value or value.startswith(prefixes) or value.startswith("pk_"):
            continue  # unset, as expected, or a publishable key (a problem, reported there)
        # Name the prefix only when it is a well-known public one (never part of a secret).
        known = next((p for p in _PUBLIC_PREFIXES if value.startswith(p)), None)
        starts = f"it starts with {known!r}" if known else "it has none of those prefixes"
        warnings.append(
            f"{setting(name).env} does not look like {what}: {starts}; check that the right "
            "value was pasted"
        )
    return warnings


_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def _is_loopback(host: str) -> bool:
    return host in _LOOPBACK_HOSTS or host.startswith("127.") or host.endswith(".localhost")


def plain_http_problems(config: Mapping[str, Any]) -> list[str]:
    """Every URL setting (ours and the vendors') must be https, except on this machine: over
    http a token or signed payload would cross the network in clear text."""
    from urllib.parse import urlsplit

    problems = []
    for s in SETTINGS:
        if s.parse not in (_url, _url_template):
            continue
        value = str(config.get(s.name) or "")
        if not value.lower().startswith("http://"):
            continue
        host = (urlsplit(value).hostname or "").lower()
        if not _is_loopback(host):
            problems.append(
                f"{s.env} must start with https:// ({mask_url_credentials(value)!r} uses "
                "plain http, allowed only for localhost/127.0.0.1)"
            )
    return problems


def zendesk_auth_problems(config: Mapping[str, Any]) -> list[str]:
    """Zendesk credentials that cannot work together (see connector/zendesk/service.py: OAuth
    client pair first, the deprecated agent email + API token second)."""
    problems = []
    client_id = bool(config.get("zendesk_oauth_client_id"))
    client_secret = bool(config.get("zendesk_oauth_client_secret"))
    if client_id != client_secret:
        have, missing = (
            ("CLIENT_ID", "CLIENT_SECRET") if client_id else ("CLIENT_SECRET", "CLIENT_ID")
        )
        problems.append(
            f"DESKGUARD_ZENDESK_OAUTH_{have} is set without DESKGUARD_ZENDESK_OAUTH_{missing}: "
            "the OAuth client needs both (Admin Center > Apps and integrations > APIs > OAuth "
            "clients)"
        )
    token, email = bool(config.get("zendesk_api_token")), bool(config.get("zendesk_email"))
    if token and not email and not (client_id and client_secret):
        problems.append(
            "DESKGUARD_ZENDESK_API_TOKEN is set without DESKGUARD_ZENDESK_EMAIL: an API token "
            "signs in as `<agent email>/token`, so the agent's email is needed too"
        )
    has_credentials = client_id or client_secret or token
    if has_credentials and not (config.get("zendesk_url") or config.get("zendesk_subdomain")):
        problems.append(
            "Zendesk credentials are set but neither DESKGUARD_ZENDESK_URL nor "
            "DESKGUARD_ZENDESK_SUBDOMAIN says which Zendesk account they belong to"
        )
    return problems


def commerce_problems(config: Mapping[str, Any]) -> list[str]:
    problems = []
    shop = str(config.get("shopify_shop") or "")
    if shop:
        from adapters.shopify import InvalidShopDomain, clean_shop_domain  # only when checking

        try:
            clean_shop_domain(shop)
        except InvalidShopDomain:
            problems.append(
                f"DESKGUARD_SHOPIFY_SHOP={shop!r} must be the shop's <store>.myshopify.com "
                "domain (Shopify admin > Settings > Domains), not a storefront domain"
            )
    elif config.get("shopify_access_token"):
        problems.append(
            "DESKGUARD_SHOPIFY_ACCESS_TOKEN is set but DESKGUARD_SHOPIFY_SHOP is empty: "
            "say which <store>.myshopify.com the token belongs to"
        )
    if str(config.get("stripe_api_key") or "").startswith("pk_"):
        problems.append(
            "DESKGUARD_STRIPE_API_KEY is a publishable key (pk_...): it cannot read customers "
            "or refund; use a restricted key (rk_...) or secret key (sk_...) from Stripe "
            "Dashboard > Developers > API keys"
        )
    for name in ("stripe_webhook_secret", "anthropic_api_key"):
        if str(config.get(name) or "").startswith("pk_"):
            problems.append(f"{setting(name).env} holds a Stripe publishable key (pk_...)")
    return problems


def classifier_problems(config: Mapping[str, Any]) -> list[str]:
    if config.get("classifier") == "claude" and not config.get("anthropic_api_key"):
        return [
            "DESKGUARD_CLASSIFIER=claude but DESKGUARD_ANTHROPIC_API_KEY is not set: every "
            "ticket would fall back to the local model"
        ]
    return []


def config_problems(config: Mapping[str, Any]) -> list[str]:
    """Mistakes across settings that `config check` fails on (exit 1): each one makes a part of
    Deskguard refuse to start, fail every call, or quietly not do what was configured."""
    return (
        plain_http_problems(config)
        + zendesk_auth_problems(config)
        + commerce_problems(config)
        + classifier_problems(config)
    )


# DESKGUARD_ names read outside this table (the dev kit's intake load generator).
OTHER_ENV_NAMES = frozenset({"DESKGUARD_BENCH_WEBHOOK_SECRET"})
ENV_PREFIX = "DESKGUARD_"


def nearest_setting(name: str) -> str | None:
    """The setting whose variable ``name`` most likely misspells, or None."""
    import difflib

    suffixes = {s.env[len(ENV_PREFIX) :]: s.env for s in SETTINGS}
    found = difflib.get_close_matches(name[len(ENV_PREFIX) :], suffixes, n=1, cutoff=0.75)
    return suffixes[found[0]] if found else None


def unknown_names(names_by_origin: Mapping[str, Iterable[str]]) -> tuple[list[str], list[str]]:
    """``(problems, warnings)`` for ``DESKGUARD_*`` names that are not settings, keyed by where
    they were found (``environment``, the .env file's path). A name close to a setting's is a
    likely typo, so the setting it meant is not set: a problem. Any other is a warning."""
    known = {s.env for s in SETTINGS} | OTHER_ENV_NAMES
    problems, warnings = [], []
    for origin, names in names_by_origin.items():
        for name in sorted(set(names)):
            if not name.startswith(ENV_PREFIX) or name in known:
                continue
            meant = nearest_setting(name)
            if meant:
                problems.append(f"{name} ({origin}) is not a setting: did you mean {meant}?")
            else:
                warnings.append(f"{name} ({origin}) is not a Deskguard setting and is ignored")
    return problems, warnings


def claude_config_warnings(config: Config) -> list[str]:
    """DESKGUARD_CLAUDE_MODEL legacy, deprecated, retired or unknown, or the price settings not
    the model's list prices (the table and its sources: connector/claude_models.py)."""
    prices = ClaudePrices(
        config.claude_price_input_per_mtok,
        config.claude_price_output_per_mtok,
        config.claude_price_cache_write_per_mtok,
        config.claude_price_cache_read_per_mtok,
    )
    return claude_model_warnings(str(config.get("claude_model") or ""), prices)


def setting(name: str) -> Setting:
    for s in SETTINGS:
        if s.name == name:
            return s
    raise KeyError(name)


# --- generated documentation ---------------------------------------------------------------
CONFIGURATION_DOC = Path("docs/configuration.md")
TABLE_BEGIN = "<!-- settings-table:begin (generated by `deskguard config docs --write`) -->"
TABLE_END = "<!-- settings-table:end -->"


def env_example_text() -> str:
    lines = [
        "# Deskguard configuration. Generated from connector/settings.py by",
        "# `deskguard config docs --write`; every setting is listed, commented out when the",
        "# default is fine. Copy to .env and fill in what you need.",
    ]
    section = None
    for s in SETTINGS:
        if s.section != section:
            section = s.section
            lines += ["", f"# --- {section} ---"]
        lines.append(f"# {s.help}" + (" (secret)" if s.secret else ""))
        default = "" if s.default is None else s.default
        lines.append(f"# {s.env}={default}")
    return "\n".join(lines) + "\n"


def settings_table_text() -> str:
    """The markdown settings table of docs/configuration.md, markers included."""
    rows = ["| Variable | Default | Secret | What it does |", "|---|---|---|---|"]
    for s in SETTINGS:
        default = "" if s.default is None else f"`{s.default}`" if s.default else "(empty)"
        rows.append(
            f"| `{s.env}` | {default} | {'yes' if s.secret else ''} | {s.help.replace('|', '/')} |"
        )
    return "\n".join([TABLE_BEGIN, *rows, TABLE_END])


# The table's former name, kept for callers that still import it.
readme_table_text = settings_table_text


def write_docs(root: Path) -> list[Path]:
    """Rewrite .env.example and the settings table in docs/configuration.md.

    Returns the files changed.
    """
    changed = []
    env_file = root / ".env.example"
    text = env_example_text()
    if not env_file.exists() or env_file.read_text() != text:
        env_file.write_text(text)
        changed.append(env_file)
    doc = root / CONFIGURATION_DOC
    content = doc.read_text() if doc.exists() else ""
    start, end = content.find(TABLE_BEGIN), content.find(TABLE_END)
    if start < 0 or end < start:
        raise ConfigError(f"{CONFIGURATION_DOC} lacks the settings-table markers")
    new = content[:start] + settings_table_text() + content[end + len(TABLE_END) :]
    if new != content:
        doc.write_text(new)
        changed.append(doc)
    return changed
