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

from connector.classify.text import message_text, quoted_part, strip_accents
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


def _dedupe(values) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for value in values:
        seen.setdefault(value, None)
    return tuple(seen)


def _order_label(raw: str) -> str:
    """'#1001', '1001', '# 1001' → '#1001' (Shopify's order name); 'SH-1001' stays as written."""
    value = raw.replace(" ", "").lstrip("#")
    return f"#{value}" if value.isdigit() else value.upper()


def extract_entities(text: str) -> Entities:
    """Order numbers, emails, tracking numbers and amounts, in order of appearance, no repeats."""
    emails = _dedupe(m.group(0).lower() for m in _EMAIL.finditer(text)) if "@" in text else ()
    scrubbed = _URL.sub(" ", _EMAIL.sub(" ", text)) if emails or "http" in text or "www." in text else text
    if not _HAS_DIGIT.search(scrubbed):  # every other entity contains a digit
        return Entities(emails=emails)

    tracking = [(m.start(), m.group(0).upper()) for m in _TRACKING.finditer(scrubbed)]
    for m in _TRACKING_AFTER_WORD.finditer(scrubbed):
        candidate = m.group(1).upper()
        if any(ch.isdigit() for ch in candidate) and len(candidate) >= 8:
            tracking.append((m.start(1), candidate))
    tracking_numbers = _dedupe(value for _, value in sorted(tracking))

    amount_matches = list(_AMOUNT.finditer(scrubbed))
    amounts = [(m.start(), m.group(0).strip()) for m in amount_matches]
    amount_spans = [(m.start(), m.end()) for m in amount_matches]

    orders = []
    for pattern in (_ORDER_AFTER_WORD, _HASH_NUMBER):
        for m in pattern.finditer(scrubbed):
            start = m.start(1)
            digits = m.group(1).replace(" ", "").lstrip("#")
            if any(a <= start < b for a, b in amount_spans):
                continue  # "order of $49.90"
            if digits.upper() in tracking_numbers or len(digits) > 12:
                continue
            if _YEARISH.match(digits) and pattern is _ORDER_AFTER_WORD and "#" not in m.group(0):
                before = scrubbed[max(0, m.start() - 1): start].lower()
                if re.search(r"\b(?:from|in|since|of|von|seit|de|depuis|desde|del|uit|van|dal)\s*$", before):
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
            current.append(body[i: i + 2])
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
    head = "\\b(?:"
    assert pattern.startswith(head)
    depth, end = 1, len(head)
    while depth:
        if pattern[end] == "\\":
            end += 2
            continue
        depth += {"(": 1, ")": -1}.get(pattern[end], 0)
        end += 1
    inner, suffix = pattern[len(head): end - 1], pattern[end:]
    groups: dict[str, list[str]] = {}
    others = []
    for alt in _split_alternatives(inner):
        if alt[:1].isalpha() and alt[1:2] not in ("*", "+", "?", "{"):
            groups.setdefault(alt[0].lower(), []).append(alt[1:])
        else:
            others.append(alt)
    parts = [f"{first}(?:{'|'.join(rests)})" for first, rests in sorted(groups.items())] + others
    return re.compile(head + "|".join(parts) + ")" + suffix, re.I)


