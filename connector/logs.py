"""Structured JSON logs, with tenant/ticket/job context bound once per job (contextvars).

``bind(tenant=..., ticket=..., job=...)`` sets context for the current thread/job; every log line
emitted inside carries it. Values whose key looks secret are masked by the formatter, and
``SecretValue`` masks itself, so no token reaches a log line. Card numbers are masked too:
``mask_cards`` replaces every Luhn-valid 13–19 digit number, in any layout (separators, scripts,
invisible characters, HTML), by ``[CARD]`` in the event, every string field and the traceback.

The card scanner lives here, in the core, because log lines need it and the core imports no
area; ``connector/classify/redact.py`` builds its ``[CARD_n]`` rule (cue words, order and
tracking numbers) on the same ``digit_runs`` and ``luhn_windows``.
"""

from __future__ import annotations

import contextlib
import contextvars
import html
import json
import logging
import re
import sys
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "deskguard_log_context", default=None
)
_SECRETISH = re.compile(r"(token|secret|password|api_key|authorization)", re.I)


@contextlib.contextmanager
def bind(**values: Any) -> Iterator[None]:
    token = _context.set(
        {**(_context.get() or {}), **{k: v for k, v in values.items() if v is not None}}
    )
    try:
        yield
    finally:
        _context.reset(token)


def context() -> dict[str, Any]:
    return dict(_context.get() or {})


# --- card numbers in any layout --------------------------------------------------------------
# The text is first mapped, one character for one, to a skeleton, so that a match found in the
# skeleton is a span of the original text (and replacing it removes the original characters,
# invisible ones included):
#   "0"-"9"  a decimal digit in any script (Arabic-Indic, Devanagari, full-width, ...: every
#            Unicode category Nd character) or a character whose NFKC form holds exactly one digit
#            ("①", "²", "⒈");
#   "s"      a space (every Unicode space separator: no-break, thin, figure, ideographic, ...);
#   "t"      other white space: tab, line and paragraph breaks;
#   "d"      a dash or a dot (any Unicode dash, full-width "－" and "．", the minus sign);
#   "q"      ">", the quote marker of email replies;
#   "p"      any other character that is neither letter nor digit: a separator;
#   "z"      invisible: format characters (category Cf: zero-width space/joiners, direction
#            marks, soft hyphen, BOM), combining marks and other control characters;
#   "a"      a letter (or a number form that is not one digit): it ends a run of digits.
# HTML is read as a browser would show it: a tag counts as one separator, an entity as the
# character it stands for ("&nbsp;" a space, "&#8203;" invisible, "&#52;" the digit 4).
#
# Digit groups form one run when at most MAX_GAP_UNITS separator units stand between them; a
# unit is one separator character, one tag or entity, or one stretch of up to 32 white-space
# characters and quote markers (a line break into a reply quoted at any depth, "\n> > > ", is
# one unit). Five units cover every layout seen in tickets (" — " is 3, "</b> | <b>" is 5),
# while a sentence between two numbers always holds letters, which end the run.
#
# Plain gaps (one or two spaces, or one dash or dot with a space either side at most) join
# groups of any length, as people write card numbers. Any other gap ("|", "/", ",", ":",
# tabs, line breaks, HTML, three or more spaces) joins only a card's own grouping: groups of 4
# with a shorter last group, or 4-6-5 and 4-6-4 (American Express, Diners). Without that rule
# lists and tables of numbers ("739140, 326750, 436704", "2022-03-13 20:03:04") would read as a
# card one time in ten (the Luhn check passes for one number in ten).
MAX_GAP_UNITS = 5
_MAX_WHITESPACE = 32
CARD_LENGTHS = range(13, 20)


