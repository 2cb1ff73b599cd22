"""``deskguard config check``: every mistake in the settings at once, for people or machines.

``check_config`` collects problems (exit 1) and warnings from the settings table
(connector/settings.py: bad values, settings that contradict each other, names that are not
settings); ``format_report`` prints them for people; ``online_checks`` (``--online``) makes one
cheap, read-only call to each configured vendor through the same adapters the worker uses,
built on a throwaway ledger so that the live one is never touched.
"""

from __future__ import annotations

import os
import tempfile
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connector.errors import ConfigError, DeskguardError, VendorError
from connector.settings import (
    SETTINGS,
    Config,
    config_problems,
    config_warnings,
    load_config,
    read_dotenv,
    unknown_names,
)

if TYPE_CHECKING:
    from connector.runtime import Runtime
    from connector.services import TenantServices

# The address the online checks look up orders and customers for: reserved, never a customer.
PROBE_EMAIL = "deskguard-config-check@example.invalid"
PROBE_TIMEOUT = 10.0  # seconds per vendor call at most (the configured timeout when shorter)
WIDTH = 100
DETAIL_MAX = 240  # characters of a vendor's error message shown


@dataclass
class Report:
    config: Config
    env_file: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    online: list[VendorCheck] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and all(c.ok for c in self.online or ())

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": self.ok,
            "problems": self.problems,
            "warnings": self.warnings,
            "env_file": self.env_file,
            "settings": {
                k: {"value": v, "source": self.config.source(k)}
                for k, v in self.config.redacted().items()
            },
        }
        if self.online is not None:
            out["online"] = [asdict(c) for c in self.online]
        return out


def check_config(
    overrides: Mapping[str, Any] | None,
    env_file: str,
    *,
    environ: Mapping[str, str] | None = None,
) -> Report:
    """Load the settings as every command would and collect what is wrong with them."""
    environ = os.environ if environ is None else environ
    invalid: list[str] = []
    config = load_config(overrides, environ=environ, dotenv_path=env_file, invalid=invalid)
    report = Report(config, env_file, problems=invalid)
    report.problems += key_problems(config)
    report.problems += config_problems(config)
    typos, strangers = unknown_names(
        {"environment": environ.keys(), env_file: read_dotenv(env_file).keys()}
    )
    report.problems += typos
    report.warnings += config_warnings(config) + strangers
    return report


def key_problems(config: Config) -> list[str]:
    """Malformed or missing encryption and audit keys (each error names its variable and never
    shows a key)."""
    from connector.audit_keys import Keyring
    from connector.secrets import SecretBox

    problems = []
    if config.secret_keys:
        try:
            SecretBox(config.secret_keys)
        except ConfigError as exc:
            problems.append(exc.message)
    else:
        problems.append("DESKGUARD_SECRET_KEYS is not set (needed to store tokens)")
    try:
        keyring = Keyring.from_config(config)
    except ConfigError as exc:
        return [*problems, exc.message]
    if keyring.signer is None:
        problems.append(
            "no audit chain key: set DESKGUARD_AUDIT_KEYS or DESKGUARD_SECRET_KEYS "
            "(audit rows would be chained without a key)"
        )
    return problems


# --- the report for people ------------------------------------------------------------------
def _items(lines: list[str], marker: str) -> list[str]:
    return [
        textwrap.fill(
            line,
            WIDTH,
            initial_indent=f"  {marker} ",
            subsequent_indent="    ",
            break_on_hyphens=False,
        )
        for line in lines
    ]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def format_report(report: Report, *, show_all: bool = False) -> str:
    """Problems, warnings, then the settings (secrets masked) grouped by section: by default only
    those set somewhere, every one with ``show_all``."""
    env_note = "" if Path(report.env_file).is_file() else " (not found: not read)"
    verdict = "OK" if report.ok else "NOT OK"
    failed = [c.vendor for c in report.online or () if not c.ok]
    vendors = f", vendors failing: {', '.join(failed)}" if failed else ""
    lines = [
        f"deskguard config check: {verdict}: {_plural(len(report.problems), 'problem')}, "
        f"{_plural(len(report.warnings), 'warning')}{vendors}",
        f"env file: {report.env_file}{env_note}",
    ]
    if report.problems:
        lines += ["", "Problems (fix these; the check exits 1):", *_items(report.problems, "x")]
    if report.warnings:
        lines += ["", "Warnings:", *_items(report.warnings, "!")]
    if report.online is not None:
        lines += ["", "Vendors (--online):", *_online_lines(report.online)]
    lines += ["", *_settings_lines(report.config, show_all)]
    return "\n".join(lines)


