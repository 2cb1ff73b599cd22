"""Non-ML signals of a ticket: entities, sentiment, urgency, language and risk flags.

Both engines use these. The local engine takes them as its reading's non-category fields; the
Claude engine checks and completes its own answer with them (a risk flag found here is never
dropped because a model missed it). Everything is plain regular expressions and word lists in
the six languages of the default model (en, de, fr, es, nl, it) plus Portuguese for language
identification, so it is fast, deterministic and explainable.

One module per signal (``entities``, ``risk``, ``sentiment``, ``urgency``, ``language``);
``read`` reads them all at once. The word lists shared through one lookup are in ``words``, the
lookup itself in ``lexicon`` and the regular-expression helpers in ``patterns``. Submodules
import each other directly, never this package.
"""

from __future__ import annotations

from connector.classify.signals.entities import extract_entities
from connector.classify.signals.language import FUNCTION_WORDS, detect_language
from connector.classify.signals.lexicon import clear_caches
from connector.classify.signals.read import read_signals
from connector.classify.signals.risk import risk_flags
from connector.classify.signals.sentiment import sentiment
from connector.classify.signals.urgency import urgency

__all__ = [
    "FUNCTION_WORDS",
    "clear_caches",
    "detect_language",
    "extract_entities",
    "read_signals",
    "risk_flags",
    "sentiment",
    "urgency",
]
