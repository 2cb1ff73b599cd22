"""PII redaction before any ticket text leaves the machine for an LLM.

``redact(text)`` replaces card numbers, CVCs and expiry dates next to card talk, IBANs, email
addresses, street addresses, phone numbers and (conservatively) names with stable placeholders
such as ``[EMAIL_1]`` or ``[CARD_1]``: the same value gets the same placeholder within one
ticket (``Redactor`` keeps the numbering across subject, body and context). ``restore(text,
mapping)`` puts emails, names, phones and addresses back into a suggested reply; card numbers,
CVCs, expiry dates and IBANs are NEVER restored.

Card numbers are found in any layout (any script's digits, any separators, invisible
characters, HTML, quoted replies) by the scanner in ``connector/logs.py``; the rules here decide
which of its Luhn-valid windows are cards. Order numbers (``#1001``) and tracking numbers are not
PII and survive: the classifier needs them. Detection is pattern-based; its limits are listed in
docs/classifier.md ("Known limits of redaction").

Detectors run in a fixed order because later patterns would otherwise eat parts of earlier
ones: IBAN before cards (an IBAN's digits can look like a card), cards before CVC/expiry (which
look for a card placeholder nearby), emails before phones (an address can hold digits).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from connector.logs import DigitGroup, card_digits, digit_runs, luhn_windows
from connector.logs import luhn_valid as luhn_valid  # re-exported: callers check numbers here

# Kinds whose original value may go back into a reply to the customer (it is their own data).
RESTORABLE = frozenset({"EMAIL", "NAME", "PHONE", "ADDRESS"})
# Kinds that never come back, whatever the model wrote.
NEVER_RESTORED = frozenset({"CARD", "CVC", "EXPIRY", "IBAN"})
KINDS = RESTORABLE | NEVER_RESTORED

PLACEHOLDER = re.compile(r"\[(" + "|".join(sorted(KINDS)) + r")_(\d+)\]")


@dataclass(frozen=True)
class Redaction:
    """Redacted text plus the placeholder → original mapping (keep it in memory only)."""

    text: str
    placeholders: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # the mapping holds card numbers: never print it
        return f"Redaction(text={self.text!r}, placeholders={sorted(self.placeholders)})"

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for placeholder in self.placeholders:
            kind = placeholder[1:].split("_", 1)[0]
            out[kind] = out.get(kind, 0) + 1
        return out


# --- keyword context -----------------------------------------------------------------------
# Multilingual (EN/DE/FR/ES/NL/IT) cue words; a number's nearest cue before it decides what it is.
_CARD_WORDS = (
    r"card|credit ?card|debit ?card|visa|master ?card|amex|american express|maestro|discover|"
    r"diners|jcb|unionpay|cc|karte|kreditkarte|kartennummer|ec-karte|girocard|carte|carte bancaire|"
    r"carte bleue|cb|tarjeta|kaart|creditcard|pinpas|bankpas|carta|carta di credito|postepay"
)
_TRACKING_WORDS = (
    r"tracking|track|trace|tracking ?(?:number|no|nr|code|id)|sendungsnummer|sendungsverfolgung|"
    r"paketnummer|trackingnummer|sendung|suivi|num[ée]ro de suivi|colis|seguimiento|"
    r"n[úu]mero de seguimiento|env[íi]o|track ?& ?trace|trackingcode|zending|pakket|tracciamento|"
    r"spedizione|ups|dhl|fedex|usps|gls|dpd|hermes|evri|postnl|colissimo|chronopost|correos|"
    r"royal mail|la poste|brt|sda|bpost|waybill|awb"
)
_PHONE_WORDS = (
    r"phone|tel|telephone|mobile|cell|call me|whatsapp|telefon|handy|rufnummer|mobil|"
    r"t[ée]l[ée]phone|portable|t[ée]l|tel[ée]fono|m[óo]vil|telefoon|mobiel|telefono|cellulare|cell"
)
_CVC_WORDS = (
    r"cvc2?|cvv2?|cid|csc|security code|card code|sicherheitscode|pr[üu]fnummer|"
    r"kartenpr[üu]fnummer|pr[üu]fziffer|cryptogramme(?: visuel)?|code de s[ée]curit[ée]|code cvv|"
    r"c[óo]digo de seguridad|c[óo]digo cvv|codice di sicurezza|codice cvv|beveiligingscode|"
    r"veiligheidscode|controlecode"
)
_EXPIRY_WORDS = (
    r"exp|exp\.|expiry|expires|expiration|valid thru|valid until|g[üu]ltig bis|ablaufdatum|"
    r"date d'expiration|expire le|caducidad|vencimiento|fecha de caducidad|scadenza|vervaldatum|"
    r"geldig tot"
)

_CUE = re.compile(
    rf"(?P<card>\b(?:{_CARD_WORDS})\b)"
    rf"|(?P<tracking>\b(?:{_TRACKING_WORDS})\b)"
    rf"|(?P<phone>\b(?:{_PHONE_WORDS})\b)",
    re.I,
)


def _nearest_cue(text: str, start: int, window: int = 50) -> str | None:
    """The kind of the cue word closest before ``start`` (within ``window`` chars), if any."""
    best: str | None = None
    for m in _CUE.finditer(text, max(0, start - window), start):
        best = m.lastgroup
    return best


# --- numbers -------------------------------------------------------------------------------
# Card numbers are found in any layout: the scanner in connector/logs.py maps the text to a
# skeleton (NFKC, every script's digits to ASCII, format characters dropped, every space and
# every other non-alphanumeric character a possible separator, HTML tags and entities read as
# shown) and yields runs of digit groups with short gaps; a card is a group-aligned window of
# 13–19 digits that passes the Luhn check. The rules below decide which windows are cards.
#
# Tracking formats that can be all digits and long enough to hold a Luhn-valid window.
_TRACKING_FORMATS = re.compile(
    r"^(?:9[1-5]\d{18,20}|420\d{5}9[1-5]\d{18,20}|00\d{18})$"
)  # USPS, DHL Paket

# Issuer ranges (IIN prefixes) and lengths of the payment card brands. A Luhn-valid number that
# fits one of them is a card whatever the words around it say ("tracking", "#"): these are the
# numbers a customer pastes. Ranges as listed in "Payment card number" (Wikipedia,
# https://en.wikipedia.org/wiki/Payment_card_number; read in the mirror
# http://chaos.owiki.org/wiki/Payment_card_number), which follows ISO/IEC 7812.
_BRANDS: tuple[tuple[str, str, range], ...] = (
    ("4", "4", range(13, 20, 3)),  # Visa: 13, 16, 19
    ("51", "55", range(16, 17)),  # Mastercard
    ("2221", "2720", range(16, 17)),  # Mastercard 2-series
    ("34", "34", range(15, 16)),  # American Express
    ("37", "37", range(15, 16)),
    ("6011", "6011", range(16, 20)),  # Discover
    ("644", "649", range(16, 20)),
    ("65", "65", range(16, 20)),
    ("3528", "3589", range(16, 20)),  # JCB
    ("36", "36", range(14, 20)),  # Diners Club International
    ("300", "305", range(16, 20)),
    ("38", "39", range(16, 20)),
    ("62", "62", range(16, 20)),  # UnionPay
    ("2200", "2204", range(16, 20)),  # Mir
)


def brand_shaped(digits: str) -> bool:
    """The number has a card brand's issuer prefix and one of that brand's lengths."""
    return any(
        len(digits) in lengths and low <= digits[: len(low)] <= high
        for low, high, lengths in _BRANDS
    )


def _after_hash(text: str, start: int) -> bool:
    """``#1001``: an order number (a full-width "＃" too)."""
    return start > 0 and unicodedata.normalize("NFKC", text[start - 1]) == "#"