# --- risk flags ------------------------------------------------------------------------------
# Word stems per flag, matched on lower-cased, accent-stripped text at word starts. Keep them
# specific: a flag sends a ticket to a person, so recall matters more than precision, but a flag
# on every ticket would be ignored.
_RISK_TERMS: dict[str, tuple[str, ...]] = {
    "legal_threat": (
        r"lawyers?", r"attorneys?", r"solicitors?", r"legal (?:action|steps|proceedings|advice)", r"sue\b", r"suing",
        r"lawsuit", r"small claims", r"take (?:you|this) to court", r"court\b", r"trading standards",
        r"consumer (?:protection|rights|authority|ombudsman)", r"ombudsman", r"better business bureau",
        r"(?:rechts)?anwalt", r"anwaltlich", r"klage\b", r"verklagen", r"gericht", r"verbraucherzentrale",
        r"rechtliche schritte", r"avocats?", r"poursuites?", r"tribunal", r"porter plainte", r"action en justice",
        r"mise en demeure", r"abogados?", r"demandar(?:los|les)?", r"denuncia(?:r)?", r"accion(?:es)? legal(?:es)?",
        r"oficina del consumidor", r"consumo\b", r"advocaat", r"rechter", r"rechtszaak", r"juridische stappen",
        r"consumentenbond", r"geschillencommissie", r"avvocat[oi]", r"vie legali", r"azion[ei] legal[ei]",
        r"tribunale", r"querela",
    ),
    "chargeback_fraud": (
        r"charge ?backs?", r"dispute (?:the|this|a) (?:charge|payment|transaction)", r"dispute with my (?:bank|card)",
        r"reverse the (?:charge|payment)", r"fraud", r"scam", r"unauthori[sz]ed", r"(?:did not|didn't|never) authori[sz]e",
        r"stolen (?:card|credit card)", r"identity theft", r"someone (?:else )?used my card",
        r"rueckbuchung", r"ruckbuchung", r"rucklastschrift", r"zahlung zuruckbuchen", r"betrug", r"betruger",
        r"nicht autorisiert", r"retrofacturation", r"fraude", r"arnaque", r"escroquerie", r"opposition bancaire",
        r"non autoris", r"contracargo", r"estafa", r"no autoriz", r"terugboeking", r"oplicht", r"niet geautoriseerd",
        r"frode", r"truffa", r"non autorizzat", r"storno",
    ),
    "safety": (
        r"burn(?:ed|t|s)? (?:me|my|his|her|their|our)", r"burns?\b", r"caught fire", r"on fire", r"fire hazard",
        r"smok(?:e|ing)\b", r"explod", r"explosion", r"overheat", r"electric(?:al)? shock", r"electrocut",
        r"injur", r"bleeding", r"hospital", r"emergency room", r"allergic", r"rash\b", r"chok(?:e|ed|ing)",
        r"poison", r"toxic", r"swallow", r"sharp edge", r"verbrann", r"verbrennung", r"brand\b", r"rauch",
        r"explodiert", r"stromschlag", r"verletz", r"krankenhaus", r"allergisch", r"ausschlag", r"erstick",
        r"giftig", r"brule", r"brulure", r"incendie", r"fumee", r"explose", r"electrocut", r"blesse", r"hopital",
        r"allergique", r"urgences", r"etouff", r"toxique", r"quemadura", r"quemo", r"incendio", r"humo",
        r"exploto", r"descarga electrica", r"herid[oa]", r"alergic", r"urgencias", r"toxico", r"verbrand",
        r"rook\b", r"ontploft", r"stroomschok", r"gewond", r"ziekenhuis", r"allergische", r"uitslag",
        r"bruciat", r"ustion", r"fumo\b", r"esplos", r"scossa", r"ferit[oa]", r"ospedale", r"pronto soccorso",
        r"allergic", r"tossic",
    ),
    "abuse": (
        r"fuck", r"f\*+ck", r"shit", r"bullshit", r"idiots?\b", r"morons?", r"assholes?", r"bastards?", r"bitch",
        r"scum", r"go to hell", r"kill you", r"i know where you", r"retard", r"scheiss", r"arschloch", r"idioten",
        r"wichser", r"vollidiot", r"merde", r"connard", r"putain", r"abrutis?", r"encule", r"mierda",
        r"idiotas?", r"imbeciles?", r"gilipollas", r"cabrones?", r"joder", r"klootzak", r"idioot", r"godverdomme",
        r"kanker", r"kut\b", r"cazzo", r"stronz", r"vaffanculo", r"coglion",
    ),
}
_RISK_RES = {flag: _word_pattern(r"\b(?:" + "|".join(terms) + ")") for flag, terms in _RISK_TERMS.items()}
_ANY_RISK = _word_pattern(r"\b(?:" + "|".join(t for terms in _RISK_TERMS.values() for t in terms) + ")")


def _plain(text: str) -> str:
    return strip_accents(text.lower())


def risk_flags(text: str, *, plain: str | None = None) -> tuple[str, ...]:
    """The subset of domain.RISK_FLAGS this text raises, in that fixed order."""
    plain = _plain(text) if plain is None else plain
    if not _ANY_RISK.search(plain):  # most tickets: one pass instead of four
        return ()
    return tuple(flag for flag, pattern in _RISK_RES.items() if pattern.search(plain))