def _settings_lines(config: Config, show_all: bool) -> list[str]:
    shown = config.redacted()
    rows = [s for s in SETTINGS if show_all or config.source(s.name) != "default"]
    lines = [
        "Settings (secrets masked; where each value came from in brackets):"
        if show_all
        else "Settings that are set (secrets masked; where each came from in brackets):"
    ]
    section = None
    for s in rows:
        if s.section != section:
            section = s.section
            lines.append(f"  [{section}]")
        value = shown[s.name]
        text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        lines.append(
            f"    {s.env} = {text if value not in (None, '') else '(empty)'}"
            f"  [{config.source(s.name)}]"
        )
    if not rows:
        lines.append("  (none: every setting has its default)")
    hidden = len(SETTINGS) - len(rows)
    if hidden:
        lines.append(
            f"  {_plural(hidden, 'more setting')} at the default: `deskguard config check --all` "
            "lists every one"
        )
    return lines


def _online_lines(checks: list[VendorCheck]) -> list[str]:
    lines = []
    for c in checks:
        lines.append(f"  {c.vendor}: {'ok' if c.ok else 'FAILED'}  {c.url}")
        if c.detail:
            lines += _items([c.detail], " ")
        if c.hint:
            lines += _items([f"hint: {c.hint}"], " ")
    return lines or ["  (no vendor is configured)"]


# --- --online ---------------------------------------------------------------------------------
@dataclass
class VendorCheck:
    vendor: str
    ok: bool
    url: str
    detail: str = ""
    hint: str = ""


@dataclass(frozen=True)
class Probe:
    """One vendor's online check: whether it is configured, the URL the call goes to, the
    variables a hint names, and the call itself (through the tenant's services)."""

    vendor: str
    configured: Callable[[Config], bool]
    url: Callable[[Config], str]
    url_setting: str
    credentials: str
    call: Callable[[Runtime, TenantServices], str]


def _zendesk_base(config: Config) -> str:
    from connector.zendesk.service import zendesk_url_from_config

    return zendesk_url_from_config(config)


def _shopify_url(config: Config) -> str:
    from adapters.shopify import clean_shop_domain

    shop = clean_shop_domain(config.shopify_shop)
    base = config.shopify_admin_url.replace("{shop}", shop)
    return f"{base}/admin/api/{config.shopify_api_version}/graphql.json"


def _call_zendesk(runtime: Runtime, services: TenantServices) -> str:
    user = services.require_desk().current_user()
    return f"signed in as user {user.get('id')} ({user.get('role') or 'unknown role'})"


def _call_shopify(runtime: Runtime, services: TenantServices) -> str:
    orders = services.require_orders().find_orders(email=PROBE_EMAIL)
    return f"order search answered ({len(orders)} orders for the probe address)"


def _call_stripe(runtime: Runtime, services: TenantServices) -> str:
    customers = services.require_payments().find_customers(PROBE_EMAIL)
    return f"customer search answered ({len(customers)} customers for the probe address)"


