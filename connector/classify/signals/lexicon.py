"""The word-list lexicon every word-list signal reads through (risk flags, sentiment, urgency,
and the word counts of language detection).

A ticket is prepared once (``prepare``): lower-cased, accents stripped, its distinct words
counted and each looked up in every list at once, with one cached bit mask per distinct word.
The signals then ask the prepared text whether, how often and where a list matches, which gives
exactly what the list's whole regular expression would give on the same text (tests check this)
at a fraction of the cost.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from connector.classify.signals.patterns import head_split, scan, split_alternatives, word_pattern
from connector.classify.signals.words import (
    NEGATIVE_WORDS,
    POSITIVE_WORDS,
    RISK_TERMS,
    URGENT_WORDS,
)
from connector.classify.text import strip_accents

# An alternative made only of word characters and regex syntax that cannot match anything else
# ("(?:rechts)?anwalt", "disappoint\w*", "sue\b"): it matches inside one run of word characters.
_ONE_WORD = re.compile(r"(?:[^\W_]|\(\?:|\)|\||\?|\*|\+|\\w|\\b|\[[^\W_\]]+\])+")
_LEAD = re.compile(r"[^\W_]+")


def _leads(alternative: str) -> list[tuple[str, bool]] | None:
    """Where a match of a multi-word alternative can start: [(literal, exact)] — its first word is
    exactly ``literal`` (exact) or starts with it; None when that cannot be told."""
    if alternative.startswith("(?:"):
        inner, rest = head_split("\\b" + alternative)
        if rest[:1] in ("?", "*", "{"):
            return None
        found: list[tuple[str, bool]] = []
        for alt in split_alternatives(inner):
            leads = _leads(alt)
            if leads is None:
                return None
            found.extend(
                (literal, False) for literal, _ in leads
            )  # what follows the group is unknown
        return found
    m = _LEAD.match(alternative)
    if not m:
        return None
    literal, after = m.group(0), alternative[m.end() :]
    quantifier = after[2:3] if after.startswith("\\") else after[1:2]
    optional_next = quantifier in ("?", "*", "{")
    if not after or after[0] in "([" or optional_next or after.startswith("\\w"):
        return [(literal, False)]
    return [(literal, True)]


def _literals(alternative: str) -> list[str] | None:
    """The literal text every match of an alternative starts with (lower-case; one per branch of
    a leading group), for ``str.find``; None when a match may start with anything."""
    if alternative.startswith("(?:"):
        inner, rest = head_split("\\b" + alternative)
        if rest[:1] in ("?", "*", "{"):
            return None
        found: list[str] = []
        for alt in split_alternatives(inner):
            literals = _literals(alt)
            if not literals:
                return None
            found.extend(literals)
        return found
    chars, i = [], 0
    while i < len(alternative):
        ch = alternative[i]
        if ch == "\\":
            escaped = alternative[i + 1 : i + 2]
            if escaped.isalnum():  # \w, \b, \d, \s: a class or an assertion
                break
            literal, width = escaped, 2
        elif ch in "()[]|?*+{.^$":
            break
        else:
            literal, width = ch, 1
        quantifier = alternative[i + width : i + width + 1]
        if quantifier in ("?", "*", "{"):
            break
        chars.append(literal)
        i += width
        if quantifier == "+":
            break
    return ["".join(chars).lower()] if chars else None


class _WordList:
    r"""A word-list pattern ``\b(?:alt1|alt2|…)<suffix>``, matched word by word where it can be.

    Most alternatives match inside a single word: a ticket's words (``\w+`` runs of the plain
    text) are looked up instead, once per distinct word. The few that span words ("legal
    action", "f\*+ck") keep a regular expression that runs only when a word that can start
    them occurs. ``search`` and ``count`` give exactly ``pattern.search`` and
    ``len(pattern.findall)`` of the whole pattern on the same text (tests check this)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = word_pattern(pattern)
        inner, suffix = head_split(pattern)
        single: list[str] = []
        other: list[str] = []
        for alt in split_alternatives(inner):
            one = _ONE_WORD.fullmatch(alt) is not None and re.match(alt, "") is None
            (single if one else other).append(alt)
        self.word = re.compile("(?:" + "|".join(single) + ")" + suffix, re.I) if single else None
        self.other = word_pattern("\\b(?:" + "|".join(other) + ")" + suffix) if other else None
        # Each phrase: the words its match can start with, and the literal text it starts with.
        self._phrases = [(_leads(alt), _literals(alt)) for alt in other]
        self.always = any(leads is None for leads, _ in self._phrases)  # the word gate cannot tell
        pairs = [pair for leads, _ in self._phrases if leads for pair in leads]
        exact = [re.escape(lit) for lit, is_exact in pairs if is_exact]
        prefix = [re.escape(lit) for lit, is_exact in pairs if not is_exact]
        gate = [f"(?:{'|'.join(exact)})$"] if exact else []
        gate += [f"(?:{'|'.join(prefix)})"] if prefix else []
        self.gate = re.compile("|".join(gate), re.I) if gate else None
        self._literals_of: dict[str, tuple[str, ...] | None] = {}

    def literals_for(self, word: str) -> tuple[str, ...] | None:
        """Where to try the phrases a word (that passed the gate) can start; None: anywhere."""
        found = self._literals_of.get(word, ())
        if found == ():
            lits: list[str] = []
            anywhere = False
            for leads, literals in self._phrases:
                if leads and any(
                    word == lead if exact else word.startswith(lead) for lead, exact in leads
                ):
                    if literals is None:
                        anywhere = True
                        break
                    lits.extend(literals)
            found = None if anywhere else tuple(dict.fromkeys(lits))
            if len(self._literals_of) < 10_000:
                self._literals_of[word] = found
        return found


def _group_end(pattern: str, start: int) -> int:
    """The index just past the group that opens at ``pattern[start]`` ("(")."""
    depth, i = 0, start
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":  # a character class: its brackets and parentheses are literal
            i += 2 if pattern[i + 1 : i + 2] == "]" else 1
            while pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"unbalanced group in {pattern!r}")


