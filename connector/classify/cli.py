"""``deskguard classify``, ``deskguard eval`` and ``deskguard train``.

All three read the same JSONL: one ticket per line, ``{"id", "subject", "body", "label"?}``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from connector.cli_context import echo_json, tenant_option, tenant_runtime
from connector.domain import Classifier, TicketText, to_dict


def _read(path: str, *, require_label: bool):
    from connector.classify.train import read_jsonl

    return read_jsonl(path, require_label=require_label)


def _engine(
    ctx: click.Context, engine: str, model_dir: str | None, tenant: str | None
) -> Classifier:
    from connector.classify.local import LocalClassifier

    if engine == "local":
        if tenant is not None:
            tenant_runtime(ctx, tenant)  # not used by the local model, but never a typo
        return LocalClassifier.load(model_dir)
    from connector.classify import service as engines

    runtime, tenant_id = tenant_runtime(ctx, tenant)
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
_tenant_option = tenant_option  # the tenant whose Anthropic key --engine claude uses


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
@click.option(
    "--readings",
    "readings_path",
    metavar="FILE.jsonl",
    help="Score these readings instead of reading the tickets: one JSON object per line, "
    '{"id","category","confidence","language"?,"model"?} (`deskguard classify` output, or '
    "another system's answers), matched to the tickets by id; - for stdin.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--by",
    "by_fields",
    multiple=True,
    metavar="FIELD",
    help="Also report accuracy and precision at ≥ 0.9 per value of this JSONL field "
    "(e.g. lang, store; "
    'repeatable). Tickets without the field count as "-".',
)
@click.pass_context
def eval_cmd(
    ctx: click.Context,
    input_path: str,
    engine: str,
    model_dir: str | None,
    tenant: str | None,
    readings_path: str | None,
    as_json: bool,
    by_fields: tuple[str, ...],
) -> None:
    """Accuracy, macro-F1 over the 13 categories besides `other`, per-category precision/recall/F1,
    the confusion matrix, precision (with its Wilson 95 % lower bound) and coverage at confidence
    0.5–0.99, the expected
    calibration error, off-topic tickets (labelled `other`) read as a store category with
    confidence ≥ 0.9, and in-scope recall, for labelled tickets. `--by lang` also reports how
    often the detected language matched the ticket's `lang` field.

    Example: deskguard eval --input tests/data/eval_tickets.jsonl
    """
    from connector.classify.evaluate import (
        Outcome,
        Reading,
        by_group,
        evaluate,
        format_report,
        match_readings,
        read_readings,
    )

    if readings_path is not None and (model_dir is not None or engine != "local"):
        raise click.UsageError("--readings scores readings made elsewhere: no --model or --engine")
    if readings_path == "-" and input_path == "-":
        raise click.UsageError("only one of --input and --readings can be - (stdin)")
    tickets = _read(input_path, require_label=True)
    if readings_path is not None:
        readings = match_readings([ex.id for ex in tickets], read_readings(readings_path))
        engine = "readings"
    else:
        classifier = _engine(ctx, engine, model_dir, tenant)
        readings = []
        for ex in tickets:
            r = classifier.classify(TicketText(subject=ex.subject, body=ex.body, id=ex.id))
            readings.append(Reading(r.category, r.confidence, r.language or "", r.model))
    outcomes = [
        Outcome(ex.id, ex.label, r.category, r.confidence)
        for ex, r in zip(tickets, readings, strict=True)
    ]
    languages = [r.language for r in readings]
    model_ids = {r.model for r in readings if r.model}
    report = {
        "input": input_path,
        "engine": engine,
        **({"readings": readings_path} if readings_path is not None else {}),
        "models": sorted(model_ids),
        **evaluate(outcomes),
    }
    for field_name in by_fields:
        report[f"by_{field_name}"] = by_group(
            outcomes,
            [ex.field(field_name) or "-" for ex in tickets],
            detected=languages if field_name == "lang" else None,
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
    from connector.classify.store_training import TenantRecipe, fit_steps_on_top, train_on_top

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
            # Precision and coverage on the store's own tickets, each read by a model and a
            # calibrator that never saw it (None with fewer than 60 labelled tickets).
            "store_curve": report["store_curve"],
            "seconds": round(time.perf_counter() - started, 1),
            "use": f"deskguard classify --model {output_dir} --input tickets.jsonl",
        }
    )
