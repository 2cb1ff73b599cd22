"""What the customer actually wrote: ticket text without quoted threads and signatures.

Support email carries a lot besides the new message: the store's previous reply quoted below a
"On … wrote:" line, "Sent from my iPhone", a signature with a phone number and a company name.
Both engines and the non-ML signals read the *latest message*, so an old quoted "refund" does not
decide today's category and a signature's phone number is not taken for an order number.

The quote and signature markers below are the ones mail clients write in the six languages the
default model knows (English, German, French, Spanish, Dutch, Italian).
"""

from __future__ import annotations

import re
import unicodedata

# A line that starts a quoted earlier message; everything from it on is dropped.
_QUOTE_START = re.compile(
    r"""^\s*(?:
        -{2,}\s*(?:original\s+message|forwarded\s+message|ursprüngliche\s+nachricht
                  |weitergeleitete\s+nachricht|message\s+d'origine|mensaje\s+original
                  |oorspronkelijk\s+bericht|messaggio\s+originale)\s*-{2,}
      | (?:on|am|le|el|op|il)\b.{3,200}?\b
        (?:wrote|schrieb|a\s+écrit|escribió|schreef|ha\s+scritto)\s*:?\s*$
      | (?:from|von|de|van|da)\s*:\s*.+\s*$
        (?=[\s\S]*?^\s*(?:sent|gesendet|envoyé|enviado|verzonden|inviato)\s*:)
      | _{8,}\s*$
    )""",
    re.I | re.M | re.X,
)
# "Sent from my iPhone" and friends, and the conventional "-- " signature separator.
_SIGNATURE_START = re.compile(
    r"""^\s*(?:
        --\s*$
      | sent\s+from\s+my\b.* | get\s+outlook\s+for\b.*
      | von\s+meinem\b.*gesendet.* | gesendet\s+von\s+meinem\b.*
      | envoyé\s+de\s+mon\b.* | enviado\s+desde\s+mi\b.*
      | verstuurd\s+vanaf\s+mijn\b.* | inviato\s+da\b.*
    )$""",
    re.I | re.M | re.X,
)
# Closing formulas; the rest of the message after one is a signature (name, phone, address).
_CLOSING = re.compile(
    r"""^\s*(?:
        (?:best|kind|warm|many)?\s*(?:regards|wishes)|best|cheers|thanks(?:\s+again)?
      | thank\s+you|many\s+thanks
      | sincerely|yours\s+(?:sincerely|faithfully|truly)|all\s+the\s+best
      | mit\s+freundlichen\s+grüßen|mit\s+freundlichen\s+grüssen
      | (?:viele|liebe|beste)\s+grüße|(?:viele|liebe|beste)\s+grüsse
      | mfg|lg|vg|gruß|gruss
      | cordialement|bien\s+(?:à\s+vous|cordialement)|salutations(?:\s+distinguées)?
      | merci(?:\s+d'avance)?|bonne\s+journée
      | (?:un\s+)?saludos?(?:\s+cordiales)?|atentamente|gracias(?:\s+de\s+antemano)?|un\s+abrazo
      | met\s+vriendelijke\s+groet(?:en)?|vriendelijke\s+groet(?:en)?|groet(?:en|jes)?
      | alvast\s+bedankt|mvg
      | cordiali\s+saluti|distinti\s+saluti|saluti|grazie(?:\s+mille)?|un\s+saluto
    )\s*[,.!]*\s*$""",
    re.I | re.M | re.X,
)
_QUOTED_LINE = re.compile(r"^\s*>.*$", re.M)
_BLANKS = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t\u00a0]+")
# Combining marks left by NFKD decomposition (accents on Latin letters: é → e + U+0301).
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def latest_message(body: str) -> str:
    """The newest part of an email body: quoted thread, mail-client footer and signature removed.

    Closing formulas ("Best regards", "Mit freundlichen Grüßen") only cut when something came
    before them, so a one-line "Thanks!" still says thanks.
    """
    return split_email(body)[0]


def split_email(body: str) -> tuple[str, str]:
    """(latest message, quoted part) of an email body, in one pass: ``latest_message(body)`` and
    ``quoted_part(body)`` together, for readers that need both."""
    text = (
        (body or "").replace("\r\n", "\n").replace("\r", "\n")
        if "\r" in (body or "")
        else (body or "")
    )
    quote = (
        _first(_QUOTE_START, text) if "\n" in text else None
    )  # a match at the very start is not cut
    quoted = ""
    if quote and quote.start() > 0:
        quoted = text[quote.start() :]
        text = text[: quote.start()]
    if ">" in text:
        found = list(_line_matches(_QUOTED_LINE, text))
        lines = "\n".join(m.group(0) for m in found)
        quoted = f"{quoted}\n{lines}".strip() if lines else quoted.strip()
        kept, at = [], 0
        for m in found:
            kept.append(text[at : m.start()])
            at = m.end()
        text = "".join(kept) + text[at:]
    else:
        quoted = quoted.strip()
    return _latest(text), quoted


def _line_matches(pattern: re.Pattern[str], text: str):
    """Exactly ``pattern.finditer(text)`` for a pattern that starts with ``^`` (multi-line), but
    trying only the starts of lines instead of every character of a long email."""
    start, end = 0, 0
    while True:
        if start >= end:
            m = pattern.match(text, start)
            if m:
                yield m
                end = max(m.end(), start + 1)
        newline = text.find("\n", start)
        if newline == -1:
            return
        start = newline + 1


def _first(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    return next(_line_matches(pattern, text), None)


def _latest(text: str) -> str:
    sig = _first(_SIGNATURE_START, text)
    if sig and sig.start() > 0:
        text = text[: sig.start()]
    for closing in _line_matches(_CLOSING, text):
        if len(text[: closing.start()].strip()) >= 15:
            text = text[: closing.start()]
            break
    if "  " in text or "\t" in text or "\u00a0" in text:  # single spaces stay as they are
        text = _SPACES.sub(" ", text)
    if "\n\n\n" in text:
        text = _BLANKS.sub("\n\n", text)
    return text.strip()


def quoted_part(body: str) -> str:
    """The quoted earlier messages of an email body ("" when there are none)."""
    return split_email(body)[1]


def strip_accents(text: str) -> str:
    """ "Grüße" → "Gruße", "résumé" → "resume": customers type with and without accents."""
    if text.isascii():
        return text
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text))


def message_text(subject: str, body: str) -> str:
    """Subject and latest message as one string (subject first, as an agent reads it)."""
    subject = (subject or "").strip()
    latest = latest_message(body)
    return f"{subject}\n{latest}" if subject else latest