def _skeleton_char(ch: str) -> str:
    value = unicodedata.decimal(ch, -1)
    if value >= 0:
        return str(value)
    category = unicodedata.category(ch)
    if category in ("Cf", "Mn", "Me", "Cs", "Co", "Cn") or (category == "Cc" and not ch.isspace()):
        return "z"
    if category == "Zs":
        return "s"
    if ch.isspace() or category.startswith("Z"):
        return "t"
    folded = unicodedata.normalize("NFKC", ch)
    if category == "Pd" or folded in ("-", ".", "\u2212"):
        return "d"
    if folded == ">":
        return "q"
    digits = [c for c in folded if unicodedata.decimal(c, -1) >= 0]
    letters = [c for c in folded if c.isalnum() and c not in digits]
    if len(digits) == 1 and not letters:
        return str(unicodedata.decimal(digits[0]))
    if digits or letters:
        return "a"
    return "s" if folded.isspace() else "p"


_TABLE_MAX = 20_000
_TABLE_SEED = {ord(c): _skeleton_char(c) for c in " \t\n-.>0123456789"}


class _SkeletonTable(dict[int, str]):
    """``str.translate`` table filled on first sight of each character (up to a bound, so that
    text made of every Unicode character cannot grow it without limit)."""

    def __missing__(self, code: int) -> str:
        value = _skeleton_char(chr(code))
        if len(self) < _TABLE_MAX:
            self[code] = value
        return value


_TABLE = _SkeletonTable(_TABLE_SEED)
_HTML_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_HTML_TAG = re.compile(r"<(?:/?[A-Za-z][^<>]{0,300}|!--[^<>]{0,300}?--)>")
_UNIT = rf"(?:z*+(?:[stq]{{1,{_MAX_WHITESPACE}}}+(?![stq])|[dp]))"
_RUN = re.compile(rf"[0-9](?:z*+[0-9]|{_UNIT}{{1,{MAX_GAP_UNITS}}}+z*+[0-9])*+")
_GROUP = re.compile(r"[0-9](?:z*+[0-9])*+z*+")
_PLAIN_GAP = re.compile(r"s{1,2}|s?ds?")


def card_skeleton(text: str) -> str:
    """The text's skeleton (same length, one character per character; see above)."""
    skeleton = text.translate(_TABLE)
    if "<" not in text and "&" not in text:
        return skeleton
    chars = list(skeleton)
    for m in _HTML_ENTITY.finditer(text):
        decoded = html.unescape(m.group())
        if len(decoded) == 1:
            chars[m.start() : m.end()] = _TABLE[ord(decoded)] + "z" * (len(m.group()) - 1)
    for m in _HTML_TAG.finditer(text):
        chars[m.start() : m.end()] = "p" + "z" * (len(m.group()) - 1)
    return "".join(chars)


def card_digits(text: str) -> str:
    """Every digit of ``text`` as ASCII, whatever its script or layout."""
    return "".join(ch for ch in card_skeleton(text) if ch.isdigit())


@dataclass(frozen=True)
class DigitGroup:
    """Digits written together (only invisible characters between them): ``text[start:end]``.
    ``plain``: the gap before it (from the previous group of its run) is a plain one."""

    start: int
    end: int
    digits: str
    plain: bool = True


def digit_runs(text: str) -> Iterator[list[DigitGroup]]:
    """Runs of digit groups separated by short gaps, with at least 13 digits in all."""
    skeleton = card_skeleton(text)
    for run in _RUN.finditer(skeleton):
        if sum(ch.isdigit() for ch in run.group()) < CARD_LENGTHS.start:
            continue
        groups: list[DigitGroup] = []
        for m in _GROUP.finditer(skeleton, run.start()):
            if m.start() >= run.end():
                break
            gap = skeleton[groups[-1].end : m.start()].replace("z", "") if groups else ""
            plain = not groups or _PLAIN_GAP.fullmatch(gap) is not None
            groups.append(DigitGroup(m.start(), m.end(), m.group().replace("z", ""), plain))
        yield groups


def card_grouping(lengths: list[int]) -> bool:
    """Group lengths a card is written in: 4-4-4-4 (a shorter last group), 4-6-5 or 4-6-4."""
    *head, last = lengths
    return (all(n == 4 for n in head) and 1 <= last <= 4) or tuple(lengths) in (
        (4, 6, 5),
        (4, 6, 4),
    )


