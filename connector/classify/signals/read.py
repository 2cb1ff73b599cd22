"""All non-ML signals of a ticket at once (``read_signals``), sharing one prepared text."""

from __future__ import annotations

from dataclasses import dataclass, field

from connector.classify.signals.entities import extract_entities, merge_quoted
from connector.classify.signals.language import detect_language
from connector.classify.signals.lexicon import LISTS, prepare
from connector.classify.signals.risk import risk_flags
from connector.classify.signals.sentiment import sentiment
from connector.classify.signals.urgency import urgency
from connector.classify.text import split_email
from connector.domain import Entities


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
    prepared = prepare(text, plain, words)
    flags = risk_flags(text, plain=prepared)
    label, score = sentiment(text, plain=prepared, flags=flags)
    entities = extract_entities(
        text, tracking_possible=bool(prepared.union & LISTS.marks["tracking"][0])
    )
    if quoted:  # order and tracking numbers quoted from earlier in the thread still help look-ups
        entities = merge_quoted(entities, extract_entities(quoted))
    return Signals(
        entities=entities,
        sentiment=label,
        sentiment_score=score,
        urgency=urgency(
            text, category=category, sentiment_score=score, flags=flags, plain=prepared
        ),
        language=detect_language(text, plain=prepared),
        risk_flags=flags,
    )
