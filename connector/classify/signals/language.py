"""Language: the ISO 639-1 code of a ticket's most likely language, from stop-word profiles of
the six languages of the default model plus Portuguese, Polish, Swedish and Danish, and from the
script for languages that are not written in Latin letters."""

from __future__ import annotations

import re
from collections import Counter
from itertools import filterfalse

from connector.classify.signals.lexicon import PreparedText, ensure_prepared


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
    "there here could should about also from they them their then than this these those into "
    "just some "
    "thanks thank hello dear regards best kind hallo bonjour hola ciao hoi salut grazie gracias "
    "merci danke bedankt"
)


def detect_language(
    text: str, default: str = "en", *, plain: str | PreparedText | None = None
) -> str:
    """ISO 639-1 code of the most likely language (stop-word profile); `default` when unsure."""
    if not text.isascii():
        for lang, script in _SCRIPTS:
            if script.search(text):
                return lang
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
