"""``deskguard bench local``: how fast the local model loads and reads tickets (cold and warm)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import click

from connector.classify.cli import _model_option, _read
from connector.cli_context import ROOT, echo_json
from connector.domain import TicketText

DEFAULT_BENCH_INPUT = ROOT / "tests" / "data" / "eval_tickets.jsonl"


@click.command("local")
@click.option(
    "--input",
    "input_path",
    type=click.Path(exists=True, dir_okay=False),
    default=str(DEFAULT_BENCH_INPUT),
    show_default=True,
    help="Tickets to read (JSONL).",
)
@_model_option
@click.option(
    "--seconds", type=float, default=5.0, show_default=True, help="How long to run the warm loop."
)
@click.option(
    "--loads", type=click.IntRange(1), default=5, show_default=True, help="Model loads to time."
)
@click.option(
    "--cold-passes",
    type=click.IntRange(1),
    default=3,
    show_default=True,
    help="First passes to time, each with a freshly loaded model and emptied per-word caches.",
)
@click.option(
    "--join",
    "join",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Glue N consecutive tickets into one body, to time longer emails (a thread: the first "
    "ticket's signature or quote header cuts the rest off the latest message).",
)
@click.option(
    "--chars",
    "chars",
    type=click.IntRange(0),
    default=0,
    help="Lengthen each ticket's latest message to about N characters with the latest messages of "
    "the next tickets in its language (one long new message, all of it read: the slow case).",
)
def bench_local(
    input_path: str,
    model_dir: str | None,
    seconds: float,
    loads: int,
    cold_passes: int,
    join: int,
    chars: int,
) -> None:
    """Local model speed on one core: model load time (and the language detector's, once per
    process), then full readings (category, signals,
    reasons) per second — first passes with cold caches (the median of --cold-passes, each with a
    freshly loaded model and emptied per-word caches), then a warm loop — and latency.

    Example: deskguard bench local --seconds 10 --chars 650
    """
    from connector.classify.local import LocalClassifier, default_model_dir
    from connector.classify.signals import clear_caches
    from connector.classify.signals.language import warm_up

    path = Path(model_dir) if model_dir else default_model_dir()
    # The language detector's models load once per process, on the first reading (or here).
    started = time.perf_counter()
    warm_up()
    language_load = time.perf_counter() - started
    load_times = []
    for _ in range(loads):
        started = time.perf_counter()
        model = LocalClassifier.from_dir(
            path
        )  # not the shared cache: a real load from disk every time
        load_times.append(time.perf_counter() - started)
    tickets = _read(input_path, require_label=False)
    if chars:
        texts = _lengthened(tickets, chars)
    else:
        texts = [
            TicketText(group[0].subject, "\n\n".join(ex.body for ex in group), group[0].id)
            for group in (tickets[i : i + join] for i in range(0, len(tickets), join))
        ]
    if not texts:
        raise click.ClickException(f"no tickets in {input_path}")
    cold_rates = []
    for _ in range(cold_passes):
        model = LocalClassifier.from_dir(path)
        clear_caches()
        started = time.perf_counter()
        for text in texts:
            model.classify(text)
        cold_rates.append(len(texts) / (time.perf_counter() - started))
    latencies = []
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        for text in texts:
            t0 = time.perf_counter()
            model.classify(text)
            latencies.append(time.perf_counter() - t0)
    warm = time.perf_counter() - started
    latencies.sort()
    echo_json(
        {
            "model": model.model_id,
            "input": input_path,
            "tickets": len(texts),
            "mean_chars": round(statistics.mean(len(t.subject) + len(t.body) for t in texts)),
            "load_seconds": {
                "median": round(statistics.median(load_times), 4),
                "max": round(max(load_times), 4),
            },
            "language_detector_load_seconds": round(language_load, 4),
            "first_pass_tickets_per_second": round(statistics.median(cold_rates), 1),
            "first_passes_tickets_per_second": [round(rate, 1) for rate in cold_rates],
            "warm_tickets_per_second": round(len(latencies) / warm, 1),
            "latency_ms": {
                "p50": round(1000 * latencies[len(latencies) // 2], 3),
                "p99": round(1000 * latencies[int(len(latencies) * 0.99)], 3),
            },
            "readings": len(latencies) + len(texts),
        }
    )


def _lengthened(tickets, chars: int) -> list[TicketText]:
    """Each ticket with its latest message grown to about ``chars`` characters (subject included)
    by the latest messages of the following tickets in the same language, then its quoted thread."""
    from connector.classify.signals import detect_language
    from connector.classify.text import split_email

    parts = [split_email(ex.body) for ex in tickets]
    langs = [
        ex.lang or detect_language(f"{ex.subject} {latest}")
        for ex, (latest, _) in zip(tickets, parts, strict=True)
    ]
    texts = []
    for i, ex in enumerate(tickets):
        latest, quoted = parts[i]
        paragraphs, size, j = [latest], len(ex.subject) + len(latest), i
        while size < chars and j < i + len(tickets):
            j += 1
            k = j % len(tickets)
            if langs[k] == langs[i] and parts[k][0]:
                paragraphs.append(parts[k][0])
                size += len(parts[k][0]) + 2
        body = "\n\n".join(paragraphs) + (f"\n\n{quoted}" if quoted else "")
        texts.append(TicketText(ex.subject, body, ex.id))
    return texts
