"""Non-ML signals of a ticket: entities, sentiment, urgency, language and risk flags.

Both engines use these. The local engine takes them as its reading's non-category fields; the
Claude engine checks and completes its own answer with them (a risk flag found here is never
dropped because a model missed it). Everything is plain regular expressions and word lists in
the six languages of the default model (en, de, fr, es, nl, it) plus Portuguese for language
identification, so it is fast, deterministic and explainable.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import filterfalse

from connector.classify.text import split_email, strip_accents
from connector.domain import Entities

# --- entities ------------------------------------------------------------------------------
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b", re.I)
_URL = re.compile(r"\bhttps?://\S+|\bwww\.\S+", re.I)

# Order words in the six languages, then an optional "number" word, then the number itself.
_ORDER_WORD = (
    r"(?:orders?|ordered|ordine|ordini|order-?nr|ordernummer|bestell(?:ung|nummer|nr)?|bestelling|bestelnummer"
    r"|commande|cde|pedido|compra|purchase|invoice|rechnung|factura|factuur|fattura)"
)
_NUMBER_WORD = r"(?:number|no|nr|num|nummer|numero|número|numéro|n°|nº|#|id|ref)"
_ORDER_AFTER_WORD = re.compile(
    rf"\b{_ORDER_WORD}\b[^\w\n#]{{0,3}}(?:{_NUMBER_WORD}\.?[^\w\n#]{{0,3}})?(?:(?:is|was|ist|est|es|è|:)\s+)?"
    r"(#?\s?[A-Z]{0,4}-?\d{3,12})\b",
    re.I,
)
_HASH_NUMBER = re.compile(r"(?<![\w&])#\s?([A-Z]{0,4}-?\d{3,12})\b", re.I)
# Looks like a year right after "in/from/since" ("my order from 2023"): not an order number.
_YEARISH = re.compile(r"^(?:19|20)\d\d$")

# Carrier formats. Sources: UPS "1Z" + 16; UPU S10 (two letters, 9 digits, country);
# USPS 20-22 digits; DHL Paket "JJD…" and 00340…; PostNL "3S…".
_TRACKING = re.compile(
    r"\b(?:(?i:1Z)[0-9A-Z]{16}|[A-Z]{2}\d{9}[A-Z]{2}|(?i:JJD)\d{10,20}|3S[A-Z0-9]{11,13}|9[2-5]\d{18,20}|00340\d{15})\b"
)
_TRACKING_AFTER_WORD = re.compile(
    r"\b(?:tracking|track(?:ing)?\s*(?:&|and|und|en)\s*trace|sendungs(?:nummer|verfolgung)|paketnummer|suivi|seguimiento"
    r"|rastreo|tracciamento|tracking-?code|trackingnummer|spedizione)\b"
    r"(?:\s+(?:number|no|nr|code|id|link|numéro|número|codice|nummer|#))?[^\w\n]{0,3}(?:(?:is|ist|est|es|è|:)\s+)?"
    r"([A-Z0-9]{8,30})\b",
    re.I,
)
_CURRENCY = r"(?:€|\$|£|US\$|CA\$|A\$|CHF|EUR|USD|GBP|CAD|AUD|SEK|DKK|NOK|PLN)"
_CURRENCY_WORD = r"(?:euros?|dollars?|pounds?|bucks|francs?|kronor|kroner|zloty)"
_NUMBER = r"\d{1,3}(?:[.,\s]\d{3})*(?:[.,]\d{1,2})?(?!\d)|\d+(?:[.,]\d{1,2})?(?!\d)"
_AMOUNT = re.compile(
    rf"(?:{_CURRENCY}\s?(?:{_NUMBER})|(?<![\w.,])(?:{_NUMBER})\s?(?:{_CURRENCY}(?![A-Za-z])|{_CURRENCY_WORD}\b))",
    re.I,
)


_HAS_DIGIT = re.compile(r"\d")
_YEAR_PREPOSITION = re.compile(
    r"\b(?:from|in|since|of|von|seit|de|depuis|desde|del|uit|van|dal)\s*$"
)  # "from 2023"
_DIGIT_RUN = re.compile(r"\d+")
# Where a match of each pattern can begin (lower-case literals; see _scan). Keep these in step
# with the patterns above: tests compare _scan with a plain finditer on hundreds of tickets.
_ORDER_LEADS = (
    "order",
    "ordin",
    "bestel",
    "commande",
    "cde",
    "pedido",
    "compra",
    "purchase",
    "invoice",
    "rechnung",
    "factur",
    "fattura",
)
_TRACKING_LEADS = (
    "track",
    "sendungs",
    "paketnummer",
    "suivi",
    "seguimiento",
    "rastreo",
    "tracciamento",
    "spedizione",
)
_AMOUNT_LEADS = (
    "€",
    "$",
    "£",
    "us$",
    "ca$",
    "a$",
    "chf",
    "eur",
    "usd",
    "gbp",
    "cad",
    "aud",
    "sek",
    "dkk",
    "nok",
    "pln",
)
_AMOUNT_HINTS = (
    *_AMOUNT_LEADS,
    "dollar",
    "pound",
    "buck",
    "franc",
    "kron",
    "zloty",
)  # "eur" covers euro(s)


def _scan(
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
        starts.update(m.start() for m in _DIGIT_RUN.finditer(text))
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


def _dedupe(values) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for value in values:
        seen.setdefault(value, None)
    return tuple(seen)


def _order_label(raw: str) -> str:
    """'#1001', '1001', '# 1001' → '#1001' (Shopify's order name); 'SH-1001' stays as written."""
    value = raw.replace(" ", "").lstrip("#")
    return f"#{value}" if value.isdigit() else value.upper()


def extract_entities(text: str, *, tracking_possible: bool | None = None) -> Entities:
    """Order numbers, emails, tracking numbers and amounts, in order of appearance, no repeats.
    ``tracking_possible=False``: the caller knows no word has a carrier format's start."""
    emails = _dedupe(m.group(0).lower() for m in _EMAIL.finditer(text)) if "@" in text else ()
    scrubbed = (
        _URL.sub(" ", _EMAIL.sub(" ", text)) if emails or "http" in text or "www." in text else text
    )
    if not _HAS_DIGIT.search(scrubbed):  # every other entity contains a digit
        return Entities(emails=emails)
    lowered: str | None = scrubbed.lower()
    if len(lowered) != len(scrubbed):
        lowered = None

    tracking = []
    # Every carrier format has nine digits in a row, or starts with 1Z or 3S.
    if tracking_possible is None:
        tracking_possible = (
            lowered is None
            or "1z" in lowered
            or "3S" in scrubbed
            or any(len(run) >= 9 for run in _DIGIT_RUN.findall(scrubbed))
        )
    if tracking_possible:
        tracking = [(m.start(), m.group(0).upper()) for m in _TRACKING.finditer(scrubbed)]
    for m in _scan(_TRACKING_AFTER_WORD, scrubbed, lowered, _TRACKING_LEADS):
        candidate = m.group(1).upper()
        if any(ch.isdigit() for ch in candidate) and len(candidate) >= 8:
            tracking.append((m.start(1), candidate))
    tracking_numbers = _dedupe(value for _, value in sorted(tracking))

    amount_matches = []
    if lowered is None or any(hint in lowered for hint in _AMOUNT_HINTS):  # no currency, no amount
        amount_matches = _scan(_AMOUNT, scrubbed, lowered, _AMOUNT_LEADS, digit_runs=True)
    amounts = [(m.start(), m.group(0).strip()) for m in amount_matches]
    amount_spans = [(m.start(), m.end()) for m in amount_matches]

    orders = []
    for pattern, leads in ((_ORDER_AFTER_WORD, _ORDER_LEADS), (_HASH_NUMBER, ("#",))):
        for m in _scan(pattern, scrubbed, lowered, leads):
            start = m.start(1)
            digits = m.group(1).replace(" ", "").lstrip("#")
            if any(a <= start < b for a, b in amount_spans):
                continue  # "order of $49.90"
            if digits.upper() in tracking_numbers or len(digits) > 12:
                continue
            if _YEARISH.match(digits) and pattern is _ORDER_AFTER_WORD and "#" not in m.group(0):
                before = scrubbed[max(0, m.start() - 1) : start].lower()
                if _YEAR_PREPOSITION.search(before):
                    continue
            orders.append((start, _order_label(m.group(1))))
    return Entities(
        order_numbers=_dedupe(value for _, value in sorted(orders)),
        emails=emails,
        tracking_numbers=tracking_numbers,
        amounts=_dedupe(value for _, value in sorted(amounts)),
    )


def _split_alternatives(body: str) -> list[str]:
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


def _word_pattern(pattern: str) -> re.Pattern[str]:
    r"""Compile ``\b(?:alt1|alt2|…)<suffix>`` with the alternatives grouped by first letter.

    Python's ``re`` tries every alternative at every word start; grouping them ("a(?:ngry|wful)|
    b(?:ad|roken)") makes it try only those that share the first letter, which is several times
    faster on these long multilingual word lists and matches exactly the same text."""
    inner, suffix = _head_split(pattern)
    groups: dict[str, list[str]] = {}
    others = []
    for alt in _split_alternatives(inner):
        if alt[:1].isalpha() and alt[1:2] not in ("*", "+", "?", "{"):
            groups.setdefault(alt[0].lower(), []).append(alt[1:])
        else:
            others.append(alt)
    parts = [f"{first}(?:{'|'.join(rests)})" for first, rests in sorted(groups.items())] + others
    return re.compile("\\b(?:" + "|".join(parts) + ")" + suffix, re.I)


def _head_split(pattern: str) -> tuple[str, str]:
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


# An alternative made only of word characters and regex syntax that cannot match anything else
# ("(?:rechts)?anwalt", "disappoint\w*", "sue\b"): it matches inside one run of word characters.
_ONE_WORD = re.compile(r"(?:[^\W_]|\(\?:|\)|\||\?|\*|\+|\\w|\\b|\[[^\W_\]]+\])+")
_LEAD = re.compile(r"[^\W_]+")


def _leads(alternative: str) -> list[tuple[str, bool]] | None:
    """Where a match of a multi-word alternative can start: [(literal, exact)] — its first word is
    exactly ``literal`` (exact) or starts with it; None when that cannot be told."""
    if alternative.startswith("(?:"):
        inner, rest = _head_split("\\b" + alternative)
        if rest[:1] in ("?", "*", "{"):
            return None
        found: list[tuple[str, bool]] = []
        for alt in _split_alternatives(inner):
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


class _WordList:
    r"""A word-list pattern ``\b(?:alt1|alt2|…)<suffix>``, matched word by word where it can be.

    Most alternatives match inside a single word: a ticket's words (``\w+`` runs of the plain
    text) are looked up instead, once per distinct word. The few that span words ("legal
    action", "f\*+ck") keep a regular expression that runs only when a word that can start
    them occurs. ``search`` and ``count`` give exactly ``pattern.search`` and
    ``len(pattern.findall)`` of the whole pattern on the same text (tests check this)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = _word_pattern(pattern)
        inner, suffix = _head_split(pattern)
        single, other = [], []
        for alt in _split_alternatives(inner):
            one = _ONE_WORD.fullmatch(alt) is not None and re.match(alt, "") is None
            (single if one else other).append(alt)
        self.word = re.compile("(?:" + "|".join(single) + ")" + suffix, re.I) if single else None
        self.other = _word_pattern("\\b(?:" + "|".join(other) + ")" + suffix) if other else None
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
            for leads, literals in self._phrases:
                if leads and any(
                    word == lead if exact else word.startswith(lead) for lead, exact in leads
                ):
                    if literals is None:
                        lits = None
                        break
                    lits.extend(literals)
            found = None if lits is None else tuple(dict.fromkeys(lits))
            if len(self._literals_of) < 10_000:
                self._literals_of[word] = found
        return found


class _Lexicon:
    """Several word lists looked up together: one cached bit mask per distinct word (bit 2i: the
    word matches list i; bit 2i+1: the word can start one of list i's multi-word phrases)."""

    _LIMIT = 100_000

    def __init__(self, lists: dict[str, _WordList], marks: dict[str, re.Pattern[str]]) -> None:
        self.lists = lists
        self.bit = {name: 1 << (2 * i) for i, name in enumerate(lists)}
        # Marks: one more bit each, for words in which a pattern is found ("could be a tracking number").
        self.marks = {
            name: (1 << (2 * len(lists) + i), pattern)
            for i, (name, pattern) in enumerate(marks.items())
        }
        self.cache: dict[str, int] = {}
        # Every list's word and gate patterns as one alternation: most words match none of them,
        # and one failed match in C is cheaper than a Python loop of failed matches.
        parts = [
            f"(?:{p.pattern})" for wl in lists.values() for p in (wl.word, wl.gate) if p is not None
        ]
        self._any = re.compile("|".join(parts), re.I) if parts else None

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


def clear_caches() -> None:
    """Forget every per-word fact learnt while reading (``deskguard bench local`` times truly
    cold passes with it); readings do not change, only how fast the next ones are."""
    _LISTS.cache.clear()
    for wl in _LISTS.lists.values():
        wl._literals_of.clear()


def _literals(alternative: str) -> list[str] | None:
    """The literal text every match of an alternative starts with (lower-case; one per branch of
    a leading group), for ``str.find``; None when a match may start with anything."""
    if alternative.startswith("(?:"):
        inner, rest = _head_split("\\b" + alternative)
        if rest[:1] in ("?", "*", "{"):
            return None
        found: list[str] = []
        for alt in _split_alternatives(inner):
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


@dataclass(frozen=True)
class _Plain:
    """A text prepared once for every word-list signal: lower-case, accents stripped, how often
    each distinct word occurs, and the list bits of the words that have any."""

    text: str
    lowered: str | None  # text.lower() when it has the same length (positions line up), for _scan
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
        return _scan(wl.other, self.text, self.lowered, tuple(starts)) if starts else []

    def search(self, name: str) -> bool:
        wl, bit = _LISTS.lists[name], _LISTS.bit[name]
        return bool(self.union & bit) or bool(self._phrases(wl, bit))

    def count(self, name: str) -> int:
        wl, bit = _LISTS.lists[name], _LISTS.bit[name]
        n = sum(self.counts[word] for word, bits in self.hits.items() if bits & bit)
        return n + len(self._phrases(wl, bit))

    def finditer(self, name: str) -> list[re.Match[str]]:
        """``pattern.finditer(text)`` of the whole list, trying only where a matching word or a
        phrase's first words occur."""
        wl, bit = _LISTS.lists[name], _LISTS.bit[name]
        words = tuple(word for word, bits in self.hits.items() if bits & bit)
        phrases = self._phrases(wl, bit)
        if not words:
            return phrases
        if not phrases:
            return _scan(wl.pattern, self.text, self.lowered, words)
        return _scan(
            wl.pattern, self.text, self.lowered, words + tuple(m.group(0) for m in phrases)
        )


_WORDS = re.compile(r"\w+")


def _prepare(text: str, plain: str | None = None, words: list[str] | None = None) -> _Plain:
    plain = _plain(text) if plain is None else plain
    counts = Counter(_WORDS.findall(plain) if words is None else words)
    cache, bits_of = _LISTS.cache, _LISTS.bits
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
    return _Plain(plain, lowered if len(lowered) == len(plain) else None, counts, hits, union)


# --- risk flags ------------------------------------------------------------------------------
# Word stems per flag, matched on lower-cased, accent-stripped text at word starts. Keep them
# specific: a flag sends a ticket to a person, so recall matters more than precision, but a flag
# on every ticket would be ignored.
_RISK_TERMS: dict[str, tuple[str, ...]] = {
    "legal_threat": (
        r"lawyers?",
        r"attorneys?",
        r"solicitors?",
        r"legal (?:action|steps|proceedings|advice)",
        r"sue\b",
        r"suing",
        r"lawsuit",
        r"small claims",
        r"take (?:you|this) to court",
        r"court\b",
        r"trading standards",
        r"consumer (?:protection|rights|authority|ombudsman)",
        r"ombudsman",
        r"better business bureau",
        r"(?:rechts)?anwalt",
        r"anwaltlich",
        r"klage\b",
        r"verklagen",
        r"gericht",
        r"verbraucherzentrale",
        r"rechtliche schritte",
        r"avocats?",
        r"poursuites?",
        r"tribunal",
        r"porter plainte",
        r"action en justice",
        r"mise en demeure",
        r"abogados?",
        r"demandar(?:los|les)?",
        r"denuncia(?:r)?",
        r"accion(?:es)? legal(?:es)?",
        r"oficina del consumidor",
        r"consumo\b",
        r"advocaat",
        r"rechter",
        r"rechtszaak",
        r"juridische stappen",
        r"consumentenbond",
        r"geschillencommissie",
        r"avvocat[oi]",
        r"vie legali",
        r"azion[ei] legal[ei]",
        r"tribunale",
        r"querela",
    ),
    "chargeback_fraud": (
        r"charge ?backs?",
        r"dispute (?:the|this|a) (?:charge|payment|transaction)",
        r"dispute with my (?:bank|card)",
        r"reverse the (?:charge|payment)",
        r"fraud",
        r"scam",
        r"unauthori[sz]ed",
        r"(?:did not|didn't|never) authori[sz]e",
        r"stolen (?:card|credit card)",
        r"identity theft",
        r"someone (?:else )?used my card",
        r"rueckbuchung",
        r"ruckbuchung",
        r"rucklastschrift",
        r"zahlung zuruckbuchen",
        r"betrug",
        r"betruger",
        r"nicht autorisiert",
        r"retrofacturation",
        r"fraude",
        r"arnaque",
        r"escroquerie",
        r"opposition bancaire",
        r"non autoris",
        r"contracargo",
        r"estafa",
        r"no autoriz",
        r"terugboeking",
        r"oplicht",
        r"niet geautoriseerd",
        r"frode",
        r"truffa",
        r"non autorizzat",
        r"storno",
    ),
    "safety": (
        r"burn(?:ed|t|s)? (?:me|my|his|her|their|our)",
        r"burns?\b",
        r"caught fire",
        r"on fire",
        r"fire hazard",
        r"smok(?:e|ing)\b",
        r"explod",
        r"explosion",
        r"overheat",
        r"electric(?:al)? shock",
        r"electrocut",
        r"injur",
        r"bleeding",
        r"hospital",
        r"emergency room",
        r"allergic",
        r"rash\b",
        r"chok(?:e|ed|ing)",
        r"poison",
        r"toxic",
        r"swallow",
        r"sharp edge",
        r"verbrann",
        r"verbrennung",
        r"brand\b",
        r"rauch",
        r"explodiert",
        r"stromschlag",
        r"verletz",
        r"krankenhaus",
        r"allergisch",
        r"ausschlag",
        r"erstick",
        r"giftig",
        r"brule",
        r"brulure",
        r"incendie",
        r"fumee",
        r"explose",
        r"electrocut",
        r"blesse",
        r"hopital",
        r"allergique",
        r"urgences",
        r"etouff",
        r"toxique",
        r"quemadura",
        r"quemo",
        r"incendio",
        r"humo",
        r"exploto",
        r"descarga electrica",
        r"herid[oa]",
        r"alergic",
        r"urgencias",
        r"toxico",
        r"verbrand",
        r"rook\b",
        r"ontploft",
        r"stroomschok",
        r"gewond",
        r"ziekenhuis",
        r"allergische",
        r"uitslag",
        r"bruciat",
        r"ustion",
        r"fumo\b",
        r"esplos",
        r"scossa",
        r"ferit[oa]",
        r"ospedale",
        r"pronto soccorso",
        r"allergic",
        r"tossic",
    ),
    "abuse": (
        r"fuck",
        r"f\*+ck",
        r"shit",
        r"bullshit",
        r"idiots?\b",
        r"morons?",
        r"assholes?",
        r"bastards?",
        r"bitch",
        r"scum",
        r"go to hell",
        r"kill you",
        r"i know where you",
        r"retard",
        r"scheiss",
        r"arschloch",
        r"idioten",
        r"wichser",
        r"vollidiot",
        r"merde",
        r"connard",
        r"putain",
        r"abrutis?",
        r"encule",
        r"mierda",
        r"idiotas?",
        r"imbeciles?",
        r"gilipollas",
        r"cabrones?",
        r"joder",
        r"klootzak",
        r"idioot",
        r"godverdomme",
        r"kanker",
        r"kut\b",
        r"cazzo",
        r"stronz",
        r"vaffanculo",
        r"coglion",
    ),
}
_RISK_RES = {
    flag: _word_pattern(r"\b(?:" + "|".join(terms) + ")") for flag, terms in _RISK_TERMS.items()
}


def _plain(text: str) -> str:
    return strip_accents(text.lower())


def _prepared(text: str, plain: str | _Plain | None) -> _Plain:
    return plain if isinstance(plain, _Plain) else _prepare(text, plain)


def risk_flags(text: str, *, plain: str | _Plain | None = None) -> tuple[str, ...]:
    """The subset of domain.RISK_FLAGS this text raises, in that fixed order."""
    prepared = _prepared(text, plain)
    return tuple(flag for flag in _RISK_TERMS if prepared.search(flag))


# --- language --------------------------------------------------------------------------------
def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_STOPWORDS: dict[str, frozenset[str]] = {
    "en": _wordset(
        "the and is are to of my i you it for not have has was with this that your can me we "
        "please would could what when where how our on at be do does did will just order still"
    ),
    "de": _wordset(
        "der die das und ist sind ich nicht ein eine mit fur mein meine ihr sie wir bitte kann "
        "konnen habe hat wurde noch auf zu von den dem des wie wann wo ist auch aber sehr danke"
    ),
    "fr": _wordset(
        "le la les et est sont je ne pas un une avec pour mon ma mes vous nous merci peux pouvez "
        "ai avez ete encore sur de du des que qui quand ou comment commande toujours tres bonjour"
    ),
    "es": _wordset(
        "el la los las y es son yo no un una con para mi mis usted ustedes gracias puedo pueden "
        "he ha sido todavia en de del que cuando donde como pedido muy hola por favor esta"
    ),
    "nl": _wordset(
        "de het een en is zijn ik niet met voor mijn jullie u we wij alstublieft kan kunnen "
        "heb heeft nog op te van wanneer waar hoe bestelling al maar erg bedankt graag dank"
    ),
    "it": _wordset(
        "il lo la gli le e sono io non un una con per mio mia miei voi noi grazie posso potete "
        "ho ha stato ancora su di del che quando dove come ordine molto ciao buongiorno"
    ),
    "pt": _wordset(
        "o a os as e sao eu nao um uma com para meu minha voce voces obrigado obrigada posso "
        "tenho foi ainda em de do da que quando onde como pedido muito ola"
    ),
    "pl": _wordset(
        "i w na nie sie jest to ze z do jak co mnie moje moja prosze dzien dobry zamowienie "
        "paczka pieniedzy zwrot czy juz jeszcze pozdrawiam dziekuje"
    ),
    "sv": _wordset(
        "och att det som en ett jag inte har min mitt mina ni vi kan med for pa till av "
        "hej tack bestallning order paket nar var har ar"
    ),
    "da": _wordset(
        "og at det som en et jeg ikke har min mit mine i vi kan med for pa til af "
        "hej tak bestilling ordre pakke hvornar hvor er"
    ),
}
_STOP_LANGS: dict[str, tuple[str, ...]] = {}
for _lang, _stops in _STOPWORDS.items():
    for _stop in _stops:
        _STOP_LANGS[_stop] = (*_STOP_LANGS.get(_stop, ()), _lang)
_ALL_STOPWORDS = frozenset(_STOP_LANGS)
# Scripts that name their language well enough when no stop word matched (checked in this order).
_SCRIPTS = (
    ("ja", re.compile(r"[\u3040-\u30ff]")),  # kana
    ("ko", re.compile(r"[\uac00-\ud7af]")),
    ("zh", re.compile(r"[\u4e00-\u9fff]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("el", re.compile(r"[\u0370-\u03ff]")),
    ("ar", re.compile(r"[\u0600-\u06ff]")),
    ("he", re.compile(r"[\u0590-\u05ff]")),
)
_WORD = re.compile(r"[^\W\d_]+", re.U)
# Function words of every language above, plus pleasantries: never a reason for a category.
FUNCTION_WORDS = frozenset().union(*_STOPWORDS.values()) | _wordset(
    "there here could should about also from they them their then than this these those into just some "
    "thanks thank hello dear regards best kind hallo bonjour hola ciao hoi salut grazie gracias merci danke bedankt"
)


def detect_language(text: str, default: str = "en", *, plain: str | _Plain | None = None) -> str:
    """ISO 639-1 code of the most likely language (stop-word profile); `default` when unsure."""
    if not text.isascii():
        for lang, script in _SCRIPTS:
            if script.search(text):
                return lang
    counts = _prepared(text, plain).counts
    letters: Counter[str] | dict[str, int] = counts
    others = list(filterfalse(str.isalpha, counts))
    if others:  # "abc123", "x_y": count their runs of letters, as _WORD reads them
        letters = dict(counts)
        for word in others:
            n = letters.pop(word)
            for part in _WORD.findall(word):
                letters[part] = letters.get(part, 0) + n
    if not letters:
        return default
    scores = dict.fromkeys(_STOPWORDS, 0)
    for word in _ALL_STOPWORDS.intersection(letters):
        n = letters[word]
        for lang in _STOP_LANGS[word]:
            scores[lang] += n
    lowered = text.lower()
    if not text.isascii():  # the letters below are not ASCII
        scores["de"] += 2 * lowered.count("ß") + lowered.count("ü") + lowered.count("ö")
        scores["es"] += 2 * (lowered.count("ñ") + lowered.count("¿") + lowered.count("¡"))
        scores["fr"] += lowered.count("ç") + lowered.count("ê") + lowered.count("à ")
    scores["nl"] += lowered.count("ij")
    best = max(scores, key=lambda lang: (scores[lang], lang == default))
    return best if scores[best] >= 1 else default


# --- sentiment and urgency ---------------------------------------------------------------------
_NEGATIVE_WORDS = (
    r"\b(?:angry|furious|livid|disappoint\w*|unacceptable|terrible|awful|horrible|worst|ridiculous|disgust\w*"
    r"|frustrat\w*|annoy\w*|upset|outrage\w*|appalling|pathetic|useless|incompetent|rubbish|poor|bad|never again"
    r"|not happy|unhappy|fed up|sick of|joke|shame\w*|waste|broken|damaged|still (?:not|no|waiting|haven)"
    r"|enttausch\w*|verargert|wutend|unverschamt|inakzeptabel|schrecklich|katastroph\w*|frech|schlecht\w*|kaputt"
    r"|decu\w*|decevant|inadmissible|inacceptable|scandal\w*|furieux|furieuse|horrible|nul(?:le)?|honteux|enerve\w*"
    r"|decepcion\w*|inaceptable|vergonz\w*|fatal|pesim\w*|harto|harta|enfadad\w*|molest\w*|horrible|roto"
    r"|teleurgesteld|teleurstell\w*|onacceptabel|belachelijk|boos|slecht\w*|schandalig|kapot|waardeloos"
    r"|delus\w*|inaccettabile|vergogn\w*|arrabbiat\w*|pessim\w*|scandalos\w*|rott[oa]|pessimo)\b"
)
_POSITIVE_WORDS = (
    r"\b(?:love[ds]?|great|amazing|excellent|perfect|happy|wonderful|fantastic|awesome|delighted|pleased"
    r"|brilliant|superb|lovely|impressed|beautiful|best|well done|kudos|thrilled|recommend"
    r"|super|toll|klasse|wunderbar|zufrieden|begeistert|perfekt|hervorragend|schon|prima"
    r"|genial|parfait|excellent|ravi[e]?|merveilleu\w*|bravo|magnifique|satisfait\w*|genial|encanta\w*"
    r"|perfect[oa]|excelente|estupend\w*|maravill\w*|content[oa]|geweldig|fantastisch|tevreden|blij"
    r"|prachtig|fijn|ottim[oa]|perfett[oa]|fantastic[oa]|bellissim[oa]|soddisfatt[oa]|felice|contentissim[oa])\b"
)
_NEGATION_BEFORE = re.compile(
    r"\b(?:not|never|no|nicht|kein\w*|pas|ne|no|niet|geen|non)\s+(?:\w+\s+)?$", re.I
)
_URGENT_SOURCE = (
    r"\b(?:urgent\w*|asap|a\.s\.a\.p|immediately|right now|right away|today|tonight|tomorrow|emergency|as soon as possible"
    r"|dringend|sofort|eilig|heute|morgen|so schnell wie moglich|unverzuglich|immediatement|aujourd'hui|demain"
    r"|au plus vite|des que possible|tout de suite|urgente\w*|inmediatamente|hoy|manana|cuanto antes|lo antes posible"
    r"|spoed\w*|meteen|vandaag|zo snel mogelijk|onmiddellijk|subito|oggi|domani|al piu presto|immediatamente)\b"
)


_NEGATIVE = _word_pattern(_NEGATIVE_WORDS)
_POSITIVE = _word_pattern(_POSITIVE_WORDS)
_URGENT_WORDS = _word_pattern(_URGENT_SOURCE)
_SHOUTING = re.compile(r"\b[A-Z]{4,}\b")
_CAPITALS = re.compile(r"[A-Z]{4}")
_LISTS = _Lexicon(
    {
        **{
            flag: _WordList(r"\b(?:" + "|".join(terms) + ")") for flag, terms in _RISK_TERMS.items()
        },
        "negative": _WordList(_NEGATIVE_WORDS),
        "positive": _WordList(_POSITIVE_WORDS),
        "urgent": _WordList(_URGENT_SOURCE),
    },
    {
        # Every carrier format has nine digits in a row or starts with 1Z or 3S (lower-case here), so
        # a text none of whose words has that holds no tracking number in _TRACKING's formats.
        "tracking": re.compile(r"\d{9}|^1z|3s"),
    },
)


def sentiment(
    text: str, *, plain: str | _Plain | None = None, flags: tuple[str, ...] | None = None
) -> tuple[str, float]:
    """(label, score in -1..1) from multilingual polarity words, negation, insults and shouting."""
    prepared = _prepared(text, plain)
    plain = prepared.text
    neg = 0.0
    pos = 0.0
    neg += prepared.count("negative")
    if flags is None or "abuse" in flags:
        neg += 1.5 * prepared.count("abuse")
    for m in prepared.finditer("positive"):  # where each one is: "not happy" is negative
        if _NEGATION_BEFORE.search(plain[max(0, m.start() - 25) : m.start()]):
            neg += 1.0  # "not happy", "nicht zufrieden"
        else:
            pos += 1.0
    shouting = (
        sum(1 for w in _SHOUTING.findall(text) if w not in {"ASAP", "HTTP", "HTTPS"})
        if _CAPITALS.search(text)
        else 0
    )
    neg += 0.5 * min(shouting, 4) + 0.25 * min(text.count("!"), 4) * (1.0 if neg else 0.0)
    raw = (pos - neg) / (1.0 + 0.5 * (pos + neg))
    score = max(-1.0, min(1.0, raw))
    label = "negative" if score <= -0.25 else "positive" if score >= 0.25 else "neutral"
    return label, round(score, 3)


# Categories where time matters: the parcel may leave the warehouse any minute.
_TIME_CRITICAL = frozenset({"cancel_order", "change_address", "order_change"})
_LOW_STAKES = frozenset({"product_question", "shipping_info", "promo_pricing"})


def urgency(
    text: str,
    *,
    category: str | None = None,
    sentiment_score: float = 0.0,
    flags: tuple[str, ...] = (),
    plain: str | _Plain | None = None,
) -> str:
    """low | normal | high | urgent. Risk flags make it urgent; deadlines or anger make it high."""
    if {"legal_threat", "safety", "chargeback_fraud"} & set(flags):
        return "urgent"
    explicit = _prepared(text, plain).search("urgent")
    if explicit and sentiment_score <= -0.25:
        return "urgent"
    if explicit or sentiment_score <= -0.6 or category in _TIME_CRITICAL or "abuse" in flags:
        return "high"
    if category in _LOW_STAKES or (category == "complaint_feedback" and sentiment_score >= 0.25):
        return "low"
    return "normal"


def _merge(first: Entities, second: Entities) -> Entities:
    """Entities of the latest message, plus order and tracking numbers quoted from earlier in the
    thread (useful for look-ups). Emails and amounts in a quote are usually the store's own."""
    return Entities(
        order_numbers=_dedupe((*first.order_numbers, *second.order_numbers)),
        emails=first.emails,
        tracking_numbers=_dedupe((*first.tracking_numbers, *second.tracking_numbers)),
        amounts=first.amounts,
    )


@dataclass(frozen=True)
class Signals:
    """Everything in a Reading that is not the category."""

    entities: Entities
    sentiment: str
    sentiment_score: float
    urgency: str
    language: str
    risk_flags: tuple[str, ...] = field(default_factory=tuple)


def read_signals(
    subject: str,
    body: str,
    *,
    category: str | None = None,
    parts: tuple[str, str] | None = None,
    plain: str | None = None,
    words: list[str] | None = None,
) -> Signals:
    """All non-ML signals of a ticket's latest message (quoted thread and signature removed).
    A caller that already has them may pass ``parts`` (``text.split_email(body)``), ``plain``
    (subject + newline + latest message, lower-case, accents stripped) and ``words`` (its
    ``\\w+`` tokens)."""
    latest, quoted = parts if parts is not None else split_email(body)
    subject = (subject or "").strip()
    text = (
        f"{subject}\n{latest}" if subject else latest
    )  # text.message_text, without splitting again
    plain = _prepare(text, plain, words)
    flags = risk_flags(text, plain=plain)
    label, score = sentiment(text, plain=plain, flags=flags)
    entities = extract_entities(
        text, tracking_possible=bool(plain.union & _LISTS.marks["tracking"][0])
    )
    if quoted:  # order and tracking numbers quoted from earlier in the thread still help look-ups
        entities = _merge(entities, extract_entities(quoted))
    return Signals(
        entities=entities,
        sentiment=label,
        sentiment_score=score,
        urgency=urgency(text, category=category, sentiment_score=score, flags=flags, plain=plain),
        language=detect_language(text, plain=plain),
        risk_flags=flags,
    )
