"""Entities of a ticket: order numbers, emails, tracking numbers and amounts.

Found with regular expressions over the words of the six languages of the default model (en, de,
fr, es, nl, it); ``scan`` tries the long alternations only where a match can start.
"""

from __future__ import annotations

import re

from connector.classify.signals.patterns import DIGIT_RUN, scan
from connector.domain import Entities

_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b", re.I)
_URL = re.compile(r"\bhttps?://\S+|\bwww\.\S+", re.I)

# Order words in the six languages, then an optional "number" word, then the number itself.
_ORDER_WORD = (
    r"(?:orders?|ordered|ordine|ordini|order-?nr|ordernummer|bestell(?:ung|nummer|nr)?"
    r"|bestelling|bestelnummer"
    r"|commande|cde|pedido|compra|purchase|invoice|rechnung|factura|factuur|fattura)"
)
_NUMBER_WORD = r"(?:number|no|nr|num|nummer|numero|número|numéro|n°|nº|#|id|ref)"
_ORDER_AFTER_WORD = re.compile(
    rf"\b{_ORDER_WORD}\b[^\w\n#]{{0,3}}(?:{_NUMBER_WORD}\.?[^\w\n#]{{0,3}})?"
    r"(?:(?:is|was|ist|est|es|è|:)\s+)?"
    r"(#?\s?[A-Z]{0,4}-?\d{3,12})\b",
    re.I,
)
_HASH_NUMBER = re.compile(r"(?<![\w&])#\s?([A-Z]{0,4}-?\d{3,12})\b", re.I)
# Looks like a year right after "in/from/since" ("my order from 2023"): not an order number.
_YEARISH = re.compile(r"^(?:19|20)\d\d$")

# Carrier formats. Sources: UPS "1Z" + 16; UPU S10 (two letters, 9 digits, country);
# USPS 20-22 digits; DHL Paket "JJD…" and 00340…; PostNL "3S…".
_TRACKING = re.compile(
    r"\b(?:(?i:1Z)[0-9A-Z]{16}|[A-Z]{2}\d{9}[A-Z]{2}|(?i:JJD)\d{10,20}|3S[A-Z0-9]{11,13}"
    r"|9[2-5]\d{18,20}|00340\d{15})\b"
)
_TRACKING_AFTER_WORD = re.compile(
    r"\b(?:tracking|track(?:ing)?\s*(?:&|and|und|en)\s*trace|sendungs(?:nummer|verfolgung)"
    r"|paketnummer|suivi|seguimiento"
    r"|rastreo|tracciamento|tracking-?code|trackingnummer|spedizione)\b"
    r"(?:\s+(?:number|no|nr|code|id|link|numéro|número|codice|nummer|#))?[^\w\n]{0,3}"
    r"(?:(?:is|ist|est|es|è|:)\s+)?"
    r"([A-Z0-9]{8,30})\b",
    re.I,
)
_CURRENCY = r"(?:€|\$|£|US\$|CA\$|A\$|CHF|EUR|USD|GBP|CAD|AUD|SEK|DKK|NOK|PLN)"
_CURRENCY_WORD = r"(?:euros?|dollars?|pounds?|bucks|francs?|kronor|kroner|zloty)"
_NUMBER = r"\d{1,3}(?:[.,\s]\d{3})*(?:[.,]\d{1,2})?(?!\d)|\d+(?:[.,]\d{1,2})?(?!\d)"
_AMOUNT = re.compile(
    rf"(?:{_CURRENCY}\s?(?:{_NUMBER})"
    rf"|(?<![\w.,])(?:{_NUMBER})\s?(?:{_CURRENCY}(?![A-Za-z])|{_CURRENCY_WORD}\b))",
    re.I,
)


_HAS_DIGIT = re.compile(r"\d")
_YEAR_PREPOSITION = re.compile(
    r"\b(?:from|in|since|of|von|seit|de|depuis|desde|del|uit|van|dal)\s*$"
)  # "from 2023"


# Where a match of each pattern can begin (lower-case literals; see scan). Keep these in step
# with the patterns above: tests compare scan with a plain finditer on hundreds of tickets.
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
    lowered: str | None
    lowered = scrubbed.lower()
    if len(lowered) != len(scrubbed):
        lowered = None

    tracking = []
    # Every carrier format has nine digits in a row, or starts with 1Z or 3S.
    if tracking_possible is None:
        tracking_possible = (
            lowered is None
            or "1z" in lowered
            or "3S" in scrubbed
            or any(len(run) >= 9 for run in DIGIT_RUN.findall(scrubbed))
        )
    if tracking_possible:
        tracking = [(m.start(), m.group(0).upper()) for m in _TRACKING.finditer(scrubbed)]
    for m in scan(_TRACKING_AFTER_WORD, scrubbed, lowered, _TRACKING_LEADS):
        candidate = m.group(1).upper()
        if any(ch.isdigit() for ch in candidate) and len(candidate) >= 8:
            tracking.append((m.start(1), candidate))
    tracking_numbers = _dedupe(value for _, value in sorted(tracking))

    amount_matches = []
    if lowered is None or any(hint in lowered for hint in _AMOUNT_HINTS):  # no currency, no amount
        amount_matches = scan(_AMOUNT, scrubbed, lowered, _AMOUNT_LEADS, digit_runs=True)
    amounts = [(m.start(), m.group(0).strip()) for m in amount_matches]
    amount_spans = [(m.start(), m.end()) for m in amount_matches]

    orders = []
    for pattern, leads in ((_ORDER_AFTER_WORD, _ORDER_LEADS), (_HASH_NUMBER, ("#",))):
        for m in scan(pattern, scrubbed, lowered, leads):
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


def merge_quoted(first: Entities, second: Entities) -> Entities:
    """Entities of the latest message, plus order and tracking numbers quoted from earlier in the
    thread (useful for look-ups). Emails and amounts in a quote are usually the store's own."""
    return Entities(
        order_numbers=_dedupe((*first.order_numbers, *second.order_numbers)),
        emails=first.emails,
        tracking_numbers=_dedupe((*first.tracking_numbers, *second.tracking_numbers)),
        amounts=first.amounts,
    )