def luhn_valid(digits: str) -> bool:
    if not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_windows(
    groups: list[DigitGroup], accept: Callable[[str, int], bool]
) -> list[tuple[int, int]]:
    """Group-aligned windows of 13–19 digits that pass the Luhn check and ``accept(digits, i)``
    (``i``: the index of the window's first group), the longest from each start, left to right,
    not overlapping; a window across a gap that is not plain must have a card's grouping.
    Returns the group index ranges ``(first, last)``."""
    found: list[tuple[int, int]] = []
    i = 0
    while i < len(groups):
        candidates, digits, lengths, plain = [], "", [], True
        for j in range(i, len(groups)):
            digits += groups[j].digits
            lengths.append(len(groups[j].digits))
            plain = plain and (j == i or groups[j].plain)
            if len(digits) > CARD_LENGTHS.stop - 1:
                break
            if len(digits) in CARD_LENGTHS and (plain or card_grouping(lengths)):
                candidates.append((j, digits))
        hit = next((j for j, d in reversed(candidates) if luhn_valid(d) and accept(d, i)), None)
        if hit is None:
            i += 1
            continue
        found.append((i, hit))
        i = hit + 1
    return found


_HEX_TOKEN = re.compile(r"[0-9A-Fa-f]{20,}")


def _inside_a_digest(text: str, skeleton: str, start: int, end: int) -> bool:
    """Digits inside a long hexadecimal token (``45effa…c1177499277346bd5…``: a digest, a key
    id, a signature) are not a card someone wrote. The token is the letters and digits around
    the span; it must be all hex, at least 20 characters and hold a hex letter. A card glued to
    an ordinary word (``card4111…``) is still masked."""
    lo, hi = start, end
    while lo > 0 and skeleton[lo - 1] in "a0123456789z":
        lo -= 1
    while hi < len(skeleton) and skeleton[hi] in "a0123456789z":
        hi += 1
    token = text[lo:hi]
    return (
        _HEX_TOKEN.fullmatch(token) is not None
        and any(c in "abcdefABCDEF" for c in token)
        and (lo < start or hi > end)
    )


def mask_cards(text: str, mask: str = "[CARD]") -> str:
    """``text`` with every Luhn-valid 13–19 digit number (any layout) replaced by ``mask``."""
    if len(text) < CARD_LENGTHS.start:
        return text
    skeleton = card_skeleton(text)
    spans = [
        (groups[first].start, groups[last].end)
        for groups in digit_runs(text)
        for first, last in luhn_windows(groups, lambda _digits, _i: True)
        if not _inside_a_digest(text, skeleton, groups[first].start, groups[last].end)
    ]
    for start, end in reversed(spans):
        text = text[:start] + mask + text[end:]
    return text


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_cards(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": mask_cards(record.getMessage()),
            **(_context.get() or {}),
        }
        for key, value in getattr(record, "fields", {}).items():
            out[key] = "********" if _SECRETISH.search(key) else _masked(value)
        if record.exc_info:
            out["exc"] = mask_cards(self.formatException(record.exc_info))
        elif record.exc_text:
            out["exc"] = mask_cards(record.exc_text)
        return json.dumps(out, default=str, ensure_ascii=False)


class ConsoleFormatter(JsonFormatter):
    def format(self, record: logging.LogRecord) -> str:
        data = json.loads(super().format(record))
        head = f"{data.pop('ts')} {data.pop('level'):7} {data.pop('event')}"
        data.pop("logger", None)
        exc = data.pop("exc", None)
        tail = " ".join(f"{k}={v}" for k, v in data.items())
        return head + (f"  {tail}" if tail else "") + (f"\n{exc}" if exc else "")


def configure(level: str = "info", fmt: str = "json", stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    root = logging.getLogger("deskguard")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def get(name: str) -> logging.Logger:
    return logging.getLogger(f"deskguard.{name}")


def log(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """Log an event with structured fields: ``log(LOG, logging.INFO, "job.done", ms=12)``.
    Card numbers in the event and the fields are masked here already, so every handler (a test's
    ``caplog`` too) receives the masked record."""
    logger.log(level, mask_cards(event), extra={"fields": _masked(fields)})
