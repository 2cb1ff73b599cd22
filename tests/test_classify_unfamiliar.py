"""Honest confidence on text nobody on the team trained on: off-topic questions, chat fragments
without an ask, other varieties of English, code-switching; the evidence the confidence is
calibrated on; the off-topic figures of ``deskguard eval``; language from lingua.

The data sets here were written by the team (``"source": "team-written"`` on every line):
``tests/data/chat_like.jsonl`` (short chat lines, held out: never trained or calibrated on) and
``tests/data/lang_phrases.jsonl`` (17 languages, short phrases and sentences)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from connector.classify import train
from connector.classify.evaluate import Outcome, abstention, by_group, evaluate
from connector.classify.local import (
    BASE_INPUTS,
    CALIBRATION_INPUTS,
    LocalClassifier,
    calibration_features,
    pair_fingerprints,
)
from connector.classify.signals import detect_language
from connector.classify.signals.language import (
    CONFIRM_SHARE,
    MAX_TEXT,
    SHORT_TEXT,
    STORE_LANGUAGES,
    _Detectors,
    _keeps_share,
    library_language,
    stopword_language,
)
from connector.classify.train import read_jsonl
from connector.domain import CATEGORIES, TicketText

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def model() -> LocalClassifier:
    return LocalClassifier.load(None)


def _lines(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines()]


# --- the team-written sets ------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    ["chat_like.jsonl", "lang_phrases.jsonl", "ridgeline_history.jsonl", "ridgeline_new.jsonl"],
)
def test_the_team_written_sets_say_so_and_are_never_trained_or_calibrated_on(name):
    rows = _lines(name)
    assert rows and all(r["source"] == "team-written" for r in rows)
    bodies = {r["body"].strip().lower() for r in rows}
    packaged = train.packaged_examples() + train.dev_examples()
    assert not bodies & {ex.body.strip().lower() for ex in packaged}


def test_the_language_set_covers_the_store_languages_with_short_phrases():
    rows = _lines("lang_phrases.jsonl")
    per_lang = defaultdict(list)
    for r in rows:
        per_lang[r["lang"]].append(r["body"])
    assert set(per_lang) == set(STORE_LANGUAGES)
    for bodies in per_lang.values():
        assert sum(len(b.split()) <= 4 for b in bodies) >= 3  # short phrases in every language


# --- language ---------------------------------------------------------------------------------
def test_language_comes_from_lingua_and_beats_the_stop_word_profiles():
    rows = _lines("lang_phrases.jsonl")
    found = [detect_language(r["body"]) for r in rows]
    old = [stopword_language(r["body"]) for r in rows]
    right = [f == r["lang"] for f, r in zip(found, rows, strict=True)]
    assert sum(right) / len(rows) >= 0.9, sum(right)
    assert sum(right) > sum(o == r["lang"] for o, r in zip(old, rows, strict=True)) + 20
    per_lang = defaultdict(list)
    for ok, r in zip(right, rows, strict=True):
        per_lang[r["lang"]].append(ok)
    assert all(sum(v) / len(v) >= 0.75 for v in per_lang.values()), per_lang


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("refund pls", "en"),
        ("cancel it", "en"),
        ("Balík dorazil poškozený", "cs"),
        ("Coletul a ajuns deteriorat", "ro"),
        ("A csomag sérülten érkezett", "hu"),
        ("Привет, где мой заказ?", "ru"),  # by script
        ("12345 !!!", "en"),  # nothing to go on: the default
        ("", "en"),
    ],
)
def test_language_of_short_text(text, lang):
    assert detect_language(text) == lang


@pytest.mark.parametrize(
    ("text", "first_reading"),
    [  # informal English of 61-120 characters that lingua's trigram models read as another language
        ("i want to stop my polish drop. not skip, STOP. no more boxes thx", "fr"),
        ("typo in my postcode, it should be EH7 4QL not EH7 4QK. order 71240", "nl"),
        ("can i stop the order i put in 20 mins ago? changed my mind sorry", "da"),
    ],
)
def test_longer_english_read_as_another_language_gets_a_second_reading(text, first_reading):
    assert len(text) > SHORT_TEXT
    assert library_language(text, confirm_share=None) == first_reading  # the trigram models alone
    assert library_language(text) == "en"  # the high-accuracy models, then the English rule


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Hallo, meine Bestellung ist seit zwei Wochen unterwegs, wann kommt sie an?", "de"),
        ("Bonjour, je voudrais annuler ma commande car elle n'est toujours pas expédiée.", "fr"),
        ("Hoi, ik wil graag mijn bestelling annuleren, hij is nog niet verzonden toch?", "nl"),
    ],
)
def test_a_foreign_longer_text_needs_no_second_reading(text, lang):
    _, fast = _Detectors.get()
    head = text[:MAX_TEXT]
    assert len(text) > SHORT_TEXT
    assert not _keeps_share(fast.compute_language_confidence_values(head), "en", CONFIRM_SHARE)
    assert library_language(text) == lang


def test_a_reading_reports_the_detected_language(model):
    reading = model.classify(TicketText("", "Paczka przyszła uszkodzona, a kubek jest pęknięty."))
    assert reading.language == "pl"


# --- the evidence confidence is calibrated on --------------------------------------------------
def test_the_calibrator_weighs_word_pairs_and_evidence_beyond_one_word(model):
    assert len(BASE_INPUTS) == 7
    assert len(CALIBRATION_INPUTS) == len(BASE_INPUTS) + len(CATEGORIES)
    assert len(model.calibrator) == len(CALIBRATION_INPUTS)
    assert len(model.known_pairs) > 10_000  # word pairs seen in training ship with the model


def test_known_word_pairs_measure_distance_from_training(model):
    _, usual = model.calibration_inputs("", "I would like to cancel my order please")
    _, shuffled = model.calibration_inputs("", "order please cancel like would my I to")
    assert usual.pair_ratio > shuffled.pair_ratio
    assert usual.known_ratio == shuffled.known_ratio  # the same words: only the pairs differ


def test_a_reading_that_hangs_on_one_word_loses_its_margin_without_it(model):
    logits, evidence = model.calibration_inputs("", "refund")
    top = int(np.argmax(logits))
    rest = np.delete(evidence.loo_logits, top)
    assert evidence.loo_logits[top] - rest.max() < logits[top] - np.delete(logits, top).max()


def test_pair_fingerprints_are_stable_and_order_sensitive():
    a = pair_fingerprints(np.array([1, 2, 3], np.uint64))
    b = pair_fingerprints(np.array([3, 2, 1], np.uint64))
    assert a.dtype == np.uint32 and len(a) == 2 and set(a) != set(b)
    assert len(pair_fingerprints(np.array([7], np.uint64))) == 0


def test_a_model_without_word_pairs_still_reads(model):
    older = LocalClassifier(
        {**model.meta, "calibrator": model.calibrator[:5].tolist()},
        model.weights,
        model.bias,
        np.array(sorted(model.known_words), np.uint32),
    )
    reading = older.classify(TicketText("", "where is my order #1001?"))
    assert reading.category == "order_status"
    assert older.score("", "where is my order").pair_ratio == 0.0


def test_calibration_rows_of_older_callers_still_fit():
    rows = train.CalibrationRows(
        np.array([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]]),
        np.array([0, 0, 0]),
        np.array([[1.0, 3], [1.0, 3], [0.5, 1]]),
        np.ones(3),
    )
    both = train.CalibrationRows.concat([rows, rows])
    assert len(both) == 6 and both.pairs is not None and both.pairs.shape == (6,)
    feats, correct = train.calibration_matrix(both, 1.0)
    # the base inputs, then one per category of these two-category rows
    assert feats.shape == (6, len(BASE_INPUTS) + 2) and correct.tolist() == [1, 0, 1] * 2
    assert feats[:, len(BASE_INPUTS) :].tolist() == [[1, 0], [0, 1], [1, 0]] * 2


# --- per-category calibration -------------------------------------------------------------------
def test_the_calibrator_has_an_intercept_per_top_category():
    probs = np.array([0.1, 0.7, 0.2])
    feats = calibration_features(probs, 0.9, 5, 0.5)
    assert feats[len(BASE_INPUTS) :].tolist() == [0.0, 1.0, 0.0]


def test_the_shipped_calibration_lowers_some_categories_and_raises_none(model):
    offsets = model.calibrator[len(BASE_INPUTS) :]
    assert len(offsets) == len(model.categories)
    assert (offsets <= 0).all() and offsets.min() < -0.1


def test_a_category_intercept_changes_that_categorys_confidence_only(model):
    lowered = model.calibrator.copy()
    lowered[len(BASE_INPUTS) + model.categories.index("refund")] -= 2.0
    changed = LocalClassifier(
        {**model.meta, "calibrator": lowered.tolist()},
        model.weights,
        model.bias,
        np.array(sorted(model.known_words), np.uint32),
        known_pairs=model.known_pairs,
    )
    refund = "I returned the jacket two weeks ago and still have not had my money back"
    status = "Where is my order #1001? It was supposed to arrive on Monday"
    assert model.score("", refund).category == "refund"
    assert changed.score("", refund).confidence < model.score("", refund).confidence
    assert changed.score("", status).confidence == pytest.approx(model.score("", status).confidence)


def test_a_calibrator_from_before_the_category_inputs_reads_as_it_did(model):
    older_meta = {**model.meta, "calibrator": model.calibrator[: len(BASE_INPUTS)].tolist()}
    older = LocalClassifier(
        older_meta,
        model.weights,
        model.bias,
        np.array(sorted(model.known_words), np.uint32),
        known_pairs=model.known_pairs,
    )
    assert older.calibrator[len(BASE_INPUTS) :].tolist() == [0.0] * len(model.categories)
    scored = older.score("", "can I still cancel order #1001?")
    logit = float(scored.calibration_features[: len(BASE_INPUTS)] @ older.calibrator[:7])
    assert scored.confidence == pytest.approx(min(1 / (1 + np.exp(-logit)), 1.0))


def test_a_category_whose_confident_readings_are_often_wrong_gets_a_lower_offset():
    """From scratch, the shared inputs are fitted first, then per-category offsets on top: a
    category that is often wrong although confident is lowered; one that does well is not raised
    (``train.category_offsets``)."""
    rng = np.random.default_rng(3)
    n = 400
    truth = rng.integers(0, 2, n)
    # Always equally sure of the top category, but 40 % of category 0's tickets are read as 1:
    # readings of 0 are always right, readings of 1 often wrong.
    read = np.where((truth == 0) & (rng.random(n) < 0.4), 1, truth)
    logits = np.zeros((n, 2))
    logits[np.arange(n), read] = 3.0
    rows = train.CalibrationRows(logits, truth, np.tile([1.0, 5], (n, 1)), np.ones(n))
    temperature, coef = train.calibrate_from_rows(rows)
    n_base = len(BASE_INPUTS)
    assert coef[n_base + 1] < -0.1 and coef[n_base] == 0.0
    feats, correct = train.calibration_matrix(rows, temperature)
    shared = 1 / (1 + np.exp(-(feats[:, :n_base] @ coef[:n_base])))
    final = 1 / (1 + np.exp(-(feats @ coef)))
    assert (final <= shared + 1e-12).all()  # no reading became more confident
    # the lowered category is now closer to its hit rate
    top1 = feats[:, n_base + 1] == 1
    assert abs(final[top1].mean() - correct[top1].mean()) < abs(
        shared[top1].mean() - correct[top1].mean()
    )


# --- what eval reports --------------------------------------------------------------------------
def test_eval_counts_off_topic_text_read_confidently_as_a_store_category():
    outcomes = [
        Outcome("1", "other", "order_status", 0.95),  # the failure
        Outcome("2", "other", "order_status", 0.6),  # unsure: not counted
        Outcome("3", "other", "other", 0.99),
        Outcome("4", "order_status", "order_status", 0.97),
        Outcome("5", "payment_billing", "other", 0.4),
    ]
    figures = abstention(outcomes)
    assert figures["off_topic_tickets"] == 3 and figures["off_topic_read_confident"] == 1
    assert figures["off_topic_read_confident_share"] == pytest.approx(1 / 3, abs=1e-4)
    assert figures["in_scope_tickets"] == 2 and figures["in_scope_recall"] == 0.5
    assert evaluate(outcomes)["off_topic_read_confident"] == 1
    groups = by_group(outcomes, ["a", "a", "b", "b", "b"], detected=["a", "x", "b", "b", "b"])
    assert groups["a"]["off_topic_read_confident"] == 1 and groups["a"]["language_accuracy"] == 0.5
    assert groups["b"]["in_scope_recall"] == 0.5 and groups["b"]["language_accuracy"] == 1.0


# --- the shipped model on team-written chat lines it never saw -----------------------------------
@pytest.fixture(scope="module")
def chat_outcomes(model) -> list[Outcome]:
    return [
        Outcome(ex.id, ex.label, r.category, r.confidence)
        for ex in read_jsonl(DATA / "chat_like.jsonl")
        for r in [model.classify(TicketText(ex.subject, ex.body, ex.id))]
    ]


def test_chat_fragments_without_an_ask_are_not_read_confidently_as_a_store_category(
    chat_outcomes,
):
    report = evaluate(chat_outcomes)
    assert report["off_topic_tickets"] >= 30
    assert report["off_topic_read_confident_share"] <= 0.05, report["off_topic_read_confident"]


def test_confident_readings_of_chat_lines_are_right(chat_outcomes):
    report = evaluate(chat_outcomes)
    at_90 = next(row for row in report["at_threshold"] if row["threshold"] == 0.9)
    assert at_90["precision"] >= 0.95 and at_90["coverage"] >= 0.15, at_90
    assert report["macro_f1"] >= 0.5