def branches(pattern: str) -> list[str]:
    """The alternatives of ``pattern`` with every group of alternatives that starts a branch
    and is not repeated distributed over what follows it ("(?:a|b)c" -> "ac", "bc"): the same
    text matches either way, and more branches start with a letter (``by_first_letter``)."""
    out: list[str] = []
    for alt in split_alternatives(pattern):
        if alt.startswith("(?:"):
            end = _group_end(alt, 0)
            suffix = alt[end:]
            if suffix[:1] not in ("*", "+", "?", "{"):
                out.extend(branch + suffix for branch in branches(alt[3 : end - 1]))
                continue
        out.append(alt)
    return out


def by_first_letter(alternatives: list[str]) -> str:
    """One alternation of ``alternatives`` (regular expressions, compiled with re.I) with those
    that start with a letter grouped by it ("a(?:ngry|wful)|b(?:ad)"): Python's ``re`` tries each
    branch of an alternation in turn, and a grouped one only when the first letter matches. The
    same text matches."""
    groups: dict[str, list[str]] = {}
    others = []
    for alt in alternatives:
        if alt[:1].isalpha() and alt[1:2] not in ("*", "+", "?", "{"):
            groups.setdefault(alt[0].lower(), []).append(alt[1:])
        else:
            others.append(alt)
    return "|".join(
        [f"{first}(?:{'|'.join(rests)})" for first, rests in sorted(groups.items())] + others
    )


class _Lexicon:
    """Several word lists looked up together: one cached bit mask per distinct word (bit 2i: the
    word matches list i; bit 2i+1: the word can start one of list i's multi-word phrases)."""

    _LIMIT = 100_000

    def __init__(self, lists: dict[str, _WordList], marks: dict[str, re.Pattern[str]]) -> None:
        self.lists = lists
        self.bit = {name: 1 << (2 * i) for i, name in enumerate(lists)}
        # Marks: one more bit each, for words in which a pattern is found ("could be a tracking
        # number").
        self.marks = {
            name: (1 << (2 * len(lists) + i), pattern)
            for i, (name, pattern) in enumerate(marks.items())
        }
        self.cache: dict[str, int] = {}
        # Every list's word and gate patterns as one alternation: most words match none of them,
        # and one failed match in C is cheaper than a Python loop of failed matches. Its branches
        # are grouped by first letter (``by_first_letter``): a word is then tried against the
        # branches that start with its own first letter only, not every branch in turn.
        parts = [
            f"(?:{p.pattern})" for wl in lists.values() for p in (wl.word, wl.gate) if p is not None
        ]
        self._any = re.compile(by_first_letter(branches("|".join(parts))), re.I) if parts else None

    def bits(self, word: str) -> int:
        bits = self.cache.get(word)
        if bits is None:
            bits = 0
            any_list = self._any is not None and self._any.match(word) is not None
            for i, wl in enumerate(self.lists.values() if any_list else ()):
                if wl.word is not None and wl.word.match(word):
                    bits |= 1 << (2 * i)
                if wl.gate is not None and wl.gate.match(word):
                    bits |= 2 << (2 * i)
            for bit, pattern in self.marks.values():
                if pattern.search(word):
                    bits |= bit
            if len(self.cache) >= self._LIMIT:
                self.cache.clear()
            self.cache[word] = bits
        return bits


