"""Language: the ISO 639-1 code of a ticket's most likely language.

Latin-script text is read by lingua (``lingua-language-detector``, maintained, offline n-gram
models), limited to the languages stores see (``STORE_LANGUAGES``): chosen by measuring it against
langid and our earlier stop-word profiles on a team-written set of short phrases and sentences in
17 languages (``tests/data/lang_phrases.jsonl``; docs/QUALITY.md, "Language"). Short text gets
lingua's high-accuracy models (1- to 5-grams), longer text its faster trigram models, which are
as good once there are a few sentences. Other scripts (Cyrillic, Greek, Japanese, ...) are named
by their script. When lingua cannot decide (no letters), the stop-word profiles below answer, and
they still supply ``FUNCTION_WORDS``.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from itertools import filterfalse

from lingua import (
    ConfidenceValue,
    IsoCode639_1,
    Language,
    LanguageDetector,
    LanguageDetectorBuilder,
)

from connector.classify.signals.lexicon import PreparedText, ensure_prepared

# What lingua chooses from: the languages of European and North American stores (ISO 639-1;
# "no" is Norwegian Bokmål). A language outside the list is read as its nearest neighbour here,
# which is why the list is kept to languages stores actually see.
STORE_LANGUAGES = (
    "en", "es", "fr", "de", "it", "pt", "nl", "pl", "cs", "sk", "ro", "hu", "sv", "da", "no",
    "fi", "tr",
)  # fmt: skip
SHORT_TEXT = 60  # characters up to which the high-accuracy models read the text
MAX_TEXT = 120  # characters read from longer text (the language does not change after that)
_ISO = {"no": "NB"}


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
# Any character of those scripts (their ranges in one class): one pass over a long text
# instead of one per script, which finds nothing in most tickets.
_ANY_SCRIPT = re.compile("[" + "".join(script.pattern[1:-1] for _, script in _SCRIPTS) + "]")
_WORD = re.compile(r"[^\W\d_]+", re.U)
# Function words of every language above, plus pleasantries: never a reason for a category.
FUNCTION_WORDS = frozenset().union(*_STOPWORDS.values()) | _wordset(
    "there here could should about also from they them their then than this these those into "
    "just some "
    "thanks thank hello dear regards best kind hallo bonjour hola ciao hoi salut grazie gracias "
    "merci danke bedankt"
)


class _Detectors:
    """lingua's two detectors for ``STORE_LANGUAGES``, built once per process on first use
    (about 1.5 s, the high-accuracy models being most of it; docs/BENCHMARKS.md)."""

    _lock = threading.Lock()
    _built: tuple[LanguageDetector, LanguageDetector] | None = None

    @classmethod
    def get(cls) -> tuple[LanguageDetector, LanguageDetector]:
        built = cls._built
        if built is None:
            with cls._lock:
                if cls._built is None:
                    languages = [
                        Language.from_iso_code_639_1(getattr(IsoCode639_1, _ISO.get(c, c.upper())))
                        for c in STORE_LANGUAGES
                    ]
                    builder = LanguageDetectorBuilder.from_languages(*languages)
                    precise = builder.with_preloaded_language_models().build()
                    fast = (
                        LanguageDetectorBuilder.from_languages(*languages)
                        .with_low_accuracy_mode()
                        .with_preloaded_language_models()
                        .build()
                    )
                    cls._built = (precise, fast)
                built = cls._built
        assert built is not None
        return built


_CODES = {"nb": "no", "nn": "no"}


def warm_up() -> None:
    """Load the language models now rather than on the first reading (a worker may call it at
    start; ``deskguard bench local`` times it)."""
    _Detectors.get()


# Short text in the default language (English) often scores close to a neighbour ("refund pls",
# "cancel it"): the default wins when its confidence is at least this share of the winner's.
DEFAULT_SHARE = 0.5


# Longer text read by the trigram models as another language is read again by the high-accuracy
# models (first ``MAX_TEXT`` characters, then the ``DEFAULT_SHARE`` rule) when the trigram models
# still give the default language at least this share of the winner's confidence: informal
# English of 60-120 characters ("ordered 2 inner tubes and the levers, wondering when they'll turn
# up") was read as Norwegian or Dutch. Chosen on the packaged training and dev tickets (24,212
# texts with a language; `scripts/language_choice.py`): 45 of the 4,771 longer texts wrong before,
# 10 after, with the second reading needed for 38 of them (a genuinely foreign text gives English
# far less than 1 %). docs/QUALITY.md, "Language".
CONFIRM_SHARE = 0.01


def library_language(
    text: str, default: str = "en", *, confirm_share: float | None = CONFIRM_SHARE
) -> str | None:
    """lingua's language of Latin-script ``text`` among ``STORE_LANGUAGES``; None when it cannot
    tell (no letters). Text stays ``default`` when that is nearly as likely (``DEFAULT_SHARE``;
    for longer text after a second reading, ``CONFIRM_SHARE``; None: no second reading)."""
    precise, fast = _Detectors.get()
    if len(text) > SHORT_TEXT:
        head = text[:MAX_TEXT]
        values = fast.compute_language_confidence_values(head)
        # What fast.detect_language_of(head) says, from the same values (one pass, not two): the
        # most likely language, none when nothing scores or the first two tie.
        if (
            not values
            or values[0].value <= 0
            or (len(values) > 1 and values[0].value == values[1].value)
        ):
            return None
        best = _code(values[0].language)
        if (
            confirm_share is not None
            and best != default
            and _keeps_share(values, default, confirm_share)
        ):
            return _choose(precise.compute_language_confidence_values(head), default) or best
        return best
    return _choose(precise.compute_language_confidence_values(text), default)


def _keeps_share(values: list[ConfidenceValue], default: str, share: float) -> bool:
    """Does ``default`` keep at least ``share`` of the winner's confidence (and more than 0)?
    ``values``: lingua's confidence values, most likely first."""
    mine = next((v.value for v in values if _code(v.language) == default), 0.0)
    return mine > 0 and mine >= share * values[0].value


def _choose(values: list[ConfidenceValue], default: str) -> str | None:
    """The most likely language, or ``default`` when it has ``DEFAULT_SHARE`` of its confidence."""
    if not values or values[0].value <= 0:
        return None
    best = _code(values[0].language)
    if best != default:
        for value in values:
            if _code(value.language) == default:
                return default if value.value >= DEFAULT_SHARE * values[0].value else best
    return best


def _code(language: Language) -> str:
    code = language.iso_code_639_1.name.lower()
    return _CODES.get(code, code)


def detect_language(
    text: str, default: str = "en", *, plain: str | PreparedText | None = None
) -> str:
    """ISO 639-1 code of the most likely language: by script for non-Latin scripts, else by
    lingua (``library_language``), else by stop words; `default` when there is nothing to go
    on."""
    if not text.isascii() and _ANY_SCRIPT.search(text):
        for lang, script in _SCRIPTS:
            if script.search(text):
                return lang
    found = library_language(text, default) if _WORD.search(text) else None
    if found is not None:
        return found
    return stopword_language(text, default, plain=plain)


def stopword_language(
    text: str, default: str = "en", *, plain: str | PreparedText | None = None
) -> str:
    """The earlier detector: stop-word profiles of ten languages; `default` when none match."""
    counts = ensure_prepared(text, plain).counts
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
