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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def _shopify_api_version(text: str) -> str:
    import re

    value = text.strip()
    if not re.fullmatch(r"\d{4}-(01|04|07|10)|unstable", value):
        raise ValueError(
            "must be a Shopify API version like 2025-01 (quarterly: 01/04/07/10) or unstable"
        )
    return value


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
        "How long a SQLite writer waits for the lock before failing.",
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
        "demo_mode",
        "DESKGUARD_DEMO_MODE",
        "false",
        "Enables /panel/demo (the side panel in a normal browser with a stand-in Zendesk client "
        "and a demo token). Never enable in production.",
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
        "Signing secret (whsec_...) of the Stripe webhook endpoint /webhooks/stripe/<tenant>. "
        "Stored encrypted for the env tenant at start-up.",
        secret=True,
        section="stripe",
    ),
    Setting(
        "stripe_webhook_tolerance_seconds",
        "DESKGUARD_STRIPE_WEBHOOK_TOLERANCE_SECONDS",
        "300",
        "Oldest Stripe-Signature timestamp accepted (replay protection).",
        parse=_positive_int,
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
        "shopify_api_version",
        "DESKGUARD_SHOPIFY_API_VERSION",
        "2025-01",
        "Shopify Admin API version (YYYY-MM). The GraphQL documents are validated against 2025-01.",
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
        "claude-haiku-4-5",
        "Claude model id used for readings and drafts.",
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
        "1024",
        "Most output tokens of one Claude reading or draft.",
        parse=_positive_int,
        section="claude",
    ),
    Setting(
        "claude_price_input_per_mtok",
        "DESKGUARD_CLAUDE_PRICE_INPUT_PER_MTOK",
        "1.00",
        "USD per million uncached input tokens (claude-haiku-4-5 list price).",
        parse=_positive_float,
        section="claude",
    ),
    Setting(
        "claude_price_output_per_mtok",
        "DESKGUARD_CLAUDE_PRICE_OUTPUT_PER_MTOK",
        "5.00",
        "USD per million output tokens.",
        parse=_positive_float,
        section="claude",
    ),
    Setting(
        "claude_price_cache_write_per_mtok",
        "DESKGUARD_CLAUDE_PRICE_CACHE_WRITE_PER_MTOK",
        "1.25",
        "USD per million tokens written to the 5-minute prompt cache (1.25 × input).",
        parse=_positive_float,
        section="claude",
    ),
    Setting(
        "claude_price_cache_read_per_mtok",
        "DESKGUARD_CLAUDE_PRICE_CACHE_READ_PER_MTOK",
        "0.10",
        "USD per million tokens read from the prompt cache (0.1 × input).",
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
        "zendesk_email",
        "DESKGUARD_ZENDESK_EMAIL",
        "",
        "Email of the Zendesk agent Deskguard acts as (API token auth). Use a dedicated agent: "
        "loop safety recognises Deskguard's comments by this author plus the deskguard-ref marker.",
        section="zendesk",
    ),
    Setting(
        "zendesk_api_token",
        "DESKGUARD_ZENDESK_API_TOKEN",
        None,
        "Zendesk API token of that agent. Stored encrypted for the env tenant at start-up.",
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
        "the job is retried later.",
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
        """The effective config with every secret masked (for `config check`, diagnostics, logs)."""
        out: dict[str, Any] = {}
        for s in SETTINGS:
            value = self._values.get(s.name)
            if s.secret and value not in (None, "", ()):
                value = SECRET_MASK
            elif isinstance(value, tuple):
                value = list(value)
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
) -> Config:
    """Build the effective config. Raises ``ConfigError`` naming the variable on a bad value."""
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
            shown = SECRET_MASK if s.secret else repr(raw)
            raise ConfigError(f"{s.env}={shown} is invalid: {exc}") from None
    return Config(values, sources)


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