LISTS = _Lexicon(
    {
        **{flag: _WordList(r"\b(?:" + "|".join(terms) + ")") for flag, terms in RISK_TERMS.items()},
        "negative": _WordList(NEGATIVE_WORDS),
        "positive": _WordList(POSITIVE_WORDS),
        "urgent": _WordList(URGENT_WORDS),
    },
    {
        # Every carrier format has nine digits in a row or starts with 1Z or 3S (lower-case here),
        # so a text none of whose words has that holds no tracking number in the formats of
        # entities._TRACKING.
        "tracking": re.compile(r"\d{9}|^1z|3s"),
    },
)


def clear_caches() -> None:
    """Forget every per-word fact learnt while reading (``deskguard bench local`` times truly
    cold passes with it); readings do not change, only how fast the next ones are."""
    LISTS.cache.clear()
    for wl in LISTS.lists.values():
        wl._literals_of.clear()


@dataclass(frozen=True)
class PreparedText:
    """A text prepared once for every word-list signal: lower-case, accents stripped, how often
    each distinct word occurs, and the list bits of the words that have any."""

    text: str
    lowered: str | None  # text.lower() when it has the same length (positions line up), for scan
    counts: dict[str, int]
    hits: dict[str, int]  # word → its bits, for words with at least one
    union: int

    def _phrases(self, wl: _WordList, bit: int) -> list[re.Match[str]]:
        """Matches of the list's multi-word phrases (``wl.other.finditer``), tried only where a
        word that can start one occurs."""
        if wl.other is None:
            return []
        if wl.always:
            return list(wl.other.finditer(self.text))
        starts: list[str] = []
        for word, bits in self.hits.items():
            if bits & (bit << 1):
                literals = wl.literals_for(word)
                if literals is None:
                    return list(wl.other.finditer(self.text))
                starts.extend(literals)
        return scan(wl.other, self.text, self.lowered, tuple(starts)) if starts else []

    def search(self, name: str) -> bool:
        wl, bit = LISTS.lists[name], LISTS.bit[name]
        return bool(self.union & bit) or bool(self._phrases(wl, bit))

    def count(self, name: str) -> int:
        wl, bit = LISTS.lists[name], LISTS.bit[name]
        n = sum(self.counts[word] for word, bits in self.hits.items() if bits & bit)
        return n + len(self._phrases(wl, bit))

    def finditer(self, name: str) -> list[re.Match[str]]:
        """``pattern.finditer(text)`` of the whole list, trying only where a matching word or a
        phrase's first words occur."""
        wl, bit = LISTS.lists[name], LISTS.bit[name]
        words = tuple(word for word, bits in self.hits.items() if bits & bit)
        phrases = self._phrases(wl, bit)
        if not words:
            return phrases
        if not phrases:
            return scan(wl.pattern, self.text, self.lowered, words)
        return scan(wl.pattern, self.text, self.lowered, words + tuple(m.group(0) for m in phrases))


_WORDS = re.compile(r"\w+")


def _plain(text: str) -> str:
    return strip_accents(text.lower())


def prepare(text: str, plain: str | None = None, words: list[str] | None = None) -> PreparedText:
    """``text`` prepared for the word-list signals. ``plain`` (``text`` lower-cased, accents
    stripped) and ``words`` (its ``\\w+`` tokens) when the caller already has them."""
    plain = _plain(text) if plain is None else plain
    counts = Counter(_WORDS.findall(plain) if words is None else words)
    cache, bits_of = LISTS.cache, LISTS.bits
    hits = {}
    union = 0
    for word in counts:
        bits = cache.get(word)
        if bits is None:
            bits = bits_of(word)
        if bits:
            hits[word] = bits
            union |= bits
    lowered = plain.lower()
    return PreparedText(plain, lowered if len(lowered) == len(plain) else None, counts, hits, union)


def ensure_prepared(text: str, plain: str | PreparedText | None) -> PreparedText:
    """``plain`` when it is already prepared, else ``text`` prepared."""
    return plain if isinstance(plain, PreparedText) else prepare(text, plain)
