"""Quality figures for any engine's readings against labelled tickets (``deskguard eval``).

What matters most for Deskguard is the precision of *confident* answers (a reading above the
auto-reply threshold that is wrong sends a wrong email), so besides accuracy and macro-F1 the
report gives precision and coverage at each confidence threshold, with the Wilson 95 % lower
bound of that precision (50 of 50 right is not proof of 0.99), and the expected calibration
error: how far, on average, the stated confidence is from the observed accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from connector.classify.jsonl import name, objects
from connector.domain import CATEGORIES
from connector.errors import BadRequest
from connector.stats import wilson_lower_bound

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99)
ECE_BINS = 10
CONFIDENT = 0.9  # the threshold the off-topic figure is read at


@dataclass(frozen=True)
class Outcome:
    id: str
    label: str  # the truth
    category: str  # what the engine said
    confidence: float


@dataclass(frozen=True)
class Reading:
    """One line of a readings file (``deskguard eval --readings``): what some engine said about a
    ticket. The same shape ``deskguard classify`` prints; other fields are ignored."""

    category: str
    confidence: float
    language: str = ""
    model: str = ""


def read_readings(path: str | Path) -> dict[str, Reading]:
    """Readings by ticket id from a JSONL file of ``{"id","category","confidence",
    "language"?,"model"?}`` (e.g. ``deskguard classify`` output, or another system's answers).
    Clear errors with line numbers: a reading that cannot be scored is never guessed at."""
    out: dict[str, Reading] = {}
    for number, row in objects(path):
        where = f"{name(path)}:{number}"
        ident, category, confidence = row.get("id"), row.get("category"), row.get("confidence")
        if ident is None or ident == "":
            raise BadRequest(f'{where}: missing "id"')
        if not isinstance(ident, str | int) or isinstance(ident, bool):
            raise BadRequest(f'{where}: "id" must be a string or a whole number')
        if category not in CATEGORIES:
            raise BadRequest(
                f"{where}: unknown category {category!r} (one of: {', '.join(CATEGORIES)})"
            )
        if (
            not isinstance(confidence, int | float)
            or isinstance(confidence, bool)
            or not math.isfinite(confidence)
            or not 0.0 <= confidence <= 1.0
        ):
            raise BadRequest(f'{where}: "confidence" must be a number from 0 to 1')
        if str(ident) in out:
            raise BadRequest(f"{where}: a second reading for ticket {ident}")
        language, model = row.get("language") or "", row.get("model") or ""
        out[str(ident)] = Reading(str(category), float(confidence), str(language), str(model))
    if not out:
        raise BadRequest(f"{name(path)}: no readings")
    return out


def match_readings(ids: Sequence[str], readings: dict[str, Reading]) -> list[Reading]:
    """The reading of each ticket id, in order; every ticket must have one (readings for other
    tickets are allowed: a file of a larger set can score a subset)."""
    seen: set[str] = set()
    for ident in ids:
        if ident in seen:
            raise BadRequest(f"ticket id {ident} appears twice in the input: readings match by id")
        seen.add(ident)
    missing = [i for i in ids if i not in readings]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise BadRequest(f"no reading for ticket {missing[0]}{more}")
    return [readings[i] for i in ids]


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def evaluate(
    outcomes: Sequence[Outcome],
    categories: Sequence[str] = CATEGORIES,
    thresholds: Iterable[float] = THRESHOLDS,
) -> dict:
    """The full report as a JSON-ready dict."""
    n = len(outcomes)
    if n == 0:
        raise ValueError("no labelled tickets to evaluate")
    correct = [o.label == o.category for o in outcomes]
    per_category = {}
    for cat in categories:
        tp = sum(1 for o in outcomes if o.category == cat and o.label == cat)
        predicted = sum(1 for o in outcomes if o.category == cat)
        support = sum(1 for o in outcomes if o.label == cat)
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        per_category[cat] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(_f1(precision, recall), 4),
            "support": support,
            "predicted": predicted,
        }
    scored = [c for c in categories if c != "other" and per_category[c]["support"]]
    macro_f1 = sum(per_category[c]["f1"] for c in scored) / len(scored) if scored else 0.0
    confusion = {truth: {pred: 0 for pred in categories} for truth in categories}
    for o in outcomes:
        if o.label in confusion and o.category in confusion[o.label]:
            confusion[o.label][o.category] += 1
    at_threshold = []
    for t in thresholds:
        chosen = [ok for o, ok in zip(outcomes, correct, strict=True) if o.confidence >= t]
        bound = wilson_lower_bound(sum(chosen), len(chosen))
        at_threshold.append(
            {
                "threshold": t,
                "coverage": round(len(chosen) / n, 4),
                "answered": len(chosen),
                "precision": round(sum(chosen) / len(chosen), 4) if chosen else None,
                # How low the precision may really be, given how few were answered (95 %).
                "precision_lower_95": None if bound is None else round(bound, 4),
                "wrong": len(chosen) - sum(chosen),
            }
        )
    return {
        "tickets": n,
        "accuracy": round(sum(correct) / n, 4),
        **abstention(outcomes),
        "macro_f1": round(macro_f1, 4),
        "macro_f1_categories": len(scored),
        "expected_calibration_error": round(expected_calibration_error(outcomes), 4),
        "mean_confidence": round(sum(o.confidence for o in outcomes) / n, 4),
        "at_threshold": at_threshold,
        "per_category": per_category,
        "confusion": confusion,
    }


def abstention(outcomes: Sequence[Outcome], threshold: float = CONFIDENT) -> dict:
    """How the engine treats text that is not a store ticket and text that is:
    ``off_topic_read_confident``: tickets labelled `other` read as a store category with
    confidence ≥ ``threshold`` (the failure that sends a wrong reply), as a count and a share of
    the `other` tickets; ``in_scope_recall``: share of the tickets labelled with a store category
    read as that category."""
    off = [o for o in outcomes if o.label == "other"]
    confident = sum(1 for o in off if o.category != "other" and o.confidence >= threshold)
    in_scope = [o for o in outcomes if o.label != "other"]
    return {
        "off_topic_tickets": len(off),
        "off_topic_read_confident": confident,
        "off_topic_read_confident_share": round(confident / len(off), 4) if off else None,
        "in_scope_tickets": len(in_scope),
        "in_scope_recall": (
            round(sum(o.category == o.label for o in in_scope) / len(in_scope), 4)
            if in_scope
            else None
        ),
    }


def by_group(
    outcomes: Sequence[Outcome],
    groups: Sequence[str],
    thresholds: Iterable[float] = (0.9, 0.95),
    *,
    detected: Sequence[str] | None = None,
) -> dict:
    """Accuracy, and coverage / precision / wrong at each threshold, per group (a store, a language:
    ``deskguard eval --by store``), groups in order of size, with the off-topic figures of
    ``abstention``. ``detected``: the language the engine found per ticket, when the groups are
    the true languages (``--by lang``): adds each language's detection accuracy."""
    if len(groups) != len(outcomes):
        raise ValueError("one group per outcome")
    if detected is not None and len(detected) != len(outcomes):
        raise ValueError("one detected language per outcome")
    members: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    out = {}
    for g, where in sorted(members.items(), key=lambda item: (-len(item[1]), item[0])):
        rows = [outcomes[i] for i in where]
        entry: dict[str, float | None] = {
            "tickets": len(rows),
            "accuracy": round(sum(o.label == o.category for o in rows) / len(rows), 4),
            **abstention(rows),
        }
        if detected is not None:
            entry["language_accuracy"] = round(sum(detected[i] == g for i in where) / len(where), 4)
        for t in thresholds:
            chosen = [o.label == o.category for o in rows if o.confidence >= t]
            entry[f"coverage_at_{t}"] = round(len(chosen) / len(rows), 4)
            entry[f"precision_at_{t}"] = round(sum(chosen) / len(chosen), 4) if chosen else None
            entry[f"wrong_at_{t}"] = len(chosen) - sum(chosen)
        out[g] = entry
    return out


def expected_calibration_error(outcomes: Sequence[Outcome], bins: int = ECE_BINS) -> float:
    """Σ over equal-width confidence bins of (share of tickets) × |accuracy − mean confidence|."""
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        members = [
            o
            for o in outcomes
            if lo <= o.confidence < hi or (b == bins - 1 and o.confidence == 1.0)
        ]
        if members:
            accuracy = sum(o.label == o.category for o in members) / len(members)
            confidence = sum(o.confidence for o in members) / len(members)
            total += len(members) / len(outcomes) * abs(accuracy - confidence)
    return total


def format_report(report: dict, *, title: str = "") -> str:
    """The report as plain text for people (``deskguard eval`` without --json)."""
    lines = []
    if title:
        lines.append(title)
    lines.append(
        f"tickets {report['tickets']}   accuracy {report['accuracy']:.3f}   "
        f"macro-F1 ({report['macro_f1_categories']} categories, without `other`) "
        f"{report['macro_f1']:.3f}   "
        f"ECE {report['expected_calibration_error']:.3f}"
    )
    if report.get("off_topic_tickets"):
        lines.append(
            f"off-topic (`other`) read as a store category with confidence ≥ {CONFIDENT}: "
            f"{report['off_topic_read_confident']} of {report['off_topic_tickets']} "
            f"({report['off_topic_read_confident_share']:.2%})"
        )
    if report.get("in_scope_tickets"):
        lines.append(
            f"in-scope recall: {report['in_scope_recall']:.3f} of {report['in_scope_tickets']}"
        )
    lines.append("")
    lines.append("confidence ≥   coverage   precision   (95 % lower bound)   wrong")
    for row in report["at_threshold"]:
        precision = "   -  " if row["precision"] is None else f"{row['precision']:.3f}"
        low = row.get("precision_lower_95")
        bound = "-" if low is None else f"{low:.3f}"
        lines.append(
            f"  {row['threshold']:<11} {row['coverage']:>8.3f}   {precision:>9}   {bound:>18}"
            f"   {row['wrong']:>5}"
        )
    lines.append("")
    lines.append(f"{'category':<20}{'precision':>10}{'recall':>8}{'f1':>7}{'support':>9}")
    for cat, row in report["per_category"].items():
        lines.append(
            f"{cat:<20}{row['precision']:>10.3f}{row['recall']:>8.3f}{row['f1']:>7.3f}"
            f"{row['support']:>9}"
        )
    lines.append("")
    for key, groups in report.items():
        if key.startswith("by_") and isinstance(groups, dict):
            lines.append(
                f"{key[3:]:<20}{'tickets':>8}{'accuracy':>10}{'cov≥0.9':>9}{'prec≥0.9':>10}"
                f"{'wrong':>7}{'offtopic≥0.9':>14}{'lang ok':>9}"
            )
            for name, row in groups.items():
                precision = (
                    "-" if row["precision_at_0.9"] is None else f"{row['precision_at_0.9']:.3f}"
                )
                share = row.get("off_topic_read_confident_share")
                off = "-" if share is None else f"{share:.3f}"
                lang = row.get("language_accuracy")
                lines.append(
                    f"{name[:19]:<20}{row['tickets']:>8}{row['accuracy']:>10.3f}"
                    f"{row['coverage_at_0.9']:>9.3f}"
                    f"{precision:>10}{row['wrong_at_0.9']:>7}{off:>14}"
                    f"{'-' if lang is None else f'{lang:.3f}':>9}"
                )
            lines.append("")
    cats = list(report["confusion"])
    short = [c[:6] for c in cats]
    lines.append("confusion (rows: truth, columns: reading)")
    lines.append(" " * 20 + " ".join(f"{s:>6}" for s in short))
    for truth in cats:
        lines.append(f"{truth:<20}" + " ".join(f"{report['confusion'][truth][p]:>6}" for p in cats))
    return "\n".join(lines)
