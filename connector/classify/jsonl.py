"""Reading the JSONL files the classify commands take: one JSON object per line, blank lines
skipped, and an error that names the file and line for anything else."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

from connector.errors import BadRequest

STDIN = "-"  # the path that means standard input


def name(path: str | Path) -> str:
    """How errors and default ids name ``path``: ``stdin`` for ``-``."""
    return "stdin" if str(path) == STDIN else str(path)


def objects(path: str | Path) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for every non-blank line of ``path`` (``-``: standard input);
    errors say ``FILE:LINE: …``."""
    try:
        text = sys.stdin.read() if str(path) == STDIN else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BadRequest(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise BadRequest(f"{name(path)}: not UTF-8 text") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{name(path)}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadRequest(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise BadRequest(f"{where}: expected a JSON object")
        yield number, row
