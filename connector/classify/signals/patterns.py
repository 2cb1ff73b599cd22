"""Regular-expression helpers the signals share: a fast ``finditer`` that tries a match only
where one can start, and word-list compilation grouped by first letter."""

from __future__ import annotations

import re

DIGIT_RUN = re.compile(r"\d+")


def scan(
    pattern: re.Pattern[str],
    text: str,
    lowered: str | None,
    leads: tuple[str, ...],
    *,
    digit_runs: bool | list[int] = False,
) -> list[re.Match[str]]:
    """Exactly ``list(pattern.finditer(text))``, but trying a match only where one of the
    pattern's leading literals occurs (``leads``, found in ``lowered``, the lower-cased text) or,
    with ``digit_runs`` (True, or the runs' starts), where a run of digits starts. A long
    alternation tried at every position of a long email is the slow part of these expressions;
    ``str.find`` is not."""
    if lowered is None:  # lower() changed the length (rare scripts): positions would not line up
        return list(pattern.finditer(text))
    starts: set[int] = set()
    for lead in leads:
        i = lowered.find(lead)
        while i != -1:
            starts.add(i)
            i = lowered.find(lead, i + 1)
    if digit_runs is True:
        starts.update(m.start() for m in DIGIT_RUN.finditer(text))
    elif digit_runs:
        starts.update(digit_runs)
    found: list[re.Match[str]] = []
    end = 0
    for i in sorted(starts):
        if i >= end:
            m = pattern.match(text, i)
            if m:
                found.append(m)
                end = m.end()
    return found


def split_alternatives(body: str) -> list[str]:
    """The top-level alternatives of a regular expression ("a|b(?:c|d)" → ["a", "b(?:c|d)"])."""
    parts, current, depth, i = [], [], 0, 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            current.append(body[i : i + 2])
            i += 2
            continue
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append("".join(current))
            current = []
            i += 1
            continue
        current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def word_pattern(pattern: str) -> re.Pattern[str]:
    r"""Compile ``\b(?:alt1|alt2|…)<suffix>`` with the alternatives grouped by first letter.

    Python's ``re`` tries every alternative at every word start; grouping them ("a(?:ngry|wful)|
    b(?:ad|roken)") makes it try only those that share the first letter, which is several times
    faster on these long multilingual word lists and matches exactly the same text."""
    inner, suffix = head_split(pattern)
    groups: dict[str, list[str]] = {}
    others = []
    for alt in split_alternatives(inner):
        if alt[:1].isalpha() and alt[1:2] not in ("*", "+", "?", "{"):
            groups.setdefault(alt[0].lower(), []).append(alt[1:])
        else:
            others.append(alt)
    parts = [f"{first}(?:{'|'.join(rests)})" for first, rests in sorted(groups.items())] + others
    return re.compile("\\b(?:" + "|".join(parts) + ")" + suffix, re.I)


def head_split(pattern: str) -> tuple[str, str]:
    r"""``\b(?:<inner>)<suffix>`` → (inner, suffix)."""
    head = "\\b(?:"
    assert pattern.startswith(head)
    depth, end = 1, len(head)
    while depth:
        if pattern[end] == "\\":
            end += 2
            continue
        depth += {"(": 1, ")": -1}.get(pattern[end], 0)
        end += 1
    return pattern[len(head) : end - 1], pattern[end:]
