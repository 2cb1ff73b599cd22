"""Shortcuts taken for speed on long messages read exactly as the code they replaced: each is
compared here with the straightforward version (figures in docs/BENCHMARKS.md, "local model";
every reading of the evaluation sets compared before and after with
``scripts/reading_identity.py``)."""

from __future__ import annotations

import math
import random
import re
from pathlib import Path

import numpy as np
import pytest

from connector.classify.local import (
    LOO_CLIP,
    LocalClassifier,
    Novelty,
    calibration_features,
    code_share,
)
from connector.classify.signals.language import _ANY_SCRIPT, _SCRIPTS
from connector.classify.signals.lexicon import LISTS, branches, by_first_letter
from connector.classify.text import strip_accents
from connector.classify.train import read_jsonl

TRAINING = Path(__file__).parent.parent / "connector" / "classify" / "trainingdata"


@pytest.fixture(scope="module")
def model() -> LocalClassifier:
    return LocalClassifier.load(None)


def test_the_one_pass_script_check_finds_exactly_the_scripts_of_the_list():
    for code in range(0x80, 0x10000):
        char = chr(code)
        assert (_ANY_SCRIPT.search(char) is not None) == any(
            script.search(char) for _, script in _SCRIPTS
        ), hex(code)


def _loo_input(z: np.ndarray, top: int, temperature: float) -> float:
    """The last base input as first written: with ``np.delete``."""
    scaled = np.asarray(z, np.float64) / temperature
    rest = np.delete(scaled, top)
    return float(min(max(scaled[top] - rest.max(), -LOO_CLIP), LOO_CLIP))


def test_the_margin_without_the_strongest_word_is_computed_as_before():
    rng = np.random.default_rng(5)
    for _ in range(2000):
        probs = rng.dirichlet(np.ones(14))
        loo = rng.normal(0, 4, 14)
        temperature = float(rng.uniform(0.3, 2.0))
        feats = calibration_features(probs, 0.8, 12, 0.5, loo, temperature)
        assert feats[6] == _loo_input(loo, int(np.argmax(probs)), temperature)
    # ties: the first of equal scores is the top, as before
    probs = np.full(14, 1 / 14)
    loo = np.zeros(14)
    assert calibration_features(probs, 0.8, 12, 0.5, loo, 1.0)[7] == 1.0


def test_the_runner_up_and_strongest_word_are_found_as_before(model):
    rng = np.random.default_rng(9)
    for _ in range(500):
        n = int(rng.integers(1, 40))
        logits = rng.normal(0, 1, 14)
        if rng.random() < 0.2:
            logits[3] = logits[5] = logits.max() + 1  # a tie for the top
        per_word = rng.normal(0, 1, (n, 14)).astype(np.float32)
        idx = rng.integers(0, 8, n)
        norm = float(rng.uniform(1, 10))
        got = model._without_strongest(logits, per_word, idx, norm)
        top = int(np.argmax(logits))
        runner = int(np.argmax(np.where(np.arange(len(logits)) == top, -np.inf, logits)))
        push = per_word[:, top].astype(np.float64) - per_word[:, runner]
        words, where = np.unique(idx, return_inverse=True)
        strongest = (
            np.ones(n, bool)
            if len(words) == 1
            else where == int(np.argmax(np.bincount(where, weights=push)))
        )
        expected = logits - per_word[strongest].sum(axis=0, dtype=np.float64) / norm
        assert np.array_equal(got, expected)


def test_word_rows_are_the_same_whether_every_word_is_known_or_not(model):
    table = model._table
    known = table.words[:50]
    fast = table.indices(known)  # every word has a row: the shortcut
    assert fast.dtype == np.intp and fast.tolist() == [table.rows[w] for w in known]
    mixed = [*known[:5], "zzqxnotaword", *known[5:10], "zzqxnotaword"]
    rows = table.indices(mixed)  # one new word: the slow path adds it
    assert rows.dtype == np.intp and rows.tolist() == [table.rows[w] for w in mixed]
    assert rows[5] == rows[11] == table.rows["zzqxnotaword"]