def _card_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for groups in digit_runs(text):
        spans += [(groups[a].start, groups[b].end) for a, b in _cards_in_run(text, groups)]
    return spans


def _cards_in_run(text: str, groups: list[DigitGroup]) -> list[tuple[int, int]]:
    """The card windows of one run, as group index ranges."""
    cue = _nearest_cue(text, groups[0].start)
    run_digits = "".join(g.digits for g in groups)
    # a tracking number: not PII, the classifier needs it (unless it is shaped like a card)
    tracking = cue == "tracking" or (
        cue != "card" and _TRACKING_FORMATS.match(run_digits) is not None
    )

    def is_card(digits: str, first: int) -> bool:
        if brand_shaped(digits):
            return not _after_hash(text, groups[first].start)  # "#1001 4111 …": 2nd pass
        if tracking or _after_hash(text, groups[first].start):
            return False
        # major industry identifiers 1-6 are payment cards; 7/8/9/0 only with card talk
        return digits[0] in "123456" or cue == "card"

    found = luhn_windows(groups, is_card)
    # Second pass: what is left may still start at "#" ("order #4111 1111 1111 1111"); a
    # brand-shaped number there is a card all the same.
    covered = {k for first, last in found for k in range(first, last + 1)}
    for segment in _uncovered(groups, covered):
        offset = segment[0][0]
        found += [
            (offset + a, offset + b)
            for a, b in luhn_windows([g for _, g in segment], lambda d, _i: brand_shaped(d))
        ]
    return found


