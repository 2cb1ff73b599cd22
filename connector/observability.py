"""``GET /metrics``: the ledger's figures in the Prometheus text format.

A prometheus_client custom collector reads the ledger at scrape time through
``connector/pipeline/metrics.py`` (the figures the dashboard and the admin APIs show), so every
gunicorn worker answers the same numbers and nothing is counted in process memory. Figures are
over the whole ledger, one label set per tenant; for a window use PromQL (``increase`` over the
``_total`` counters).

Access: the admin bearer token, unless ``DESKGUARD_METRICS_ALLOW_LOOPBACK`` lets scrapes from
this machine in without it (off by default).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from connector.dashboard.login_limit import client_ip
from connector.pipeline import metrics as pipeline_metrics
from connector.tenants import list_tenants
from connector.web_context import get_runtime, require_admin

if TYPE_CHECKING:
    from connector.runtime import Runtime

bp = Blueprint("observability", __name__)
PREFIX = "deskguard"


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)


def _counter(name: str, doc: str, labels: list[str]) -> CounterMetricFamily:
    return CounterMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)


class LedgerCollector(Collector):
    """Every tenant's figures, read from the ledger when Prometheus scrapes."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        db = self.runtime.db
        policy_file = self.runtime.config.get("policy_file") or None
        families = _Families()
        for tenant in list_tenants(db):
            data = pipeline_metrics.figures(
                db, tenant, policy_file=policy_file, queue=self.runtime.queue, go_live=False
            )
            families.add(tenant, data)
        yield from families.all()
        took = _gauge("metrics_collect_seconds", "Time this scrape spent reading the ledger.", [])
        took.add_metric([], time.perf_counter() - started)
        yield took


class _Families:
    """The metric families of one scrape, filled tenant by tenant."""

    def __init__(self) -> None:
        t = ["tenant"]
        self.decisions = _counter(
            "decisions_total",
            "Decisions recorded, by the outcome the policy chose and the category.",
            [*t, "category", "outcome"],
        )
        self.by_status = _gauge(
            "decisions_by_status",
            "Decisions by status (done, failed, pending, ...).",
            [*t, "status"],
        )
        self.processed = _counter(
            "decisions_processed_total", "Decisions that finished (status done).", t
        )
        self.automated = _counter(
            "decisions_automated_total", "Finished decisions answered automatically.", t
        )
        self.escalated = _counter("decisions_escalated_total", "Finished decisions escalated.", t)
        self.automation_rate = _gauge(
            "automation_rate", "Automated / processed over the whole ledger.", t
        )
        self.escalation_rate = _gauge(
            "escalation_rate", "Escalated / processed over the whole ledger.", t
        )
        self.queue_jobs = _gauge("queue_jobs", "Jobs in the queue by state.", [*t, "state"])
        self.queue_depth = _gauge("queue_depth", "Jobs queued or running.", t)
        self.queue_held = _gauge("queue_held_jobs", "Jobs held (kill switch).", t)
        self.oldest = _gauge(
            "queue_oldest_ready_age_seconds", "Age of the oldest job ready to run.", t
        )
        self.dead = _gauge("dead_letters", "Jobs in the dead-letter state.", t)
        self.kill_switch = _gauge("kill_switch", "1 while the tenant's kill switch is on.", t)
        self.cap_used = _gauge(
            "auto_reply_cap_used", "Automated replies counted against the cap.", [*t, "window"]
        )
        self.cap_limit = _gauge(
            "auto_reply_cap_limit", "The cap on automated replies.", [*t, "window"]
        )
        self.writes = _gauge(
            "vendor_writes", "Vendor writes (actions) by state.", [*t, "vendor", "state"]
        )
        self.attempts = _counter(
            "vendor_write_attempts_total",
            "Vendor write attempts (sends, reconciles).",
            [*t, "vendor"],
        )
        self.errors = _counter(
            "vendor_write_errors_total", "Vendor write attempts that failed.", [*t, "vendor"]
        )
        self.tokens = _counter(
            "llm_tokens_total", "LLM tokens recorded on decisions.", [*t, "direction"]
        )
        self.cost = _counter("llm_cost_usd_total", "LLM cost recorded on decisions (USD).", t)

    def add(self, tenant: str, d: dict[str, Any]) -> None:
        for category, outcomes in _outcomes_by_category(d).items():
            for outcome, n in outcomes.items():
                self.decisions.add_metric([tenant, category, outcome], n)
        for status, n in d["by_status"].items():
            self.by_status.add_metric([tenant, status], n)
        self.processed.add_metric([tenant], d["processed"])
        self.automated.add_metric([tenant], d["automated"])
        self.escalated.add_metric([tenant], d["escalated"])
        for family, rate in (
            (self.automation_rate, d["automation_rate"]),
            (self.escalation_rate, d["escalation_rate"]),
        ):
            if rate is not None:  # no finished decision yet: no rate
                family.add_metric([tenant], rate)
        self._add_queue(tenant, d["queue"])
        self.kill_switch.add_metric([tenant], 1.0 if d["kill_switch"] else 0.0)
        caps = d["caps"]
        for window in ("hour", "day"):
            self.cap_used.add_metric([tenant, window], caps[f"used_{window}"])
            self.cap_limit.add_metric([tenant, window], caps[f"per_{window}"])
        for vendor, v in d["vendors"].items():
            for state, n in v["writes"].items():
                self.writes.add_metric([tenant, vendor, state], n)
            self.attempts.add_metric([tenant, vendor], v["attempts"])
            self.errors.add_metric([tenant, vendor], v["errors"])
        for direction in ("input", "output"):
            self.tokens.add_metric([tenant, direction], d["tokens"][direction])
        self.cost.add_metric([tenant], d["cost_usd_total"])

    def _add_queue(self, tenant: str, q: dict[str, Any]) -> None:
        for state, n in q["counts"].items():
            self.queue_jobs.add_metric([tenant, state], n)
        self.queue_depth.add_metric([tenant], q["depth"])
        self.queue_held.add_metric([tenant], q["held"])
        self.oldest.add_metric([tenant], q["oldest_queued_age_s"])
        self.dead.add_metric([tenant], q["counts"]["dead"])

    def all(self) -> Iterator[Metric]:
        yield from (v for v in vars(self).values() if isinstance(v, Metric))


def _outcomes_by_category(d: dict[str, Any]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for category, c in d["categories"].items():
        if c["decisions"]:
            out[category] = c["by_outcome"]
    return out


def _from_loopback() -> bool:
    """Whether this request comes from this machine. Relayed requests (X-Forwarded-For) count
    only through trusted proxies (DESKGUARD_TRUSTED_PROXY_HOPS)."""
    hops = int(get_runtime().config.trusted_proxy_hops)
    if hops == 0 and request.headers.get("X-Forwarded-For"):
        return False
    try:
        return ipaddress.ip_address(client_ip(request, hops).strip("[]")).is_loopback
    except ValueError:
        return False


@bp.get("/metrics")
def metrics() -> Response:
    runtime = get_runtime()
    if not (runtime.config.metrics_allow_loopback and _from_loopback()):
        require_admin()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LedgerCollector(runtime))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
