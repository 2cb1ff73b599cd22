"""Risk flags: legal threats, chargebacks and fraud, safety and abuse (``domain.RISK_FLAGS``).

A flag sends a ticket to a person, and the Claude engine never drops one found here.
"""

from __future__ import annotations

from connector.classify.signals.lexicon import PreparedText, ensure_prepared
from connector.classify.signals.patterns import word_pattern
from connector.classify.signals.words import RISK_TERMS

# Each flag's terms as one regular expression: what the lexicon's word-by-word lookup must match
# exactly (tests compare the two).
_RISK_RES = {
    flag: word_pattern(r"\b(?:" + "|".join(terms) + ")") for flag, terms in RISK_TERMS.items()
}


def risk_flags(text: str, *, plain: str | PreparedText | None = None) -> tuple[str, ...]:
    """The subset of domain.RISK_FLAGS this text raises, in that fixed order."""
    prepared = ensure_prepared(text, plain)
    return tuple(flag for flag in RISK_TERMS if prepared.search(flag))
