"""Card numbers in every layout people (and copy-paste) produce are redacted.

Each layout below is a way a card number reached the redactor in a ticket: separators, scripts,
invisible characters, wrappers, quoted replies and HTML. Every layout is tried with several
cards (Visa 16 and 13, Mastercard, American Express 4-6-5, Discover, JCB 19) and after each
redaction the output is scanned the strict way (``surviving_cards``): the same normalisation as
the redactor, then EVERY group-aligned 13–19 digit window between letters, whatever the gap or
the grouping, must fail the Luhn check.

Measure any redactor (e.g. the one before this change) with:

    git show HEAD~1:connector/classify/redact.py > /tmp/redact_old.py
    .venv/bin/python tests/security/test_sec_redaction_layouts.py /tmp/redact_old.py
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from connector.classify.redact import Redactor, redact
from connector.logs import card_skeleton, luhn_valid, mask_cards

CARDS = (
    "4111111111111111",  # Visa 16
    "4222222222222",  # Visa 13
    "5555555555554444",  # Mastercard
    "378282246310005",  # American Express (4-6-5)
    "6011000990139424",  # Discover
    "3566000020000410",  # JCB
    "4000056655665556000",  # 19 digits (Luhn-completed below)
)


def _complete(prefix: str) -> str:
    return next(prefix + str(d) for d in range(10) if luhn_valid(prefix + str(d)))


CARDS = tuple(c if luhn_valid(c) else _complete(c[:-1]) for c in CARDS)


def groups(pan: str) -> list[str]:
    """The card's own grouping: 4-6-5 for American Express, 4-4-4-… otherwise."""
    if len(pan) == 15 and pan[:2] in ("34", "37"):
        return [pan[:4], pan[4:10], pan[10:]]
    return [pan[i : i + 4] for i in range(0, len(pan), 4)]


def script(digits: str, zero: int) -> str:
    """The same digits in another script (``zero``: the code point of its digit zero)."""
    return "".join(chr(zero + int(d)) if d.isdigit() else d for d in digits)


def joined(sep: str) -> Callable[[str], str]:
    return lambda pan: sep.join(groups(pan))


def scripted(zero: int, sep: str = " ") -> Callable[[str], str]:
    return lambda pan: script(sep.join(groups(pan)), zero)


def each_digit(mark: str) -> Callable[[str], str]:
    return lambda pan: mark.join(pan)


LAYOUTS: dict[str, Callable[[str], str]] = {
    # the ordinary ones
    "unbroken": lambda pan: pan,
    "single spaces": joined(" "),
    "dashes": joined("-"),
    "dots": joined("."),
    "two spaces": joined("  "),
    "no-break spaces": joined("\u00a0"),
    "spaced dash": joined(" - "),
    "en dash": joined("\u2013"),
    "glued to a word": lambda pan: "Visa" + pan,
    "in parentheses": lambda pan: "(" + " ".join(groups(pan)) + ")",
    "on its own line": lambda pan: "card:\n" + " ".join(groups(pan)) + "\nthanks",
    # separators beyond spaces, dashes and dots
    "tabs": joined("\t"),
    "three spaces": joined("   "),
    "eight spaces": joined("        "),
    "underscores": joined("_"),
    "slashes": joined("/"),
    "spaced slashes": joined(" / "),
    "commas": joined(","),
    "commas and spaces": joined(", "),
    "pipes": joined("|"),
    "spaced pipes": joined(" | "),
    "plus signs": joined("+"),
    "colons": joined(":"),
    "semicolons": joined(";"),
    "each group in parentheses": lambda pan: "".join(f"({g})" for g in groups(pan)),
    "each group in brackets": lambda pan: " ".join(f"[{g}]" for g in groups(pan)),
    "each group quoted": lambda pan: " ".join(f"'{g}'" for g in groups(pan)),
    "em dash": joined("\u2014"),
    "spaced em dash": joined(" \u2014 "),
    "middle dots": joined("\u00b7"),
    "bullets": joined(" \u2022 "),
    "asterisks": joined("*"),
    "backslashes": joined("\\"),
    "line breaks": joined("\n"),
    "mixed separators": lambda pan: "".join(
        g + ("-", " ", ".", "/", "|")[i % 5] for i, g in enumerate(groups(pan))
    ).rstrip("-. /|"),
    # invisible characters
    "zero-width space between groups": joined("\u200b"),
    "zero-width space between digits": each_digit("\u200b"),
    "zero-width joiners and non-joiners": each_digit("\u200d\u200c"),
    "word joiner and soft hyphen": joined("\u2060\u00ad"),
    "direction marks": each_digit("\u200e\u200f"),
    "byte order marks": joined("\ufeff"),
    "combining marks on digits": each_digit("\u0301"),
    # other spaces
    "thin spaces": joined("\u2009"),
    "figure spaces": joined("\u2007"),
    "ideographic spaces": joined("\u3000"),
    "narrow no-break spaces": joined("\u202f"),
    "em spaces": joined("\u2003"),
    # other scripts
    "full-width digits": scripted(0xFF10),
    "full-width digits and hyphens": scripted(0xFF10, "\uff0d"),
    "Arabic-Indic digits": scripted(0x0660),
    "Eastern Arabic-Indic digits": scripted(0x06F0),
    "Devanagari digits": scripted(0x0966),
    "Bengali digits": scripted(0x09E6),
    "Thai digits": scripted(0x0E50),
    "mathematical bold digits": scripted(0x1D7CE),
    "mixed scripts": lambda pan: "".join(
        script(d, (0x30, 0x0660, 0xFF10, 0x0966)[i % 4]) for i, d in enumerate(pan)
    ),
    # wrappers: quoted replies, markdown, HTML
    "wrapped in a quoted reply": lambda pan: (
        "> my card is " + " ".join(groups(pan)[:2]) + "\n> " + " ".join(groups(pan)[2:])
    ),
    "wrapped in a twice-quoted reply": lambda pan: (
        "> > card " + " ".join(groups(pan)[:2]) + "\n> > " + " ".join(groups(pan)[2:])
    ),
    "markdown bold groups": lambda pan: " ".join(f"**{g}**" for g in groups(pan)),
    "markdown code": lambda pan: "`" + " ".join(groups(pan)) + "`",
    "HTML tags around groups": lambda pan: " ".join(f"<b>{g}</b>" for g in groups(pan)),
    "HTML tags between groups": joined("<br>"),
    "HTML table cells": lambda pan: "<tr>" + "".join(f"<td>{g}</td>" for g in groups(pan)),
    "HTML spans with attributes": lambda pan: "".join(
        f'<span class="g{i}">{g}</span>' for i, g in enumerate(groups(pan))
    ),
    "HTML no-break space entities": joined("&nbsp;"),
    "HTML numeric entities between groups": joined("&#8203;"),
    "HTML hex entities between digits": each_digit("&#x200B;"),
    "HTML digits as entities": lambda pan: "".join(f"&#{ord(d)};" for d in pan),
    "HTML dash entities": joined(" &ndash; "),
}


