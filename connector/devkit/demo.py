"""`deskguard demo`: the whole product on its embedded defaults.

Starts the built-in sandboxes (Zendesk, Shopify, Stripe; Anthropic only with ``--engine claude``),
a fresh SQLite ledger, the sidecar web app, the workers and the scheduler; installs the Zendesk app
settings and the webhook + trigger in the Zendesk sandbox; sets a policy that shows every mode; then
has sample customers write in. Each ticket travels the real path: the sandbox fires its trigger,
delivers a signed webhook, the sidecar enqueues it, a worker reads it back through zenpy, classifies
it with the local model, looks up Shopify and Stripe through their SDKs, decides, and writes (or,
in shadow mode, does not).

``--once`` prints the summary and exits (0 when every scenario behaved as described, 1 otherwise);
without it the demo keeps serving the side panel and dashboard until Ctrl-C.
"""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import socket
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

TENANT = "demo"


@dataclass
class Scenario:
    key: str
    shows: str  # what the ticket demonstrates
    subject: str
    body: str
    name: str
    email: str
    expect: tuple[str, ...]  # acceptable decision outcomes
    ticket_id: int | None = None
    result: dict[str, Any] = field(default_factory=dict)

    def require_ticket_id(self) -> int:
        """The scenario's ticket (set by Demo.play, which runs before anything reads it)."""
        if self.ticket_id is None:
            raise RuntimeError(f"scenario {self.key!r} has no ticket yet: Demo.play has not run")
        return self.ticket_id


SCENARIOS = [
    Scenario(
        "wismo",
        "auto: a WISMO question answered and solved automatically",
        "Where is my order #1001?",
        "Hi there,\n\nI ordered the trail running shoes last week (order #1001). "
        "Could you tell me where my package is and when it will arrive?\n\nThanks,\nJane",
        "Jane Doe",
        "jane.doe@example.com",
        ("auto_reply",),
    ),
    Scenario(
        "cancel",
        "assist: a cancellation drafted for an agent, with a proposed order cancellation",
        "Please cancel order 1002",
        "Hello, I placed order #1002 yesterday by mistake. Please cancel it before it ships. "
        "Kind regards, Marco Rossi",
        "Marco Rossi",
        "marco.rossi@example.com",
        ("assist_note",),
    ),
    Scenario(
        "escalate",
        "escalation: an angry VIP customer threatening legal action goes to a human, with priority",
        "This is unacceptable - order #1004",
        "I have spent thousands in your store and this is how you treat me? "
        "Order #1004 arrived broken and nobody answers. "
        "If this is not fixed today I will contact my lawyer.\nSam",
        "Sam Vip",
        "sam.vip@example.com",
        ("escalate",),
    ),
    Scenario(
        "refund",
        "collaborative: a refund proposed for an agent to approve (nothing paid out yet)",
        "Refund for order #1003",
        "Hello,\n\nthe jacket from order #1003 does not fit "
        "and I would like my money back please.\n\n"
        "Best,\nLi Wei",
        "Li Wei",
        "li.wei@example.com",
        ("assist_note",),
    ),
    Scenario(
        "shadow",
        "shadow: decided and audited, nothing written to Zendesk",
        "Do you ship to Norway?",
        "Hi, do you deliver to Norway, and how much does shipping cost? Thanks!",
        "Ingrid Berg",
        "ingrid.berg@example.com",
        ("shadow",),
    ),
]
BLOCKED = Scenario(
    "blocked",
    "blocked: the kill switch is on, so the write is deferred (not lost)",
    "Tracking for order #1001?",
    "Hi again, could you send me the tracking link for order #1001 once more? Thank you, Jane",
    "Jane Doe",
    "jane.doe@example.com",
    ("blocked",),
)