@pytest.mark.parametrize(
    ("ratio", "known", "codeish"),
    [(0.9, 10, 0.0), (0.5, 10, 0.0), (0.2, 10, 0.0), (0.9, 1, 0.0), (0.9, 10, 0.15), (0.9, 9, 0.5)],
)
def test_the_novelty_limit_is_the_cap_the_reading_applies(ratio, known, codeish):
    nov = Novelty()
    cap, abstained = nov.limit(ratio, known, codeish)
    expected = min(
        1.0, max(0.0, (ratio - nov.abstain_below) / (nov.full_above - nov.abstain_below))
    )
    if codeish > nov.code_full_below:
        expected = min(
            expected,
            max(
                0.0,
                (nov.code_abstain_above - codeish) / (nov.code_abstain_above - nov.code_full_below),
            ),
        )
    assert math.isclose(cap, expected, abs_tol=1e-12)
    assert abstained == (ratio < nov.abstain_below or known < nov.min_known_words or codeish >= 0.2)


def test_a_reading_applies_the_novelty_limit(model):
    text = "SELECT * FROM payments WHERE id = 1; UPDATE refunds SET x = 2; <div>{}</div>"
    scored = model.score("", text)
    cap, abstained = model.novelty.limit(
        scored.known_ratio,
        scored.known_words,
        code_share(f"\n{text}", len(scored.tokens), model.novelty.code_min_chars),
    )
    assert scored.abstained == abstained and scored.confidence <= max(cap, 0.5)


def test_the_grouped_word_list_gate_matches_exactly_the_words_the_plain_one_matches():
    """``_Lexicon._any`` (one alternation of every list's word and gate patterns, grouped by
    first letter) against the plain alternation it replaced, on every word of the training
    tickets, variants of the lists' own words and random strings."""
    parts = [f"(?:{p.pattern})" for wl in LISTS.lists.values() for p in (wl.word, wl.gate) if p]
    plain = re.compile("|".join(parts), re.I)
    words: set[str] = set()
    for path in sorted(TRAINING.glob("*.jsonl")):
        for ex in read_jsonl(path):
            words.update(re.findall(r"\w+", strip_accents(f"{ex.subject} {ex.body}".lower())))
    for branch in branches("|".join(parts)):
        letters = re.sub(r"[^a-z]", "", branch.lower())
        words.update({letters, letters + "s", letters[:-1], letters + "ed", letters.upper()})
    rng = random.Random(3)
    alphabet = "abcdefghijklmnopqrstuvwxyzäöüéèß0123456789_"
    words.update(
        "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(20_000)
    )
    assert LISTS._any is not None
    differ = [w for w in words if (plain.match(w) is None) != (LISTS._any.match(w) is None)]
    assert differ == []
    assert sum(plain.match(w) is not None for w in words) > 500  # the check has teeth


def test_branches_distribute_groups_and_keep_repeated_ones():
    # a group inside a branch stays as it is
    assert branches("(?:ab|c(?:d|e))f|g") == ["abf", "c(?:d|e)f", "g"]
    assert branches("(?:rechts)?anwalt|x[(]y") == ["(?:rechts)?anwalt", "x[(]y"]
    assert by_first_letter(["abc", "axe", "b", "\\bq"]) == "a(?:bc|xe)|b(?:)|\\bq"
    grouped = re.compile(by_first_letter(branches("(?:ab|c(?:d|e))f|g")), re.I)
    assert [bool(grouped.match(w)) for w in ("ABF", "cef", "cf", "g", "h")] == [
        True,
        True,
        False,
        True,
        False,
    ]


def test_reasons_from_the_shared_distinct_rows_are_the_reasons_computed_alone(model):
    from connector.classify.text import split_email

    checked = 0
    for path in sorted(TRAINING.glob("tickets_en*.jsonl")):
        for ex in read_jsonl(path)[:60]:
            scored, (idx, table, distinct), _ = model._score(ex.subject, split_email(ex.body)[0])
            assert np.array_equal(distinct, np.unique(idx))
            assert model._reasons(scored, idx, table, distinct) == model._reasons(
                scored, idx, table
            )
            checked += 1
    assert checked >= 60