def surviving_cards(text: str) -> list[str]:
    """Every Luhn-valid 13–19 digit window (made of whole digit groups) left in ``text``, read
    after the redactor's normalisation, across ANY gap that holds no letter."""
    skeleton = card_skeleton(text).replace("z", "")
    found = []
    for chunk in re.split(r"a+", skeleton):
        digit_groups = re.findall(r"[0-9]+", chunk)
        for i in range(len(digit_groups)):
            digits = ""
            for group in digit_groups[i:]:
                digits += group
                if len(digits) > 19:
                    break
                if len(digits) >= 13 and digits[0] in "123456" and luhn_valid(digits):
                    found.append(digits)
    return found


def holds(text: str, pan: str) -> bool:
    """The card's digits stand in a row in ``text`` (any layout, any gap without a letter)."""
    skeleton = card_skeleton(text).replace("z", "")
    return any(pan in "".join(re.findall(r"[0-9]+", chunk)) for chunk in re.split(r"a+", skeleton))


def leaks(redacted: str, pan: str) -> bool:
    return bool(surviving_cards(redacted)) or holds(redacted, pan)


CASES = [(name, pan) for name in LAYOUTS for pan in CARDS]


def test_there_are_at_least_41_layouts_and_the_checker_sees_every_raw_card():
    assert len(LAYOUTS) >= 41
    raw_missed = [(n, p) for n, p in CASES if not leaks(f"Hi, {LAYOUTS[n](p)} ok", p)]
    assert raw_missed == []  # a checker that cannot see the raw card would prove nothing


@pytest.mark.parametrize(("layout", "pan"), CASES, ids=[f"{n}-{p[:4]}" for n, p in CASES])
def test_card_in_this_layout_is_redacted(layout, pan):
    text = f"Hi, please refund {LAYOUTS[layout](pan)} thank you"
    out = redact(text).text
    assert not leaks(out, pan), out
    assert "[CARD_1]" in out


@pytest.mark.parametrize(("layout", "pan"), CASES[::7], ids=[f"{n}-{p[:4]}" for n, p in CASES[::7]])
def test_log_lines_mask_the_card_in_this_layout(layout, pan):
    out = mask_cards(f"job.failed error=bad ticket {LAYOUTS[layout](pan)}")
    assert not leaks(out, pan) and "[CARD]" in out


def test_the_placeholder_is_the_same_for_one_card_in_every_layout():
    redactor = Redactor()
    outs = {redactor.redact(LAYOUTS[name](CARDS[0])) for name in LAYOUTS}
    assert set(redactor.placeholders) == {"[CARD_1]"}
    assert all("[CARD_1]" in out for out in outs)


def measure(redact_text: Callable[[str], str]) -> dict[str, object]:
    """Layouts tried and leaked (a layout leaks when any of the cards leaks in it)."""
    leaked_cases = [
        (name, pan)
        for name, pan in CASES
        if leaks(redact_text(f"Hi, please refund {LAYOUTS[name](pan)} thank you"), pan)
    ]
    leaked_layouts = sorted({name for name, _ in leaked_cases})
    return {
        "layouts_tried": len(LAYOUTS),
        "layouts_leaked": len(leaked_layouts),
        "cases_tried": len(CASES),
        "cases_leaked": len(leaked_cases),
        "leaked": leaked_layouts,
    }


if __name__ == "__main__":  # measure another redactor module: python this_file.py PATH
    import importlib.util
    import json

    path = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    if path is None:
        result = measure(lambda text: redact(text).text)
    else:
        spec = importlib.util.spec_from_file_location("redact_under_test", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["redact_under_test"] = module
        spec.loader.exec_module(module)
        result = measure(lambda text: module.redact(text).text)
    print(json.dumps({"redactor": str(path or "connector/classify/redact.py"), **result}, indent=2))
