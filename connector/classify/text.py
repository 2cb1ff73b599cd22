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
        -{2,}\s*(?:original\s+message|forwarded\s+message|ursprüngliche\s+nachricht|weitergeleitete\s+nachricht
                  |message\s+d'origine|mensaje\s+original|oorspronkelijk\s+bericht|messaggio\s+originale)\s*-{2,}
      | (?:on|am|le|el|op|il)\b.{3,200}?\b(?:wrote|schrieb|a\s+écrit|escribió|schreef|ha\s+scritto)\s*:?\s*$
      | (?:from|von|de|van|da)\s*:\s*.+\s*$(?=[\s\S]*?^\s*(?:sent|gesendet|envoyé|enviado|verzonden|inviato)\s*:)
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
      | envoyé\s+de\s+mon\b.* | enviado\s+desde\s+mi\b.* | verstuurd\s+vanaf\s+mijn\b.* | inviato\s+da\b.*
    )$""",
    re.I | re.M | re.X,
)
# Closing formulas; the rest of the message after one is a signature (name, phone, address).
_CLOSING = re.compile(
    r"""^\s*(?:
        (?:best|kind|warm|many)?\s*(?:regards|wishes)|best|cheers|thanks(?:\s+again)?|thank\s+you|many\s+thanks
      | sincerely|yours\s+(?:sincerely|faithfully|truly)|all\s+the\s+best
      | mit\s+freundlichen\s+grüßen|mit\s+freundlichen\s+grüssen|(?:viele|liebe|beste)\s+grüße|(?:viele|liebe|beste)\s+grüsse
      | mfg|lg|vg|gruß|gruss
      | cordialement|bien\s+(?:à\s+vous|cordialement)|salutations(?:\s+distinguées)?|merci(?:\s+d'avance)?|bonne\s+journée
      | (?:un\s+)?saludos?(?:\s+cordiales)?|atentamente|gracias(?:\s+de\s+antemano)?|un\s+abrazo
      | met\s+vriendelijke\s+groet(?:en)?|vriendelijke\s+groet(?:en)?|groet(?:en|jes)?|alvast\s+bedankt|mvg
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
    text = (body or "").replace("\r\n", "\n").replace("\r", "\n")
    quote = _QUOTE_START.search(text)
    if quote and quote.start() > 0:
        text = text[: quote.start()]
    text = _QUOTED_LINE.sub("", text)
    sig = _SIGNATURE_START.search(text)
    if sig and sig.start() > 0:
        text = text[: sig.start()]
    for closing in _CLOSING.finditer(text):
        if len(text[: closing.start()].strip()) >= 15:
            text = text[: closing.start()]
            break
    text = _SPACES.sub(" ", text)
    return _BLANKS.sub("\n\n", text).strip()


def quoted_part(body: str) -> str:
    """The quoted earlier messages of an email body ("" when there are none)."""
    text = (body or "").replace("\r\n", "\n").replace("\r", "\n")
    quote = _QUOTE_START.search(text)
    quoted = text[quote.start():] if quote and quote.start() > 0 else ""
    lines = "\n".join(m.group(0) for m in _QUOTED_LINE.finditer(text[: quote.start()] if quoted else text))
    return f"{quoted}\n{lines}".strip()


def strip_accents(text: str) -> str:
    """"Grüße" → "Gruße", "résumé" → "resume": customers type with and without accents."""
    if text.isascii():
        return text
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text))


def message_text(subject: str, body: str) -> str:
    """Subject and latest message as one string (subject first, as an agent reads it)."""
    subject = (subject or "").strip()
    latest = latest_message(body)
    return f"{subject}\n{latest}" if subject else latest
