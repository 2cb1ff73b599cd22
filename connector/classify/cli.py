"""``deskguard classify``, ``deskguard eval``, ``deskguard train`` and ``deskguard bench local``.

All three read the same JSONL: one ticket per line, ``{"id", "subject", "body", "label"?}``.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import click

from connector.cli import ROOT, echo_json, ready_runtime
from connector.domain import Classifier, TicketText, to_dict

DEFAULT_BENCH_INPUT = ROOT / "tests" / "data" / "eval_tickets.jsonl"


def _read(path: str, *, require_label: bool):
    from connector.classify.train import read_jsonl

    if path == "-":
        import tempfile

        with tempfile.NamedTemporaryFile(
            "w", suffix=".jsonl", encoding="utf-8", delete=False
        ) as fh:
            fh.write(sys.stdin.read())
        try:
            return read_jsonl(fh.name, source="stdin", require_label=require_label)
        finally:
            Path(fh.name).unlink()
    return read_jsonl(path, require_label=require_label)


def _engine(
    ctx: click.Context, engine: str, model_dir: str | None, tenant: str | None
) -> Classifier:
    from connector.classify.local import LocalClassifier

    if engine == "local":
        return LocalClassifier.load(model_dir)
    from connector.classify import engine as engines

    runtime = ready_runtime(ctx)
    tenant_id = tenant or runtime.config.get("tenant_id") or ""
    if not tenant_id:
        raise click.ClickException(
            "--engine claude needs a tenant: pass --tenant or set DESKGUARD_TENANT_ID"
        )
    return engines.claude_classifier(runtime, tenant_id)


_input_option = click.option(
    "--input",
    "input_path",
    required=True,
    metavar="FILE.jsonl",
    help='Tickets, one JSON object per line: {"id","subject","body","label"?}; - for stdin.',
)
_model_option = click.option(
    "--model",
    "model_dir",
    type=click.Path(file_okay=False),
    help="Local model directory (from `deskguard train`); default: the shipped model.",
)
_engine_option = click.option(
    "--engine",
    type=click.Choice(["local", "claude"]),
    default="local",
    show_default=True,
    help="claude uses the tenant's Anthropic key, with the local model as fallback.",
)
_tenant_option = click.option(
    "--tenant", help="Tenant for --engine claude (default: DESKGUARD_TENANT_ID)."
)


@click.command("classify")
@_input_option
@_engine_option
@_model_option
@_tenant_option
@click.pass_context
def classify_cmd(
    ctx: click.Context, input_path: str, engine: str, model_dir: str | None, tenant: str | None
) -> None:
    """Read tickets and print one reading per line (JSONL): id, category, confidence,
    alternatives, sentiment, urgency, language, entities, reasons, risk flags, engine, model.

    Example: deskguard classify --input tickets.jsonl > readings.jsonl
    """
    tickets = _read(input_path, require_label=False)
    classifier = _engine(ctx, engine, model_dir, tenant)
    for ex in tickets:
        reading = classifier.classify(TicketText(subject=ex.subject, body=ex.body, id=ex.id))
        click.echo(json.dumps({"id": ex.id, **to_dict(reading)}, ensure_ascii=False))


@click.command("eval")
@_input_option
@_engine_option
@_model_option
@_tenant_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--by",
    "by_fields",
    multiple=True,
    metavar="FIELD",
    help="Also report accuracy and precision at ≥ 0.9 per value of this JSONL field (e.g. lang, store; "
    'repeatable). Tickets without the field count as "-".',
)
@click.pass_context
def eval_cmd(
    ctx: click.Context,
    input_path: str,
    engine: str,
    model_dir: str | None,
    tenant: str | None,
    as_json: bool,
    by_fields: tuple[str, ...],
) -> None:
    """Accuracy, macro-F1 over the 13 categories besides `other`, per-category precision/recall/F1,
    the confusion matrix, precision and coverage at confidence 0.5–0.99, and the expected
    calibration error, for labelled tickets.

    Example: deskguard eval --input tests/data/eval_tickets.jsonl
    """
    from connector.classify.evaluate import Outcome, by_group, evaluate, format_report

    tickets = _read(input_path, require_label=True)
    classifier = _engine(ctx, engine, model_dir, tenant)
    outcomes = []
    model_ids = set()
    for ex in tickets:
        reading = classifier.classify(TicketText(subject=ex.subject, body=ex.body, id=ex.id))
        outcomes.append(Outcome(ex.id, ex.label, reading.category, reading.confidence))
        model_ids.add(reading.model)
    report = {
        "input": input_path,
        "engine": engine,
        "models": sorted(model_ids),
        **evaluate(outcomes),
    }
    for field_name in by_fields:
        report[f"by_{field_name}"] = by_group(
            outcomes, [ex.field(field_name) or "-" for ex in tickets]
        )
    if as_json:
        echo_json(report)
    else:
        click.echo(
            format_report(report, title=f"{input_path} · {engine} · {', '.join(sorted(model_ids))}")
        )


@click.command("train")
@click.option(
    "--input",
    "input_paths",
    required=True,
    multiple=True,
    metavar="FILE.jsonl",
    help="Labelled tickets from the store's history (repeat for several files).",
)
@click.option(
    "--output",
    "output_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory to write the tenant model to (model.json + weights.npz).",
)
@click.option(
    "--base",
    "base_dir",
    type=click.Path(file_okay=False, exists=True),
    help="Model to train on top of; default: the shipped model.",
)
@click.option(
    "--seed",
    type=int,
    default=7,
    show_default=True,
    help="Random seed (same inputs + seed = same model).",
)
@click.option(
    "--name", default="tenant", show_default=True, help="Model name; its id is NAME-<hash>."
)
def train_cmd(
    input_paths: tuple[str, ...], output_dir: str, base_dir: str | None, seed: int, name: str
) -> None:
    """Train a tenant model from a store's labelled tickets ON TOP of the default model: it keeps
    every category the store's data lacks, and learns the store's own words. Use it with
    `--model DIR`, or set the tenant setting `model_dir` to DIR for the pipeline.

    Example: deskguard train --input history.jsonl --output models/acme
    """
    from connector.classify.local import LocalClassifier, default_model_dir
    from connector.classify.tenant import TenantRecipe, fit_steps_on_top, train_on_top

    examples = [ex for path in input_paths for ex in _read(path, require_label=True)]
    base_path = Path(base_dir) if base_dir else default_model_dir()
    base = LocalClassifier.load(base_path)
    recipe = TenantRecipe(seed=seed)
    started = time.perf_counter()
    messages: list[str] = []
    with click.progressbar(
        length=fit_steps_on_top(len(examples), recipe),
        label="training",
        file=sys.stderr,
        show_eta=True,
    ) as bar:
        model, report = train_on_top(
            base,
            examples,
            output_dir,
            recipe=recipe,
            base_dir=base_path,
            name=name,
            progress=bar.update,
            log=messages.append,
        )
    for message in messages:
        click.echo(message, err=True)
    echo_json(
        {
            "model": model.model_id,
            "output": str(Path(output_dir)),
            "base_model": base.model_id,
            "examples": report["store_examples"],
            "labels": report["labels"],
            "store_out_of_fold_accuracy": report["store_out_of_fold_accuracy"],
            "seconds": round(time.perf_counter() - started, 1),
            "use": f"deskguard classify --model {output_dir} --input tickets.jsonl",
        }
    )


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
    """Local model speed on one core: model load time, then full readings (category, signals,
    reasons) per second — first passes with cold caches (the median of --cold-passes, each with a
    freshly loaded model and emptied per-word caches), then a warm loop — and latency.

    Example: deskguard bench local --seconds 10 --chars 650
    """
    from connector.classify.local import LocalClassifier, default_model_dir
    from connector.classify.signals import clear_caches

    path = Path(model_dir) if model_dir else default_model_dir()
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


def register_cli(cli: click.Group) -> None:
    cli.add_command(classify_cmd)
    cli.add_command(eval_cmd)
    cli.add_command(train_cmd)
    bench = cli.commands.get("bench")
    if bench is not None:
        bench.add_command(bench_local)