def _free_port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
        except OSError:
            s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, step: float = 0.2) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class Demo:
    def __init__(self, *, port: int, engine: str, data_dir: Path):
        self.port = port
        self.engine = engine
        self.data_dir = data_dir
        self.stack: list[Any] = []  # things to stop, in reverse order

    # --- start everything ----------------------------------------------------------------
    def start(self) -> None:
        from connector.bootstrap import ensure_env_tenant
        from connector.db import migrate
        from connector.devkit.sandbox import serve_in_thread
        from connector.devkit.sandbox.shopify import ShopifyState, sidecar_settings
        from connector.devkit.sandbox.shopify import create_app as shopify_app
        from connector.devkit.sandbox.stripe import start_stripe_sandbox
        from connector.devkit.sandbox.zendesk import start_zendesk_sandbox
        from connector.runtime import Runtime
        from connector.web import create_app

        self.sidecar_url = f"http://127.0.0.1:{self.port}"
        self.zendesk = start_zendesk_sandbox(subdomain=TENANT)
        self.stack.append(self.zendesk)
        self.shop_state = ShopifyState().seed_demo()
        shop = serve_in_thread(shopify_app(self.shop_state))
        self.stack.append(shop)
        self.stripe = start_stripe_sandbox(
            webhook_url=f"{self.sidecar_url}/webhooks/stripe/{TENANT}"
        )
        self.stack.append(self.stripe)
        self.admin_token = secrets.token_urlsafe(18)
        config: dict[str, Any] = {
            "db_path": str(self.data_dir / "deskguard.db"),
            "secret_keys": (_new_fernet_key(),),  # ephemeral: the demo ledger is thrown away
            "tenant_id": TENANT,
            "admin_token": self.admin_token,
            "demo_mode": True,
            "public_url": self.sidecar_url,
            "log_level": "warning",
            "log_format": "console",
            "zendesk_url": self.zendesk.url,
            # OAuth, as every new install must (Zendesk retires API tokens): the emulator's
            # confidential client, tokens by the client-credentials grant, refreshed as they age.
            "zendesk_oauth_client_id": self.zendesk.state.oauth_client.identifier,
            "zendesk_oauth_client_secret": self.zendesk.state.oauth_client.secret,
            "zendesk_oauth_url_template": self.zendesk.url,
            "zendesk_poll_interval_seconds": "15",
            "kill_switch_sync_seconds": "2",
            "privacy_export_dir": str(self.data_dir / "exports"),
            **sidecar_settings(self.shop_state, shop.url),
            **self.stripe.settings,
        }
        # /connect/zendesk works in the demo: the emulator knows our callback.
        self.zendesk.state.oauth_client.redirect_uris.append(
            f"{self.sidecar_url}/connect/zendesk/callback"
        )
        if self.engine == "claude":
            from connector.devkit.sandbox.anthropic import start_anthropic_sandbox

            anthropic = start_anthropic_sandbox()
            self.stack.append(anthropic)
            config.update(
                {
                    "classifier": "claude",
                    "anthropic_base_url": anthropic.url,
                    "anthropic_api_key": anthropic.api_key,
                }
            )
        from connector import logs

        self.runtime = Runtime(config)
        logs.configure("warning", "console")
        migrate(self.runtime.db)
        ensure_env_tenant(self.runtime)
        self.web = serve_in_thread(create_app(runtime=self.runtime), port=self.port)
        self.stack.append(self.web)

    def configure(self) -> None:
        from connector.pipeline.policy import set_category_modes
        from connector.zendesk.setup import setup_zendesk

        setup_zendesk(
            self.runtime, TENANT, self.sidecar_url
        )  # webhook + trigger, signing secret stored
        from connector.tenants import set_setting

        state = self.zendesk.state
        self.installation = state.install_app(
            {
                "sidecar_url": self.sidecar_url,
                "kill_switch": False,
                "default_mode": "assist",
                "auto_categories": "order_status",
            }
        )
        # What an admin copies from Zendesk so the sidecar can verify the panel's signed launch.
        for name in ("app_id", "id"):
            setting = "app_id" if name == "app_id" else "app_installation_id"
            set_setting(
                self.runtime.db,
                TENANT,
                setting,
                str(self.installation[name]),
                actor="demo",
                reason="demo: the app installed in the Zendesk sandbox",
            )
        # People who open the side panel (Deskguard's own API user never acts from it).
        self.demo_admin = state.add_user("Dana Admin", "dana.admin@demo.example", role="admin")
        self.demo_agent = state.add_user("Alex Agent", "alex.agent@demo.example", role="agent")
        set_category_modes(
            self.runtime.db,
            TENANT,
            {"*": "assist", "order_status": "auto", "shipping_info": "shadow"},
            actor="demo",
            reason="demo: show every mode",
            override_reason="demo data: no agent history yet",
        )

    def run_workers(self) -> None:
        from connector import scheduler
        from connector.classify.signals.language import warm_up
        from connector.jobs import worker_pool

        warm_up()  # as `deskguard worker` does: loading holds the GIL, so not on the first ticket
        self.pool = worker_pool(self.runtime, 2, idle_sleep=0.1)
        self.pool.start()
        self.sched, self.sched_lock = scheduler.start(self.runtime)

    # --- the scenarios ----------------------------------------------------------------------
    def _decision(self, ticket_id: int) -> dict[str, Any] | None:
        from connector.pipeline.decisions import recent_decisions

        rows = recent_decisions(self.runtime.db, TENANT, ticket_id=ticket_id, limit=1)
        return rows[0] if rows else None

    def play(self, timeout: float = 60.0) -> None:
        state = self.zendesk.state
        for sc in SCENARIOS:
            sc.ticket_id = state.customer_writes(
                subject=sc.subject, body=sc.body, name=sc.name, email=sc.email
            )["id"]
        _wait(lambda: all(self._decision(sc.require_ticket_id()) for sc in SCENARIOS), timeout)
        # A chargeback arrives from Stripe: the dispute brief lands on the customer's open ticket,
        # or opens a new high-priority ticket.
        self.dispute = self._post(
            f"{self.stripe.url}/_sandbox/disputes", {"email": "pat.chargeback@example.com"}
        )
        _wait(lambda: self._jobs_done("stripe.dispute"), timeout)
        # The admin pulls the kill switch (as from the CLI or the dashboard). An agent then approves
        # the proposed refund, and a customer writes again: both writes wait, nothing is lost.
        from connector.commerce import approvals
        from connector.pipeline.killswitch import set_switch

        set_switch(
            self.runtime.db, TENANT, True, actor="demo", reason="demo: show a blocked action"
        )
        refund = next(sc for sc in SCENARIOS if sc.key == "refund")
        pending = approvals.list_pending(self.runtime.db, TENANT, ticket_id=refund.ticket_id)
        self.refund_approval = None
        if pending:
            self.refund_approval = approvals.approve(
                self.runtime, TENANT, pending[0].id, "demo-agent"
            ).state
        BLOCKED.ticket_id = state.customer_writes(
            subject=BLOCKED.subject, body=BLOCKED.body, name=BLOCKED.name, email=BLOCKED.email
        )["id"]
        _wait(self._blocked_seen, timeout)
        _wait(lambda: self.runtime.queue.status()["counts"]["running"] == 0, 10)

    def _jobs_done(self, kind: str) -> bool:
        row = self.runtime.db.conn.execute(
            "SELECT COUNT(*), SUM(CASE WHEN state = 'done' THEN 1 ELSE 0 END) FROM jobs"
            " WHERE tenant_id = ? AND kind = ?",
            (TENANT, kind),
        ).fetchone()
        return bool(row[0]) and row[0] == row[1]

    def _blocked_seen(self) -> bool:
        from connector import audit

        return any(
            r["kind"] == "action.blocked"
            for r in audit.rows(self.runtime.db, tenant_id=TENANT, ticket_id=BLOCKED.ticket_id)
        )

    @staticmethod
    def _post(url: str, payload: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(
            url,
            data=json.dumps(payload).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as res:
            return json.loads(res.read() or b"{}")

    # --- the summary ------------------------------------------------------------------------
    def summary(self) -> tuple[list[dict[str, Any]], bool]:
        from connector import audit
        from connector.commerce import approvals

        state = self.zendesk.state
        me = state.agent["id"]
        rows, ok = [], True
        for sc in [*SCENARIOS, BLOCKED]:
            d = self._decision(sc.require_ticket_id()) or {}
            ours = state.notes(sc.require_ticket_id(), by=me)
            outcome = d.get("outcome", "none")
            if sc is BLOCKED:
                outcome = "blocked" if self._blocked_seen() else outcome
            passed = outcome in sc.expect
            if sc.key == "shadow":
                passed = passed and not ours  # shadow writes nothing
            if sc.key == "wismo":
                passed = passed and any(c["public"] and "track" in c["body"].lower() for c in ours)
            proposals = [
                f"{a.kind} ({a.state})"
                for a in approvals.list_approvals(self.runtime.db, TENANT, ticket_id=sc.ticket_id)
            ]
            if sc.key in ("cancel", "refund"):
                passed = passed and bool(proposals)
            ok = ok and passed
            rows.append(
                {
                    "ticket": sc.ticket_id,
                    "shows": sc.shows,
                    "category": d.get("category"),
                    "confidence": d.get("confidence"),
                    "mode": d.get("mode"),
                    "outcome": outcome,
                    "rule": d.get("rule"),
                    "written_to_zendesk": [
                        ("public reply" if c["public"] else "internal note") for c in ours
                    ],
                    "proposals": proposals,
                    "side_panel": self.links(sc.require_ticket_id())["side_panel"],
                    "ok": passed,
                }
            )
        dispute_notes = [
            t for t in state.search_tickets("type:ticket requester:pat.chargeback@example.com")
        ]
        rows.append(
            {
                "ticket": dispute_notes[0]["id"] if dispute_notes else None,
                "shows": "Stripe chargeback: dispute brief for agents (signed Stripe webhook)",
                "outcome": "dispute_brief" if dispute_notes else "none",
                "ok": bool(dispute_notes),
            }
        )
        ok = ok and bool(dispute_notes)
        refund_blocked = self.refund_approval is not None and any(
            r["kind"] == "action.blocked" and r["data"].get("action") == "stripe.refund"
            for r in audit.rows(self.runtime.db, tenant_id=TENANT)
        )
        rows.append(
            {
                "ticket": next(sc.ticket_id for sc in SCENARIOS if sc.key == "refund"),
                "shows": (
                    "blocked: an agent approved the refund,"
                    " but the kill switch holds it (deferred, audited)"
                ),
                "outcome": "blocked" if refund_blocked else "not blocked",
                "ok": refund_blocked,
            }
        )
        return rows, ok and refund_blocked

    def links(self, ticket_id: int, *, as_admin: bool = True) -> dict[str, str]:
        user = self.demo_admin if as_admin else self.demo_agent
        return demo_links(
            self.sidecar_url, self.zendesk.state, self.installation["id"], user["id"], ticket_id
        )

    def stop(self) -> None:
        if getattr(self, "pool", None):
            self.pool.stop()
        if getattr(self, "sched", None):
            self.sched.shutdown(wait=False)
            self.sched_lock.release()
        for thing in reversed(self.stack):
            try:
                thing.stop()
            except Exception:  # best effort on the way out
                pass
        if getattr(self, "runtime", None):
            self.runtime.close()


def print_summary(demo: Demo, rows: list[dict[str, Any]], ok: bool) -> None:
    click.echo("")
    click.echo(
        "Deskguard demo — sample tickets"
        " (Zendesk, Shopify and Stripe sandboxes; local model; SQLite)"
    )
    click.echo("")
    for r in rows:
        conf = f"{r['confidence']:.2f}" if isinstance(r.get("confidence"), float) else "-"
        mark = "ok " if r["ok"] else "!! "
        click.echo(f"{mark}#{r['ticket']}: {r['shows']}")
        if "category" in r:
            click.echo(
                f"      read as {r['category']} ({conf}), mode {r['mode']} → {r['outcome']} "
                f"[rule: {r['rule']}]; wrote: {', '.join(r['written_to_zendesk']) or 'nothing'}"
            )
            if r.get("proposals"):
                click.echo(f"      proposed for agent approval: {', '.join(r['proposals'])}")
            click.echo(f"      side panel (as admin Dana, signed launch): {r['side_panel']}")
    m = demo.runtime.queue.status()
    click.echo("")
    click.echo(
        f"Dashboard: {demo.sidecar_url}/admin/  (sign in with admin token {demo.admin_token})"
    )
    click.echo(
        f"Queue: {m['counts']}   Kill switch: ON (the blocked ticket waits; switch it off in the "
        "dashboard or side panel to release it)"
    )
    click.echo(f"Every scenario behaved as described: {'yes' if ok else 'NO'}")


def demo_links(
    sidecar_url: str, zendesk_state, installation_id: int, user_id: int, ticket_id: int
) -> dict[str, str]:
    """URLs for `make demo` to print: the side panel for one ticket, opened as Zendesk opens it
    (the Zendesk sandbox's launch page POSTs a launch it signed for ``user_id``; the sidecar in
    demo mode then serves its stand-in ZAF client), and the dashboard (sign in with
    DESKGUARD_ADMIN_TOKEN)."""
    from connector.devkit.sandbox.zendesk.app_signing import launch_page_url

    return {
        "side_panel": launch_page_url(zendesk_state, installation_id, user_id, ticket_id),
        "dashboard": f"{sidecar_url.rstrip('/')}/admin/",
    }


@click.command("demo")
@click.option("--once", is_flag=True, help="Run the sample tickets, print the summary and exit.")
@click.option(
    "--port", default=8000, show_default=True, type=int, help="Sidecar port (a free one if taken)."
)
@click.option(
    "--engine",
    type=click.Choice(["local", "claude"]),
    default="local",
    show_default=True,
    help="local model, or Claude through the built-in Anthropic sandbox.",
)
@click.option("--json", "as_json", is_flag=True, help="With --once: print the summary as JSON.")
def demo_command(once: bool, port: int, engine: str, as_json: bool) -> None:
    """Run Deskguard on its embedded defaults: sandboxes, local model, a fresh SQLite ledger.

    Example: deskguard demo --once
    """
    data_dir = Path(tempfile.mkdtemp(prefix="deskguard-demo-"))
    demo = Demo(port=_free_port(port), engine=engine, data_dir=data_dir)
    try:
        demo.start()
        click.echo(
            f"Deskguard demo on {demo.sidecar_url}"
            f" · dashboard: {demo.sidecar_url}/admin/ (admin token {demo.admin_token})",
            err=True,
        )
        demo.configure()
        demo.run_workers()
        demo.play()
        rows, ok = demo.summary()
        if as_json:
            click.echo(
                json.dumps(
                    {"ok": ok, "tickets": rows, "queue": demo.runtime.queue.status()["counts"]},
                    indent=2,
                    default=str,
                )
            )
        else:
            print_summary(demo, rows, ok)
        if once:
            raise SystemExit(0 if ok else 1)
        click.echo("\nServing until Ctrl-C.")
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        while not stop.is_set():
            stop.wait(0.5)
    finally:
        demo.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def _new_fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()
