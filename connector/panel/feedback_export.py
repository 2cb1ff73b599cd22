"""Agent feedback as training data for ``deskguard train``.

One JSON line per judged decision: ``{"id", "subject", "body", "label"}``. The text is the
decision's **redacted** input snapshot (what the classifier saw), never a fresh copy of the
ticket, so exporting cannot leak what redaction removed. The label is the agent's answer: the
predicted category for a "right" verdict, the named category for a "wrong" one; a "wrong"
without a category teaches nothing and is skipped. When several agents judged one decision, the
most recent verdict wins.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from connector.db import table_columns

# Where the pipeline may keep the redacted input: a decisions column holding JSON
# {"subject", "body"}, or that object inside the reading JSON.
SNAPSHOT_COLUMNS = ("input_snapshot", "input", "ticket_text")


@dataclass
class ExportStats:
    exported: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


def _snapshot_column(db: sqlite_utils.Database) -> str | None:
    names = table_columns(db, "decisions")
    return next((c for c in SNAPSHOT_COLUMNS if c in names), None)


def _text(value: Any) -> dict[str, str] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, dict) and isinstance(value.get("body"), str):
        return {"subject": str(value.get("subject") or ""), "body": value["body"]}
    return None


def training_rows(
    db: sqlite_utils.Database, tenant_id: str, stats: ExportStats | None = None
) -> Iterator[dict[str, str]]:
    stats = stats if stats is not None else ExportStats()
    column = _snapshot_column(db)
    snapshot_sql = f"d.{column}" if column else "NULL"
    rows = db.conn.execute(
        "SELECT f.decision_id, d.ticket_id, d.category, f.verdict, f.correct_category, d.reading,"
        f" {snapshot_sql}"
        " FROM feedback f JOIN decisions d ON d.id = f.decision_id AND d.tenant_id = f.tenant_id"
        " WHERE f.tenant_id = ? AND f.id = (SELECT f2.id FROM feedback f2"
        " WHERE f2.tenant_id = f.tenant_id"
        "   AND f2.decision_id = f.decision_id ORDER BY f2.created_at DESC, f2.id DESC LIMIT 1)"
        " ORDER BY f.decision_id",
        (tenant_id,),
    )
    for decision_id, ticket_id, predicted, verdict, correct, reading, snapshot in rows:
        label = predicted if verdict == "right" else correct
        if not label:
            stats.skip("wrong_without_category")
            continue
        text = _text(snapshot)
        if text is None:
            reading_obj = _text_from_reading(reading)
            text = reading_obj
        if text is None:
            stats.skip("no_input_snapshot")
            continue
        stats.exported += 1
        yield {
            "id": f"{tenant_id}:{ticket_id}:{decision_id}",
            "subject": text["subject"],
            "body": text["body"],
            "label": label,
        }


def _text_from_reading(reading: str | None) -> dict[str, str] | None:
    try:
        data = json.loads(reading) if reading else None
    except ValueError:
        return None
    if isinstance(data, dict):
        return _text(data.get("input")) or _text(data.get("input_snapshot"))
    return None