def _call_anthropic(runtime: Runtime, services: TenantServices) -> str:
    from adapters.anthropic import AnthropicClient

    config = runtime.config
    client = AnthropicClient.from_config(config, config.anthropic_api_key)
    try:
        # The smallest Messages call there is (one output token): the models list would not
        # show that the configured model answers. "Messages",
        # https://docs.anthropic.com/en/api/messages
        reply = client.create_message(
            model=config.claude_model,
            max_tokens=1,
            messages=[{"role": "user", "content": "ping"}],
        )
    finally:
        client.close()
    return f"model {reply.model} answered"


PROBES: tuple[Probe, ...] = (
    Probe(
        "zendesk",
        lambda c: bool(_zendesk_base(c)),
        lambda c: f"{_zendesk_base(c)}/api/v2/users/me.json",
        "DESKGUARD_ZENDESK_URL (or DESKGUARD_ZENDESK_SUBDOMAIN)",
        "DESKGUARD_ZENDESK_OAUTH_CLIENT_ID/_SECRET (or DESKGUARD_ZENDESK_EMAIL/_API_TOKEN)",
        _call_zendesk,
    ),
    Probe(
        "shopify",
        lambda c: bool(c.shopify_shop),
        _shopify_url,
        "DESKGUARD_SHOPIFY_ADMIN_URL (with DESKGUARD_SHOPIFY_SHOP)",
        "DESKGUARD_SHOPIFY_ACCESS_TOKEN (or DESKGUARD_SHOPIFY_CLIENT_ID/_API_SECRET)",
        _call_shopify,
    ),
    Probe(
        "stripe",
        lambda c: bool(c.stripe_api_key),
        lambda c: f"{c.stripe_api_base}/v1/customers/search",
        "DESKGUARD_STRIPE_API_BASE",
        "DESKGUARD_STRIPE_API_KEY",
        _call_stripe,
    ),
    Probe(
        "anthropic",
        lambda c: bool(c.anthropic_api_key),
        lambda c: f"{c.anthropic_base_url}/v1/messages",
        "DESKGUARD_ANTHROPIC_BASE_URL",
        "DESKGUARD_ANTHROPIC_API_KEY",
        _call_anthropic,
    ),
)


def probe_config(config: Config, db_path: str) -> Config:
    """``config`` on a throwaway ledger, with one attempt per call and short waits."""
    from connector.secrets import new_key

    def capped(name: str) -> float:
        return min(float(config.get(name) or PROBE_TIMEOUT), PROBE_TIMEOUT)

    return config.replace(
        db_path=db_path,
        database_url="",  # the throwaway ledger is a file even when the live one is PostgreSQL
        secret_keys=config.secret_keys or (new_key(),),
        stripe_max_network_retries=0,
        claude_max_retries=0,
        vendor_max_wait_seconds=1.0,
        zendesk_ratelimit_budget_seconds=1,
        shopify_throttle_max_wait_seconds=1.0,
        zendesk_timeout_seconds=capped("zendesk_timeout_seconds"),
        shopify_timeout_seconds=capped("shopify_timeout_seconds"),
        stripe_timeout_seconds=capped("stripe_timeout_seconds"),
        claude_timeout_seconds=capped("claude_timeout_seconds"),
    )


def online_checks(config: Config) -> list[VendorCheck]:
    """One read-only call to every configured vendor, with the env tenant's credentials as the
    worker would use them (stored in a throwaway ledger, deleted afterwards)."""
    from connector.bootstrap import env_tenant_id
    from connector.db import migrate
    from connector.runtime import Runtime
    from connector.tenants import ensure_tenant

    probes = [p for p in PROBES if p.configured(config)]
    if not probes:
        return []
    with tempfile.TemporaryDirectory(prefix="deskguard-config-check-") as tmp:
        runtime = Runtime(probe_config(config, str(Path(tmp) / "check.db")))
        try:
            migrate(runtime.db)
            tenant_id = env_tenant_id(runtime)
            ensure_tenant(runtime.db, tenant_id, source="env")
            refused = {p.vendor: _configure(p, runtime, tenant_id) for p in probes}
            services = runtime.services(tenant_id)
            return [
                VendorCheck(p.vendor, False, _url(p, config), refused[p.vendor], "see the problems")
                if refused[p.vendor]
                else _run(p, runtime, services)
                for p in probes
            ]
        finally:
            runtime.close()


