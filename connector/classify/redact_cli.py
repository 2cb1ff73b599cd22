"""``deskguard redact``: what would leave the machine for each ticket of a JSONL file.

Reads the same JSONL as ``deskguard classify`` (one ticket per line, ``{"id", "subject", "body",
"label"?}``) and prints each line back with its subject and body redacted exactly as the
pipeline redacts them before any text reaches Claude (one ``Redactor`` per ticket, so one value
has one placeholder across subject and body), plus the count of placeholders per kind.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from connector.classify.redact import Redactor


def _tickets(path: str) -> list[tuple[int, dict[str, Any]]]:
    """Every ticket of the file (``-``: stdin), checked before anything is printed."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path}: not UTF-8 text ({exc.reason})") from None
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise click.ClickException(f"{path}:{number}: expected a JSON object")
        if not all(isinstance(row.get(k) or "", str) for k in ("subject", "body")):
            raise click.ClickException(f'{path}:{number}: "subject" and "body" must be strings')
        rows.append((number, row))
    return rows


@click.command("redact")
@click.option(
    "--input",
    "input_path",
    required=True,
    metavar="FILE.jsonl",
    help='Tickets, one JSON object per line: {"id","subject","body","label"?}; - for stdin.',
)
def redact_cmd(input_path: str) -> None:
    """Show exactly what would leave the machine: each ticket with its subject and body redacted.

    Prints one JSON object per input line: its "id" (the line number when it has none), the
    redacted "subject" and "body" (the only text that leaves), and "redactions" (placeholders per
    kind, never the values); other fields of the line are not printed. Card
    numbers, CVCs, expiry dates and IBANs become [CARD_1]-style placeholders, as do emails,
    phones, addresses and names. Nothing is sent anywhere.

    Example: deskguard redact --input tickets.jsonl
    """
    for number, row in _tickets(input_path):
        redactor = Redactor()
        out = {
            "id": row.get("id", number),
            "subject": redactor.redact(row.get("subject") or ""),
            "body": redactor.redact(row.get("body") or ""),
        }
        out["redactions"] = redactor.result("").counts
        click.echo(json.dumps(out, ensure_ascii=False))