def _uncovered(groups: list[DigitGroup], covered: set[int]) -> list[list[tuple[int, DigitGroup]]]:
    segments: list[list[tuple[int, DigitGroup]]] = [[]]
    for k, group in enumerate(groups):
        if k in covered:
            segments.append([])
        else:
            segments[-1].append((k, group))
    return [s for s in segments if s]


# --- IBAN (ISO 13616 lengths per country; checksum mod 97) ---------------------------------
IBAN_LENGTHS = {
    "AD": 24,
    "AE": 23,
    "AL": 28,
    "AT": 20,
    "AZ": 28,
    "BA": 20,
    "BE": 16,
    "BG": 22,
    "BH": 22,
    "BR": 29,
    "CH": 21,
    "CR": 22,
    "CY": 28,
    "CZ": 24,
    "DE": 22,
    "DK": 18,
    "DO": 28,
    "EE": 20,
    "EG": 29,
    "ES": 24,
    "FI": 18,
    "FO": 18,
    "FR": 27,
    "GB": 22,
    "GE": 22,
    "GI": 23,
    "GL": 18,
    "GR": 27,
    "GT": 28,
    "HR": 21,
    "HU": 28,
    "IE": 22,
    "IL": 23,
    "IS": 26,
    "IT": 27,
    "JO": 30,
    "KW": 30,
    "KZ": 20,
    "LB": 28,
    "LI": 21,
    "LT": 20,
    "LU": 20,
    "LV": 21,
    "MC": 27,
    "MD": 24,
    "ME": 22,
    "MK": 19,
    "MR": 27,
    "MT": 31,
    "MU": 30,
    "NL": 18,
    "NO": 15,
    "PK": 24,
    "PL": 28,
    "PS": 29,
    "PT": 25,
    "QA": 29,
    "RO": 24,
    "RS": 22,
    "SA": 24,
    "SE": 24,
    "SI": 19,
    "SK": 24,
    "SM": 27,
    "TN": 24,
    "TR": 26,
    "UA": 29,
    "VG": 24,
    "XK": 20,
}
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2})(\d{2})")


def iban_valid(iban: str) -> bool:
    iban = iban.replace(" ", "").upper()
    if IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban.isalnum():
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def _iban_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in _IBAN_START.finditer(text):
        length = IBAN_LENGTHS.get(m.group(1).upper())
        if length is None:
            continue
        # Walk forward collecting exactly `length` alphanumerics, allowing single spaces.
        i, count, end = m.start(), 0, m.start()
        while i < len(text) and count < length:
            ch = text[i]
            if ch.isascii() and ch.isalnum():
                count += 1
                end = i + 1
            elif ch != " " or i + 1 >= len(text) or text[i + 1] == " ":
                break
            i += 1
        followed_by_alnum = end < len(text) and text[end].isascii() and text[end].isalnum()
        if count == length and not followed_by_alnum and iban_valid(text[m.start() : end]):
            spans.append((m.start(), end))
    return spans


# --- CVC and expiry next to card talk --------------------------------------------------------
_EXPIRY_DATE = r"(?:0[1-9]|1[0-2])\s?[/\-.]\s?(?:20)?\d{2}(?!\d)"
_EXPIRY_BY_WORD = re.compile(
    rf"\b(?:{_EXPIRY_WORDS})(?:\s*[:.]?\s*|\s+(?:date\s*)?[:.]?\s*)(?P<v>{_EXPIRY_DATE})", re.I
)
_AFTER_CARD = (
    r"\[CARD_\d+\](?:[\s,;:|()-]|\[EXPIRY_\d+\]|\b(?:exp\w*|cvc|cvv|code|and|und|et|y|e|en|ed)\b)*?"
)
_EXPIRY_AFTER_CARD = re.compile(rf"{_AFTER_CARD}(?P<v>{_EXPIRY_DATE})", re.I)
_CVC_BY_WORD = re.compile(
    rf"\b(?:{_CVC_WORDS})\b[^\d\n]{{0,20}}?(?<![\d#])(?P<v>\d{{3,4}})(?![\d/]|[.,]\d)", re.I
)
_CVC_AFTER_CARD = re.compile(
    rf"{_AFTER_CARD}(?<![\d#])(?P<v>\d{{3,4}})(?![\d/%€$£]|[.,]\d|\s?(?:€|\$|£|eur|usd|gbp)\b)",
    re.I,
)