def _configure(probe: Probe, runtime: Runtime, tenant_id: str) -> str:
    """Store one vendor's env credentials for the tenant as connector/bootstrap.py does, vendor
    by vendor so that one bad setting fails only its own vendor; the refusal, or ""."""
    from connector.classify.service import configure_env_tenant as configure_anthropic
    from connector.commerce.service import configure_env_shop, configure_env_stripe
    from connector.zendesk.service import configure_env_tenant as configure_zendesk

    configure = {
        "zendesk": configure_zendesk,
        "shopify": configure_env_shop,
        "stripe": configure_env_stripe,
        "anthropic": configure_anthropic,
    }[probe.vendor]
    try:
        configure(runtime, tenant_id)
    except DeskguardError as exc:
        return exc.message or exc.code
    return ""


def _url(probe: Probe, config: Config) -> str:
    try:
        return probe.url(config)
    except Exception:  # a malformed setting is reported as a problem already
        return "(no valid URL)"


def _run(probe: Probe, runtime: Runtime, services: TenantServices) -> VendorCheck:
    url = _url(probe, runtime.config)
    try:
        detail = probe.call(runtime, services)
    except ConfigError as exc:
        return VendorCheck(probe.vendor, False, url, exc.message or exc.code, "see the problems")
    except VendorError as exc:
        detail = exc.message or exc.code
        if len(detail) > DETAIL_MAX:
            detail = detail[: DETAIL_MAX - 3] + "..."
        return VendorCheck(probe.vendor, False, url, detail, hint(probe, exc))
    return VendorCheck(probe.vendor, True, url, detail)


_NETWORK_WORDS = (
    ("refused", "connection refused"),
    ("timed out", "timed out"),
    ("timeout", "timed out"),
    ("name or service not known", "host name not found"),
    ("nodename nor servname", "host name not found"),
    ("temporary failure in name resolution", "host name not found"),
    ("getaddrinfo", "host name not found"),
    ("certificate", "TLS certificate not accepted"),
    ("ssl", "TLS handshake failed"),
)


def hint(probe: Probe, exc: VendorError) -> str:
    """What to look at, from the HTTP status (or, without one, the network error)."""
    status = exc.status
    text = " ".join(_chain_texts(exc)).lower()
    # OAuth token endpoints answer a wrong client with 400 or 401 and error=invalid_client
    # (RFC 6749, section 5.2: https://www.rfc-editor.org/rfc/rfc6749#section-5.2).
    if status == 401 or "invalid_client" in text or "unauthorized_client" in text:
        return f"the credentials were refused: check {probe.credentials}"
    if status == 403:
        return (
            f"the credentials lack a permission or scope: check what {probe.credentials} "
            "may do (docs/configuration.md lists what each vendor needs)"
        )
    if status == 404:
        return f"nothing answers at that path: is {probe.url_setting} right?"
    if status == 429:
        return "the vendor is rate limiting this account: try again in a minute"
    if status is not None and status >= 500:
        return f"the vendor answered {status}: try again later, or check its status page"
    if status is not None:
        return f"the vendor answered {status}: check {probe.credentials} and {probe.url_setting}"
    what = next((label for word, label in _NETWORK_WORDS if word in text), "no answer")
    return f"{what}: is {probe.url_setting} right, and is it reachable from this machine?"


def _chain_texts(exc: BaseException) -> list[str]:
    """The messages of ``exc`` and of the errors it was raised from or while handling (the
    adapters keep the network error there, e.g. ``[Errno 111] Connection refused``)."""
    texts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(texts) < 10:
        texts.append(f"{type(seen).__name__}: {seen}")
        seen = seen.__cause__ or seen.__context__
    return texts
