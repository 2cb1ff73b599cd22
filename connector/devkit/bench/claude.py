"""``deskguard bench redact`` and ``deskguard bench claude``."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from connector.cli_context import ROOT, echo_json

if TYPE_CHECKING:
    from connector.domain import Reading, Usage

DEFAULT_CORPUS = ROOT / "tests" / "data" / "redaction_corpus.jsonl"


def _load_tickets(path: Path) -> list[tuple[str, str]]:
    if not path.is_file():
        raise click.ClickException(
            f"no corpus at {path}: pass --corpus with a JSONL file of subject/body objects"
        )
    rows = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    return [(r.get("subject", ""), r.get("body", "")) for r in rows]


def _usage(reading: Reading) -> Usage:
    """A Claude reading's token counts (the engine sets them on every reading it returns)."""
    assert reading.usage is not None
    return reading.usage


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))], 3)


@click.command("redact")
@click.option(
    "--corpus", type=click.Path(path_type=Path), default=DEFAULT_CORPUS, show_default=True
)
@click.option("--repeat", default=50, show_default=True, type=click.IntRange(1))
def bench_redact(corpus: Path, repeat: int) -> None:
    """PII redaction speed over a corpus of tickets (subject + body, one Redactor per ticket).

    Example: deskguard bench redact --repeat 50
    """
    from connector.classify.redact import Redactor

    tickets = _load_tickets(corpus)
    per_ticket: list[float] = []
    started = time.perf_counter()
    for _ in range(repeat):
        for subject, body in tickets:
            t0 = time.perf_counter()
            redactor = Redactor()
            redactor.redact(subject)
            redactor.redact(body)
            per_ticket.append((time.perf_counter() - t0) * 1e6)
    elapsed = time.perf_counter() - started
    chars = sum(len(s) + len(b) for s, b in tickets) / len(tickets)
    echo_json(
        {
            "tickets": len(per_ticket),
            "mean_chars_per_ticket": round(chars),
            "seconds": round(elapsed, 3),
            "tickets_per_second": round(len(per_ticket) / elapsed),
            "us_per_ticket": {
                "p50": _pct(per_ticket, 50),
                "p95": _pct(per_ticket, 95),
                "max": round(max(per_ticket), 3),
            },
        }
    )


@click.command("claude")
@click.option(
    "--corpus", type=click.Path(path_type=Path), default=DEFAULT_CORPUS, show_default=True
)
@click.option("--tickets", default=200, show_default=True, type=click.IntRange(1))
def bench_claude(corpus: Path, tickets: int) -> None:
    """The Claude engine against the sandbox emulator: our overhead per reading (redaction, SDK,
    HTTP, validation) and the sandbox's token estimate priced at the configured rates. Not
    Claude's own latency; token counts are the emulator's characters/4 estimate.

    Example: deskguard bench claude --tickets 200
    """
    from adapters.anthropic import AnthropicClient
    from connector.classify.claude import ClaudeClassifier, Prices
    from connector.devkit.sandbox.anthropic import start_anthropic_sandbox
    from connector.domain import TicketText
    from connector.settings import load_config

    class NoFallback:
        def classify(self, text: TicketText) -> Reading:
            raise click.ClickException("the sandbox failed a reading (the bench expects none)")

    config = load_config()
    rows = _load_tickets(corpus)
    sandbox = start_anthropic_sandbox()
    try:
        client = AnthropicClient(
            api_key=sandbox.api_key,
            base_url=sandbox.url,
            timeout=30,
            connect_timeout=5,
            max_retries=0,
        )
        engine = ClaudeClassifier(
            client,
            fallback=NoFallback,
            model=config.claude_model,
            max_tokens=config.claude_max_tokens,
            prices=Prices.from_config(config),
        )
        readings, wall = [], []
        for i in range(tickets):
            subject, body = rows[i % len(rows)]
            t0 = time.perf_counter()
            readings.append(engine.classify(TicketText(subject=subject, body=body, id=str(i))))
            wall.append((time.perf_counter() - t0) * 1000)
    finally:
        sandbox.stop()
    warm = readings[1:] or readings
    echo_json(
        {
            "tickets": tickets,
            "model": config.claude_model,
            "ms_per_reading": {"p50": _pct(wall, 50), "p95": _pct(wall, 95)},
            "first_reading": {
                "cache_write_tokens": _usage(readings[0]).cache_creation_input_tokens,
                "cost_usd": readings[0].cost_usd,
            },
            "later_readings": {
                "cache_read_tokens_mean": round(
                    statistics.mean(_usage(r).cache_read_input_tokens for r in warm)
                ),
                "uncached_input_tokens_mean": round(
                    statistics.mean(_usage(r).input_tokens for r in warm)
                ),
                "output_tokens_mean": round(statistics.mean(_usage(r).output_tokens for r in warm)),
                "cost_usd_mean": round(statistics.mean(r.cost_usd for r in warm), 6),
            },
            "total_cost_usd": round(sum(r.cost_usd for r in readings), 6),
            "note": (
                "sandbox token estimates (characters/4),"
                " priced with the DESKGUARD_CLAUDE_PRICE_* settings"
            ),
        }
    )