# --- email ---------------------------------------------------------------------------------
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)

# --- street addresses ----------------------------------------------------------------------
# A capitalised word with at least one lower-case letter: "Roma", "O'Connell"; not "USPS", "DHL".
_CAP = r"[A-ZÀ-ÝÄÖÜ](?=[\w'’-]*[a-zà-ÿäöüß])[\wÀ-ÿ'’-]*"
_PART = (
    r"(?:de|du|des|de la|de l'|d'|la|le|les|l'|del|de los|de las|di|della|dei|degli|van|van de"
    r"|van der|der|den|am|an|auf|zum|zur|of|the)"
)
_NAME_TAIL = rf"(?:{_PART}\s+)*{_CAP}(?:[ -](?:{_PART}\s+)*{_CAP}){{0,3}}"
_HOUSE_NO = r"\d{1,5}(?:\s?[A-Za-z](?![A-Za-z]))?(?:\s?[-/]\s?\d{1,5}[A-Za-z]?)?"
_EN_SUFFIX = (
    r"Street|St|Road|Rd|Avenue|Ave|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Way|Terrace|"
    r"Close|Crescent|Square|Sq|Parkway|Pkwy|Highway|Hwy|Circle|Cir|Row|Mews|Gardens|Grove|Hill"
)
_COMPOUND_SUFFIX = (
    r"straße|strasse|str\.|weg|allee|gasse|platz|straat|laan|gracht|plein|kade|singel|dijk|"
    r"steeg|dreef|markt"
)
_COMPOUND_WORD = r"(?:Straße|Strasse|Str\.|Allee|Weg|Platz|Gasse|Laan|Straat|Plein|Kade|Markt)"
# Street-type words that come first (ES/IT). Capitalised, or lower-case where the word cannot be
# anything else: "via", "corso", "largo" and "strada" are everyday words in lower case.
_ROMANCE_PREFIX = (
    r"Calle|C/|Avda\.?|Avenida|Av\.|Paseo|Plaza|Pza\.|Camino|Carrer|Ronda|Traves[íi]a|Glorieta|"
    r"Via|Viale|Piazza|P\.za|Corso|Largo|Vicolo|Piazzale|Strada|Lungomare|Lungotevere|"
    r"calle|c/|avda\.?|avenida|paseo|plaza|carrer|viale|piazza|piazzale|vicolo|lungomare"
)
_UNIT = (
    r"(?:,?\s*(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Flat|Floor|Wohnung|Whg\.?|App\.?|appt\.?|piso"
    r"|puerta|scala|interno|int\.)\s*[\w-]{1,6}|,?\s*\d{1,2}\s?º\s?[A-Za-z]?)?"
)
_POSTCODE_CITY = (
    rf"(?:,?\s*(?:[A-Z]-?)?(?:\d{{4}}\s?[A-Z]{{2}}|\d{{4,5}})\s+{_CAP}(?:[ -]{_CAP}){{0,2}}"  # EU
    rf"|,\s*{_CAP}(?:\s{_CAP}){{0,2}},?\s+[A-Z]{{2}}\s+\d{{5}}(?:-\d{{4}})?"  # US: City, ST 12345
    rf"|,?\s*(?:{_CAP}\s+)?[A-Z]{{1,2}}\d[A-Z\d]?\s?\d[A-Z]{{2}})?"
)  # UK postcode
_ADDRESS = re.compile(
    r"(?<![\w-])(?:"
    # EN: 221B Baker Street, 1600 Pennsylvania Ave NW
    rf"{_HOUSE_NO},?\s+{_CAP}(?:\s+{_CAP}){{0,3}}\s+(?:{_EN_SUFFIX})\b\.?"
    r"(?:\s+(?:NW|NE|SW|SE|N|S|E|W)\b)?"
    # DE/NL: Musterstraße 12, Berliner Straße 5a, Keizersgracht 123-2
    rf"|(?:{_CAP}\s+)?(?:[A-ZÄÖÜ][a-zäöüß-]{{2,}}(?:{_COMPOUND_SUFFIX})|{_COMPOUND_WORD})"
    rf"\s*{_HOUSE_NO}"
    r"|Laan van [A-Z][\w-]+\s+\d{1,5}[A-Za-z]?"
    # FR: 12 rue de la Paix, 5 bis avenue des Champs-Élysées
    rf"|{_HOUSE_NO}(?:\s?(?:bis|ter))?,?\s+"
    r"(?i:rue|avenue|av\.|bd|boulevard|place|chemin|all[ée]e|impasse|quai|route|cours|passage"
    r"|faubourg)"
    rf"\s+{_NAME_TAIL}"
    # ES/IT: Calle Mayor 5, C/ Alcalá 23, Via Roma 10, Corso Buenos Aires 12
    rf"|(?:{_ROMANCE_PREFIX})\s+{_NAME_TAIL},?\s*(?:n[º°o]\.?\s*|n\.\s*)?\d{{1,5}}"
    r"(?:\s?[A-Za-z](?![A-Za-z]))?"
    rf"){_UNIT}{_POSTCODE_CITY}"
)

