"""Sentiment: a label and a score in -1..1 from polarity words, negation, insults and shouting."""

from __future__ import annotations

import re

from connector.classify.signals.lexicon import PreparedText, ensure_prepared
from connector.classify.signals.patterns import word_pattern
from connector.classify.signals.words import NEGATIVE_WORDS, POSITIVE_WORDS

_NEGATION_BEFORE = re.compile(
    r"\b(?:not|never|no|nicht|kein\w*|pas|ne|no|niet|geen|non)\s+(?:\w+\s+)?$", re.I
)
# The polarity lists as whole regular expressions: what the lexicon's word-by-word lookup must
# match exactly (tests compare the two).
_NEGATIVE = word_pattern(NEGATIVE_WORDS)
_POSITIVE = word_pattern(POSITIVE_WORDS)
_SHOUTING = re.compile(r"\b[A-Z]{4,}\b")
_CAPITALS = re.compile(r"[A-Z]{4}")


def sentiment(
    text: str, *, plain: str | PreparedText | None = None, flags: tuple[str, ...] | None = None
) -> tuple[str, float]:
    """(label, score in -1..1) from multilingual polarity words, negation, insults and shouting."""
    prepared = ensure_prepared(text, plain)
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