# --- language --------------------------------------------------------------------------------
def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_STOPWORDS: dict[str, frozenset[str]] = {
    "en": _wordset("the and is are to of my i you it for not have has was with this that your can me we "
                   "please would could what when where how our on at be do does did will just order still"),
    "de": _wordset("der die das und ist sind ich nicht ein eine mit fur mein meine ihr sie wir bitte kann "
                   "konnen habe hat wurde noch auf zu von den dem des wie wann wo ist auch aber sehr danke"),
    "fr": _wordset("le la les et est sont je ne pas un une avec pour mon ma mes vous nous merci peux pouvez "
                   "ai avez ete encore sur de du des que qui quand ou comment commande toujours tres bonjour"),
    "es": _wordset("el la los las y es son yo no un una con para mi mis usted ustedes gracias puedo pueden "
                   "he ha sido todavia en de del que cuando donde como pedido muy hola por favor esta"),
    "nl": _wordset("de het een en is zijn ik niet met voor mijn jullie u we wij alstublieft kan kunnen "
                   "heb heeft nog op te van wanneer waar hoe bestelling al maar erg bedankt graag dank"),
    "it": _wordset("il lo la gli le e sono io non un una con per mio mia miei voi noi grazie posso potete "
                   "ho ha stato ancora su di del che quando dove come ordine molto ciao buongiorno"),
    "pt": _wordset("o a os as e sao eu nao um uma com para meu minha voce voces obrigado obrigada posso "
                   "tenho foi ainda em de do da que quando onde como pedido muito ola"),
    "pl": _wordset("i w na nie sie jest to ze z do jak co mnie moje moja prosze dzien dobry zamowienie "
                   "paczka pieniedzy zwrot czy juz jeszcze pozdrawiam dziekuje"),
    "sv": _wordset("och att det som en ett jag inte har min mitt mina ni vi kan med for pa till av "
                   "hej tack bestallning order paket nar var har ar"),
    "da": _wordset("og at det som en et jeg ikke har min mit mine i vi kan med for pa til af "
                   "hej tak bestilling ordre pakke hvornar hvor er"),
}
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
    "thanks thank hello dear regards best kind hallo bonjour hola ciao hoi salut grazie gracias merci danke bedankt")


def detect_language(text: str, default: str = "en", *, plain: str | None = None) -> str:
    """ISO 639-1 code of the most likely language (stop-word profile); `default` when unsure."""
    for lang, script in _SCRIPTS:
        if script.search(text):
            return lang
    words = Counter(_WORD.findall(_plain(text) if plain is None else plain))
    if not words:
        return default
    scores = {lang: sum(words[w] for w in stops.intersection(words)) for lang, stops in _STOPWORDS.items()}
    lowered = text.lower()
    scores["de"] += 2 * lowered.count("ß") + lowered.count("ü") + lowered.count("ö")
    scores["es"] += 2 * (lowered.count("ñ") + lowered.count("¿") + lowered.count("¡"))
    scores["fr"] += lowered.count("ç") + lowered.count("ê") + lowered.count("à ")
    scores["nl"] += lowered.count("ij")
    best = max(scores, key=lambda lang: (scores[lang], lang == default))
    return best if scores[best] >= 1 else default