# --- phone numbers (after cards, IBANs and emails are out of the way) ------------------------
_PHONE_RUN = re.compile(
    r"(?<![\w#+@/.,-])(?:\+|\(\+?)?\d"
    r"(?:\d|[ \u00a0.\-/]\(?(?=\d)|\)[ \u00a0.\-/]?(?=\d)|\((?=\d))*(?![\w@])"
)
_NANP = re.compile(r"^\(?[2-9]\d{2}\)?[ \u00a0.\-]\d{3}[ \u00a0.\-]\d{4}$")
_ORDER_BEFORE = re.compile(
    r"(?:#|\b(?:order|bestellung|commande|pedido|bestelling|ordine|invoice|rechnung|facture|factura"
    r"|factuur|fattura)\b[^\n\d]{0,15})$",
    re.I,
)


def _phone_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in _PHONE_RUN.finditer(text):
        raw = m.group()
        digits = re.sub(r"\D", "", raw)
        cue = _nearest_cue(text, m.start(), 30)
        if cue == "tracking" or _ORDER_BEFORE.search(text[max(0, m.start() - 25) : m.start()]):
            continue
        if raw.startswith(("+", "(+")):
            ok = 8 <= len(digits) <= 15
        elif digits.startswith("00"):
            ok = 10 <= len(digits) <= 15
        elif digits.startswith("0"):
            ok = 9 <= len(digits) <= 12
        elif _NANP.match(raw):
            ok = True
        else:
            ok = cue == "phone" and 7 <= len(digits) <= 15
        if ok:
            spans.append((m.start(), m.end()))
    return spans


# --- names (conservative: sign-offs and self-introductions only) ----------------------------
_CLOSINGS = (
    r"best regards|kind regards|regards|best wishes|best|thanks|thank you|many thanks|cheers"
    r"|sincerely|yours sincerely|yours|viele gr[üu]ße|liebe gr[üu]ße|beste gr[üu]ße"
    r"|mit freundlichen gr[üu]ßen|freundliche gr[üu]ße|gr[üu]ße|lg|mfg|danke|vielen dank"
    r"|cordialement|bien cordialement|bien à vous|merci|merci beaucoup|salutations|bonne journ[ée]e"
    r"|saludos|un saludo|atentamente|gracias|muchas gracias|met vriendelijke groet(?:en)?"
    r"|vriendelijke groet(?:en)?|groetjes|groeten|bedankt|cordiali saluti|distinti saluti|saluti"
    r"|grazie|grazie mille|un saluto"
)
_NAME = (
    r"[A-ZÀ-ÝÄÖÜ][a-zà-ÿäöüß'’-]+"
    r"(?: (?:van |de |von |di |da |van der |van den )?[A-ZÀ-ÝÄÖÜ][a-zà-ÿäöüß'’-]+){0,2}"
)
_SIGNOFF = re.compile(
    rf"(?m)(?:^|[.!?][ \t]+)[ \t]*(?i:{_CLOSINGS})[ \t]*[,!.]?[ \t]*(?:\n[ \t]*)?"
    rf"(?P<v>{_NAME})[ \t]*$"
)
_INTRO = re.compile(
    r"\b(?i:my name is|my name's|mein name ist|ich hei(?:ß|ss)e|je m'appelle|me llamo"
    r"|mi nombre es|mijn naam is|mi chiamo|il mio nome è)"
    rf"\s+(?P<v>{_NAME})"
)


