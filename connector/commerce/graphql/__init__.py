"""The Shopify Admin GraphQL documents Deskguard sends, kept as files.

Each ``<name>.graphql`` holds one operation; ``*.fragment.graphql`` files hold fragments.
``document(name)`` returns the operation text followed by every fragment it uses (transitively),
which is exactly what goes over the wire. A test validates every document against the Shopify
Admin 2026-10 introspection schema, and fails on any deprecated field, argument or enum value they
use, so a misspelt or retiring field fails in CI rather than in a shop.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
_SPREAD = re.compile(r"\.\.\.\s*(?!on\b)([_A-Za-z][_0-9A-Za-z]*)")
_FRAGMENT_DEF = re.compile(r"^\s*fragment\s+([_A-Za-z][_0-9A-Za-z]*)\s+on\b", re.M)


def _strip_comments(text: str) -> str:
    return re.sub(r"#[^\n]*", "", text)


@functools.cache
def fragments() -> dict[str, str]:
    """Fragment name → its definition text."""
    out: dict[str, str] = {}
    for path in sorted(HERE.glob("*.fragment.graphql")):
        text = path.read_text()
        names = _FRAGMENT_DEF.findall(_strip_comments(text))
        if len(names) != 1:
            raise ValueError(f"{path.name} must define exactly one fragment")
        out[names[0]] = text.strip()
    return out


def operation_names() -> list[str]:
    """Every operation document's name (file stem), e.g. ``orders_find``."""
    return sorted(
        p.name[: -len(".graphql")]
        for p in HERE.glob("*.graphql")
        if not p.name.endswith(".fragment.graphql")
    )


@functools.cache
def document(name: str) -> str:
    """The full document for operation ``name``: the operation plus the fragments it spreads."""
    path = HERE / f"{name}.graphql"
    if name not in operation_names():
        raise KeyError(f"no GraphQL document {name!r} in {HERE}")
    text = path.read_text().strip()
    known = fragments()
    needed: list[str] = []
    pending = _SPREAD.findall(_strip_comments(text))
    while pending:
        frag = pending.pop(0)
        if frag in needed:
            continue
        if frag not in known:
            raise KeyError(f"{name}.graphql spreads unknown fragment {frag!r}")
        needed.append(frag)
        pending.extend(_SPREAD.findall(_strip_comments(known[frag])))
    return "\n\n".join([text, *(known[f] for f in needed)]) + "\n"


__all__ = ["document", "fragments", "operation_names"]