# --- sentiment and urgency ---------------------------------------------------------------------
_NEGATIVE = _word_pattern(
    r"\b(?:angry|furious|livid|disappoint\w*|unacceptable|terrible|awful|horrible|worst|ridiculous|disgust\w*"
    r"|frustrat\w*|annoy\w*|upset|outrage\w*|appalling|pathetic|useless|incompetent|rubbish|poor|bad|never again"
    r"|not happy|unhappy|fed up|sick of|joke|shame\w*|waste|broken|damaged|still (?:not|no|waiting|haven)"
    r"|enttausch\w*|verargert|wutend|unverschamt|inakzeptabel|schrecklich|katastroph\w*|frech|schlecht\w*|kaputt"
    r"|decu\w*|decevant|inadmissible|inacceptable|scandal\w*|furieux|furieuse|horrible|nul(?:le)?|honteux|enerve\w*"
    r"|decepcion\w*|inaceptable|vergonz\w*|fatal|pesim\w*|harto|harta|enfadad\w*|molest\w*|horrible|roto"
    r"|teleurgesteld|teleurstell\w*|onacceptabel|belachelijk|boos|slecht\w*|schandalig|kapot|waardeloos"
    r"|delus\w*|inaccettabile|vergogn\w*|arrabbiat\w*|pessim\w*|scandalos\w*|rott[oa]|pessimo)\b",
)
_POSITIVE = _word_pattern(
    r"\b(?:love[ds]?|great|amazing|excellent|perfect|happy|wonderful|fantastic|awesome|delighted|pleased"
    r"|brilliant|superb|lovely|impressed|beautiful|best|well done|kudos|thrilled|recommend"
    r"|super|toll|klasse|wunderbar|zufrieden|begeistert|perfekt|hervorragend|schon|prima"
    r"|genial|parfait|excellent|ravi[e]?|merveilleu\w*|bravo|magnifique|satisfait\w*|genial|encanta\w*"
    r"|perfect[oa]|excelente|estupend\w*|maravill\w*|content[oa]|geweldig|fantastisch|tevreden|blij"
    r"|prachtig|fijn|ottim[oa]|perfett[oa]|fantastic[oa]|bellissim[oa]|soddisfatt[oa]|felice|contentissim[oa])\b",
)
_NEGATION_BEFORE = re.compile(r"\b(?:not|never|no|nicht|kein\w*|pas|ne|no|niet|geen|non)\s+(?:\w+\s+)?$", re.I)
_URGENT_WORDS = _word_pattern(
    r"\b(?:urgent\w*|asap|a\.s\.a\.p|immediately|right now|right away|today|tonight|tomorrow|emergency|as soon as possible"
    r"|dringend|sofort|eilig|heute|morgen|so schnell wie moglich|unverzuglich|immediatement|aujourd'hui|demain"
    r"|au plus vite|des que possible|tout de suite|urgente\w*|inmediatamente|hoy|manana|cuanto antes|lo antes posible"
    r"|spoed\w*|meteen|vandaag|zo snel mogelijk|onmiddellijk|subito|oggi|domani|al piu presto|immediatamente)\b",
)


def sentiment(text: str, *, plain: str | None = None, flags: tuple[str, ...] | None = None) -> tuple[str, float]:
    """(label, score in -1..1) from multilingual polarity words, negation, insults and shouting."""
    plain = _plain(text) if plain is None else plain
    neg = 0.0
    pos = 0.0
    neg += len(_NEGATIVE.findall(plain))
    if flags is None or "abuse" in flags:
        neg += 1.5 * len(_RISK_RES["abuse"].findall(plain))
    for m in _POSITIVE.finditer(plain):
        if _NEGATION_BEFORE.search(plain[max(0, m.start() - 25): m.start()]):
            neg += 1.0  # "not happy", "nicht zufrieden"
        else:
            pos += 1.0
    shouting = sum(1 for w in re.findall(r"\b[A-Z]{4,}\b", text) if w not in {"ASAP", "HTTP", "HTTPS"})
    neg += 0.5 * min(shouting, 4) + 0.25 * min(text.count("!"), 4) * (1.0 if neg else 0.0)
    raw = (pos - neg) / (1.0 + 0.5 * (pos + neg))
    score = max(-1.0, min(1.0, raw))
    label = "negative" if score <= -0.25 else "positive" if score >= 0.25 else "neutral"
    return label, round(score, 3)


# Categories where time matters: the parcel may leave the warehouse any minute.
_TIME_CRITICAL = frozenset({"cancel_order", "change_address", "order_change"})
_LOW_STAKES = frozenset({"product_question", "shipping_info", "promo_pricing"})


def urgency(text: str, *, category: str | None = None, sentiment_score: float = 0.0,
            flags: tuple[str, ...] = (), plain: str | None = None) -> str:
    """low | normal | high | urgent. Risk flags make it urgent; deadlines or anger make it high."""
    if {"legal_threat", "safety", "chargeback_fraud"} & set(flags):
        return "urgent"
    plain = _plain(text) if plain is None else plain
    explicit = bool(_URGENT_WORDS.search(plain))
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


def read_signals(subject: str, body: str, *, category: str | None = None) -> Signals:
    """All non-ML signals of a ticket's latest message (quoted thread and signature removed)."""
    text = message_text(subject, body)
    plain = _plain(text)
    flags = risk_flags(text, plain=plain)
    label, score = sentiment(text, plain=plain, flags=flags)
    entities = extract_entities(text)
    quoted = quoted_part(body)
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
