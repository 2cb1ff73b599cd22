"""Property: whatever layout a card number is written in, inside whatever text, no Luhn-valid
13–19 digit number survives redaction (nor the card's digits in a row).

Hypothesis builds the card (a brand's issuer prefix and length, or any 1–6 prefix and any length
from 13 to 19, Luhn-completed), writes it in a card grouping or an arbitrary one, with one or
mixed separators (spaces of every kind, punctuation, line breaks, quoted-reply markers, HTML tags
and entities), in one or mixed scripts, with invisible characters sprinkled in, wraps it
(markdown, HTML, "#", cue words) and embeds it in random text, optionally quoted as an email
reply. The output is checked with ``surviving_cards`` (test_sec_redaction_layouts.py): the
redactor's normalisation, then every group-aligned window across any gap without letters.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from test_sec_redaction_layouts import leaks, surviving_cards

from connector.classify.redact import Redactor, redact
from connector.logs import luhn_valid, mask_cards

BRANDS = (  # (issuer prefix, lengths)
    ("4", (13, 16, 19)),
    ("51", (16,)),
    ("55", (16,)),
    ("2221", (16,)),
    ("2720", (16,)),
    ("34", (15,)),
    ("37", (15,)),
    ("6011", (16, 19)),
    ("65", (16,)),
    ("3528", (16,)),
    ("36", (14,)),
    ("62", (16, 19)),
)
ZEROS = (0x30, 0x0660, 0x06F0, 0x0966, 0x09E6, 0x0E50, 0xFF10, 0x1D7CE)
INVISIBLE = (
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\u00ad",
    "\u200e",
    "\u200f",
    "\ufeff",
    "&#8203;",
    "\u0301",
)
# Plain separators: any grouping of the digits is allowed with these.
PLAIN = (" ", "  ", "-", ".", " - ", "\u00a0", "\u2009", "\u2007", "\u3000", "\u202f", "\u2013")
# Any other separator: the card keeps its own grouping (4-4-4-4…, 4-6-5, 4-6-4).
OTHER = (
    "\t",
    "\t\t",
    "   ",
    "      ",
    "_",
    "/",
    " / ",
    ",",
    ", ",
    "|",
    " | ",
    "+",
    ":",
    ";",
    ")(",
    "] [",
    "\u2014",
    " \u2014 ",
    "\u00b7",
    " \u2022 ",
    "*",
    "\n",
    "\n> ",
    "\n> > ",
    "\r\n",
    "<br>",
    "</b> <b>",
    "</td><td>",
    '</span><span class="x">',
    "&nbsp;",
    "&#x2009;",
    " &ndash; ",
    "\uff0d",
    "\uff0f",
)
BEFORE = (
    "",
    "card ",
    "Visa",
    "my card: ",
    "(",
    "**",
    "`",
    "<b>",
    "<td>",
    "> ",
    "Karte Nr. ",
    "order #1001 ",
    "#",
    "tracking ",
    "numéro: ",
    '"',
)
AFTER = ("", ".", ")", "**", "`", "</b>", "</td>", " exp 12/27", " please", '"', "\n> thanks")
WORDS = (
    "hi",
    "please",
    "refund",
    "my",
    "order",
    "was",
    "charged",
    "twice",
    "thanks",
    "bitte",
    "merci",
    "gracias",
    "Grüße",
    "شكرا",
    "धन्यवाद",
    "ありがとう",
    "the",
    "payment",
    "failed",
    "\n",
    "—",
    "!",
)


def luhn_complete(prefix: str) -> str:
    return next(prefix + str(d) for d in range(10) if luhn_valid(prefix + str(d)))


@st.composite
def pans(draw: st.DrawFn, brand: bool = False) -> str:
    if brand or draw(st.booleans()):
        prefix, lengths = draw(st.sampled_from(BRANDS))
        length = draw(st.sampled_from(lengths))
    else:
        prefix, length = str(draw(st.integers(1, 6))), draw(st.integers(13, 19))
    body = draw(st.text("0123456789", min_size=length, max_size=length))
    return luhn_complete((prefix + body)[: length - 1])


def card_grouping(pan: str) -> list[int]:
    if len(pan) == 15:
        return [4, 6, 5]
    if len(pan) == 14:
        return [4, 6, 4]
    return [4] * (len(pan) // 4) + ([len(pan) % 4] if len(pan) % 4 else [])


@st.composite
def layouts(draw: st.DrawFn, pan: str) -> str:
    plain = draw(st.booleans())
    if plain and draw(st.booleans()):  # any grouping
        sizes, left = [], len(pan)
        while left:
            sizes.append(min(left, draw(st.integers(1, 7))))
            left -= sizes[-1]
    else:
        sizes = draw(st.sampled_from([card_grouping(pan), [len(pan)]]))
    pool = PLAIN if plain else OTHER
    mixed = draw(st.booleans())
    one = draw(st.sampled_from(pool))
    zero = draw(st.sampled_from(ZEROS))
    mixed_scripts = draw(st.booleans())
    out, pos = [], 0
    for n, size in enumerate(sizes):
        group = ""
        for d in pan[pos : pos + size]:
            z = draw(st.sampled_from(ZEROS)) if mixed_scripts else zero
            group += chr(z + int(d))
            if draw(st.integers(0, 9)) == 0:
                group += draw(st.sampled_from(INVISIBLE))
        pos += size
        out.append(group)
        if n < len(sizes) - 1:
            out.append(draw(st.sampled_from(pool)) if mixed else one)
    return "".join(out)


@st.composite
def tickets(draw: st.DrawFn) -> tuple[str, str, str]:
    """(card, subject, body): the subject is the written card alone, the body holds it in text."""
    before_card = draw(st.sampled_from(BEFORE))
    # Right after "#" or a tracking cue only a brand-shaped number counts as a card (any other
    # Luhn-valid number there is read as an order or tracking number: see docs/classifier.md).
    pan = draw(pans(brand=before_card in ("#", "tracking ")))
    written = before_card + draw(layouts(pan)) + draw(st.sampled_from(AFTER))
    before = " ".join(draw(st.lists(st.sampled_from(WORDS), max_size=12)))
    after = " ".join(draw(st.lists(st.sampled_from(WORDS), max_size=12)))
    text = f"{before} {written} {after}"
    if draw(st.booleans()):  # quoted as an email reply
        text = "Thanks!\n\nOn Mon, Jane wrote:\n" + "\n".join("> " + ln for ln in text.split("\n"))
    return pan, written, text


@settings(max_examples=600, deadline=None)
@given(tickets())
def test_no_card_survives_redaction_in_any_layout(ticket):
    pan, subject, text = ticket
    assert leaks(text, pan)  # the checker sees the card before redaction
    redactor = Redactor()
    subject = redactor.redact(subject)
    body = redactor.redact(text)
    for out in (subject, body):
        assert not leaks(out, pan), (text, out)
        assert surviving_cards(out) == []


@settings(max_examples=300, deadline=None)
@given(tickets())
def test_no_card_survives_in_a_log_line(ticket):
    pan, _subject, text = ticket
    assert not leaks(mask_cards(text), pan)


@settings(max_examples=200, deadline=None)
@given(tickets(), tickets())
def test_two_cards_in_one_text_are_both_redacted(first, second):
    # more than 50 characters apart: a cue word before one card does not reach the other
    out = redact(
        f"{first[2]}\n\nand also, on another day, I wrote this to you again:\n\n{second[2]}"
    ).text
    assert not leaks(out, first[0]) and not leaks(out, second[0]) and not surviving_cards(out)
