"""Reading the JSONL files the classify commands take: one JSON object per line, blank lines
skipped, and an error that names the file and line for anything else."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from connector.errors import BadRequest


def objects(path: str | Path) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for every non-blank line of ``path``; errors say
    ``FILE:LINE: …``."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BadRequest(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise BadRequest(f"{path}: not UTF-8 text") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadRequest(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise BadRequest(f"{where}: expected a JSON object")
        yield number, row
