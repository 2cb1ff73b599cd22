"""Urgency: low, normal, high or urgent, from risk flags, deadline words, anger and category."""

from __future__ import annotations

from connector.classify.signals.lexicon import PreparedText, ensure_prepared
from connector.classify.signals.patterns import word_pattern
from connector.classify.signals.words import URGENT_WORDS

# The urgent words as one regular expression: what the lexicon's word-by-word lookup must match
# exactly (tests compare the two).
_URGENT = word_pattern(URGENT_WORDS)

# Categories where time matters: the parcel may leave the warehouse any minute.
_TIME_CRITICAL = frozenset({"cancel_order", "change_address", "order_change"})
_LOW_STAKES = frozenset({"product_question", "shipping_info", "promo_pricing"})


def urgency(
    text: str,
    *,
    category: str | None = None,
    sentiment_score: float = 0.0,
    flags: tuple[str, ...] = (),
    plain: str | PreparedText | None = None,
) -> str:
    """low | normal | high | urgent. Risk flags make it urgent; deadlines or anger make it high."""
    if {"legal_threat", "safety", "chargeback_fraud"} & set(flags):
        return "urgent"
    explicit = ensure_prepared(text, plain).search("urgent")
    if explicit and sentiment_score <= -0.25:
        return "urgent"
    if explicit or sentiment_score <= -0.6 or category in _TIME_CRITICAL or "abuse" in flags:
        return "high"
    if category in _LOW_STAKES or (category == "complaint_feedback" and sentiment_score >= 0.25):
        return "low"
    return "normal"