# --- the redactor --------------------------------------------------------------------------
def _normalise(kind: str, value: str) -> str:
    if kind == "CARD":
        return card_digits(value)  # "٤١١١ …" and "4111 …" are the same card
    if kind in ("PHONE", "CVC", "EXPIRY"):
        return re.sub(r"\D", "", value)
    if kind == "IBAN":
        return value.replace(" ", "").upper()
    return " ".join(value.lower().split())


class Redactor:
    """Redacts several texts of one ticket with one numbering (same value → same placeholder)."""

    def __init__(self, known: Mapping[str, str] | None = None) -> None:
        """``known``: placeholders already handed out for this ticket (e.g. by the pipeline), so
        further texts reuse them for the same values and continue the numbering after them."""
        self._by_value: dict[tuple[str, str], str] = {}
        self._originals: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        for placeholder, value in (known or {}).items():
            m = PLACEHOLDER.fullmatch(placeholder)
            if m is None:
                continue
            kind, n = m.group(1), int(m.group(2))
            self._by_value.setdefault((kind, _normalise(kind, value)), placeholder)
            self._originals[placeholder] = value
            self._counts[kind] = max(self._counts.get(kind, 0), n)

    @property
    def placeholders(self) -> dict[str, str]:
        return dict(self._originals)

    def _placeholder(self, kind: str, value: str) -> str:
        key = (kind, _normalise(kind, value))
        if key not in self._by_value:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            placeholder = f"[{kind}_{self._counts[kind]}]"
            self._by_value[key] = placeholder
            self._originals[placeholder] = value
        return self._by_value[key]

    def _replace_spans(self, text: str, kind: str, spans: list[tuple[int, int]]) -> str:
        out, last = [], 0
        for start, end in sorted(spans):
            if start < last:
                continue
            out += [text[last:start], self._placeholder(kind, text[start:end])]
            last = end
        out.append(text[last:])
        return "".join(out)

    def _replace_group(self, text: str, kind: str, pattern: re.Pattern[str]) -> str:
        """Replace only the named group ``v`` of each match."""
        return self._replace_spans(text, kind, [m.span("v") for m in pattern.finditer(text)])

    def redact(self, text: str) -> str:
        if not text:
            return text
        steps: tuple[tuple[str, Callable[[str], str]], ...] = (
            ("IBAN", lambda t: self._replace_spans(t, "IBAN", _iban_spans(t))),
            ("CARD", lambda t: self._replace_spans(t, "CARD", _card_spans(t))),
            ("EXPIRY", lambda t: self._replace_group(t, "EXPIRY", _EXPIRY_AFTER_CARD)),
            ("EXPIRY", lambda t: self._replace_group(t, "EXPIRY", _EXPIRY_BY_WORD)),
            ("CVC", lambda t: self._replace_group(t, "CVC", _CVC_AFTER_CARD)),
            ("CVC", lambda t: self._replace_group(t, "CVC", _CVC_BY_WORD)),
            (
                "EMAIL",
                lambda t: self._replace_spans(t, "EMAIL", [m.span() for m in _EMAIL.finditer(t)]),
            ),
            (
                "ADDRESS",
                lambda t: self._replace_spans(
                    t, "ADDRESS", [m.span() for m in _ADDRESS.finditer(t)]
                ),
            ),
            ("PHONE", lambda t: self._replace_spans(t, "PHONE", _phone_spans(t))),
            ("NAME", lambda t: self._replace_group(t, "NAME", _SIGNOFF)),
            ("NAME", lambda t: self._replace_group(t, "NAME", _INTRO)),
        )
        for _kind, step in steps:
            text = step(text)
        return text

    def result(self, text: str) -> Redaction:
        return Redaction(text, self.placeholders)


def redact(text: str) -> Redaction:
    """Redact one text. For several texts of one ticket use one ``Redactor``."""
    redactor = Redactor()
    return redactor.result(redactor.redact(text))


def restore(text: str, placeholders: Mapping[str, str]) -> str:
    """Put restorable values (emails, names, phones, addresses) back; never cards, CVCs,
    expiry dates or IBANs. Unknown placeholders (a model's invention) stay as they are."""

    def put_back(m: re.Match[str]) -> str:
        if m.group(1) in RESTORABLE and m.group() in placeholders:
            return placeholders[m.group()]
        return m.group()

    return PLACEHOLDER.sub(put_back, text)


def restore_value(value: str, placeholders: Mapping[str, str]) -> str | None:
    """Restore one extracted entity; ``None`` when it still holds a never-restored placeholder."""
    restored = restore(value, placeholders)
    m = PLACEHOLDER.search(restored)
    return None if m and m.group(1) in NEVER_RESTORED else restored
