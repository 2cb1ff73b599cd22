"""The shipped local model: it loads, reads tickets, is right when it is confident, and knows what
it does not know. Every figure is computed here from the real shipped model and the hand-written
evaluation set (tests/data/eval_tickets.jsonl), never hard-coded."""

from __future__ import annotations

import json
import os
import random
import shutil
import string
import time
from collections import Counter
from pathlib import Path

import pytest

from connector.classify.evaluate import Outcome, evaluate
from connector.classify.local import LocalClassifier, default_model_dir
from connector.classify.train import read_jsonl
from connector.domain import CATEGORIES, Reading, TicketText
from connector.errors import ConfigError

DATA = Path(__file__).parent / "data"
EVAL_SET = DATA / "eval_tickets.jsonl"


@pytest.fixture(scope="module")
def model() -> LocalClassifier:
    return LocalClassifier.load(None)


@pytest.fixture(scope="module")
def eval_outcomes(model) -> list[Outcome]:
    tickets = read_jsonl(EVAL_SET)
    return [
        Outcome(ex.id, ex.label, r.category, r.confidence)
        for ex in tickets
        for r in [model.classify(TicketText(ex.subject, ex.body, ex.id))]
    ]


def test_the_shipped_model_is_package_data_and_small():
    folder = default_model_dir()
    assert (folder / "model.json").is_file() and (folder / "weights.npz").is_file()
    size = sum(p.stat().st_size for p in folder.iterdir())
    assert size <= 20 * 1024 * 1024
    meta = json.loads((folder / "model.json").read_text())
    assert tuple(meta["categories"]) == CATEGORIES
    assert "Bitext" in " ".join(meta["training"]["sources"]) and "Banking77" in " ".join(
        meta["training"]["sources"]
    )


def test_loading_is_fast_enough_to_do_at_startup():
    # The spec target is < 1 s (measured by `deskguard bench local`); this is only a generous bound.
    started = time.perf_counter()
    LocalClassifier.from_dir(default_model_dir())
    assert time.perf_counter() - started < 5.0


def test_load_shares_one_instance_per_directory(model):
    assert LocalClassifier.load(None) is model
    assert LocalClassifier.load(str(default_model_dir())) is model


def test_load_picks_up_a_model_retrained_into_the_same_directory(tmp_path, model):
    copy = tmp_path / "m"
    shutil.copytree(default_model_dir(), copy)
    first = LocalClassifier.load(copy)
    assert LocalClassifier.load(copy) is first
    meta = json.loads((copy / "model.json").read_text())
    (copy / "model.json").write_text(json.dumps({**meta, "model_id": "retrained-1"}))
    os.utime(copy / "model.json", ns=(1, 10**18))  # a different mtime even on coarse clocks
    again = LocalClassifier.load(copy)
    assert again is not first and again.model_id == "retrained-1"


def test_a_missing_model_dir_is_a_clear_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no local model"):
        LocalClassifier.load(tmp_path / "nothing-here")


def test_a_reading_has_the_full_schema(model):
    reading = model.classify(
        TicketText(
            subject="Where is my order #1001?",
            body="Hi, I ordered a lamp last week and the tracking still shows nothing. "
            "Can you check? "
            "Reach me at anna@example.com. Thanks, Anna",
            id="t1",
        )
    )
    assert isinstance(reading, Reading)
    assert reading.category == "order_status"
    assert 0.0 <= reading.confidence <= 1.0
    assert len(reading.alternatives) == 3 and reading.alternatives[0][0] == reading.category
    assert all(c in CATEGORIES for c, _ in reading.alternatives)
    assert [s for _, s in reading.alternatives] == sorted(
        (s for _, s in reading.alternatives), reverse=True
    )
    assert reading.entities.order_numbers == ("#1001",) and reading.entities.emails == (
        "anna@example.com",
    )
    assert reading.language == "en" and reading.sentiment in ("negative", "neutral", "positive")
    assert reading.urgency in ("low", "normal", "high", "urgent")
    assert reading.engine == "local" and reading.model == model.model_id and reading.latency_ms > 0
    assert reading.reasons and reading.reasons[0].startswith("key words:")


@pytest.mark.parametrize(
    "subject, body, category",
    [
        (
            "Stornierung",
            "Hallo, bitte stornieren Sie meine Bestellung 4521, ich habe mich vertan. Danke",
            "cancel_order",
        ),
        (
            "Remboursement",
            "Bonjour, j'ai renvoyé le colis il y a deux semaines et je n'ai pas été remboursé.",
            "refund",
        ),
        (
            "Cambio de talla",
            "Hola, ¿puedo cambiar las zapatillas por una talla más grande?",
            "return_exchange",
        ),
        ("Wachtwoord", "Ik kan niet inloggen, mijn wachtwoord wordt niet geaccepteerd.", "account"),
        (
            "Codice sconto",
            "Il codice sconto della newsletter non funziona al checkout.",
            "promo_pricing",
        ),
    ],
)
def test_it_reads_the_six_languages(model, subject, body, category):
    assert model.classify(TicketText(subject, body)).category == category


def test_the_eval_set_is_realistic_and_complete():
    tickets = read_jsonl(EVAL_SET)
    assert len(tickets) >= 300
    assert set(Counter(ex.label for ex in tickets)) == set(CATEGORIES)
    assert {"en", "de", "fr", "es", "nl", "it"} <= {ex.lang for ex in tickets}
    assert sum(1 for ex in tickets if ex.subject) >= 300
    assert (
        sum(
            1
            for ex in tickets
            if "wrote:" in ex.body or "Original Message" in ex.body or "> " in ex.body
        )
        >= 5
    )


def test_the_eval_set_was_never_trained_or_calibrated_on():
    from connector.classify.train import dev_examples, packaged_examples

    training_bodies = {ex.body.strip().lower() for ex in packaged_examples()}
    calibration_bodies = {ex.body.strip().lower() for ex in dev_examples()}
    for path in (
        EVAL_SET,
        DATA / "store_new.jsonl",
        DATA / "stores_heldout.jsonl",
    ):  # the test sets
        bodies = {ex.body.strip().lower() for ex in read_jsonl(path)}
        assert not bodies & training_bodies, path
        assert not bodies & calibration_bodies, path
    assert not calibration_bodies & training_bodies  # the dev set is never trained on either


def test_the_dev_set_is_realistic_and_covers_every_category():
    from connector.classify.train import dev_examples

    tickets = dev_examples()
    assert len(tickets) >= 200
    assert set(Counter(ex.label for ex in tickets)) == set(CATEGORIES)
    assert {"en", "de", "fr", "es", "nl", "it"} <= {ex.lang for ex in tickets}
    assert sum(1 for ex in tickets if len(ex.body) >= 300) >= 10  # long emails and threads too
    meta = json.loads((default_model_dir() / "model.json").read_text())
    assert meta["training"]["dev_examples"] == len(
        tickets
    )  # the shipped model was calibrated on it


def test_confident_readings_are_right(eval_outcomes):
    report = evaluate(eval_outcomes)
    at_90 = next(row for row in report["at_threshold"] if row["threshold"] == 0.9)
    assert at_90["precision"] >= 0.95, at_90
    # A model that is never confident would pass the line above; it must also answer often.
    assert at_90["coverage"] >= 0.4, at_90


def test_confident_readings_are_right_for_stores_it_has_never_seen(model):
    """tests/data/stores_heldout.jsonl: ten stores, their own jargon, written apart from the
    training and dev tickets; never trained or calibrated on."""
    tickets = read_jsonl(DATA / "stores_heldout.jsonl")
    outcomes = [
        Outcome(ex.id, ex.label, r.category, r.confidence)
        for ex in tickets
        for r in [model.classify(TicketText(ex.subject, ex.body, ex.id))]
    ]
    report = evaluate(outcomes)
    at_90 = next(row for row in report["at_threshold"] if row["threshold"] == 0.9)
    assert report["tickets"] >= 300 and at_90["precision"] >= 0.95, at_90
    assert at_90["coverage"] >= 0.4, at_90
    assert report["expected_calibration_error"] <= 0.08, report["expected_calibration_error"]


def test_overall_quality_and_calibration_on_the_eval_set(eval_outcomes):
    report = evaluate(eval_outcomes)
    assert report["accuracy"] >= 0.8
    assert report["macro_f1"] >= 0.8
    assert report["expected_calibration_error"] <= 0.1


def _junk() -> list[tuple[str, str]]:
    rng = random.Random(20240601)
    gibberish = " ".join(
        "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 10)))
        for _ in range(40)
    )
    keyboard = "asdf jkl; qwerty uiop zxcv bnm,. 1234 5678 !!!! ????"
    return [
        ("", gibberish),
        ("", keyboard),
        (
            "Lorem ipsum",
            "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
            "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud.",
        ),
        (
            "bug",
            "import os\n\ndef main(argv):\n    for path in argv[1:]:\n        with open(path) as "
            "fh:\n"
            "            print(len(fh.read()))\n    return 0\n",
        ),
        (
            "",
            "SELECT customer_id, SUM(total) FROM payments GROUP BY customer_id HAVING SUM(total) > "
            "100;",
        ),
        (
            "Grandma's lemon cake",
            "Cream 200g butter with 200g caster sugar, beat in four eggs one at a time, fold in "
            "self-raising flour and the zest of two lemons. Bake at 180C for 45 minutes, then "
            "drizzle with lemon syrup while still warm.",
        ),
        ("", "The quick brown fox jumps over the lazy dog while the band plays jazz in the park."),
        ("", "Zażółć gęślą jaźń, pchnąć w tę łódź jeża lub ośm skrzyń fig."),
        ("", "Съешь же ещё этих мягких французских булок, да выпей чаю."),
        ("", "日本語のテキストです。これは顧客のメッセージではありません。"),
        ("", "<html><body><div class='x'><p>hello</p></div></body></html>"),
        ("", ""),
    ]


@pytest.mark.parametrize("subject, body", _junk())
def test_out_of_distribution_text_is_never_confidently_a_real_category(model, subject, body):
    reading = model.classify(TicketText(subject, body))
    assert reading.category == "other" or reading.confidence < 0.9, reading


def test_unfamiliar_text_abstains_to_other_and_says_why(model):
    reading = model.classify(
        TicketText("", "Zażółć gęślą jaźń, pchnąć w tę łódź jeża lub ośm skrzyń fig.")
    )
    assert reading.category == "other" and reading.confidence <= 0.5
    assert any("unfamiliar" in r for r in reading.reasons)


def test_a_store_signature_and_quoted_reply_do_not_change_the_category(model):
    plain = model.classify(
        TicketText("Refund", "I returned the jacket two weeks ago and have no refund yet.")
    )
    noisy = model.classify(
        TicketText(
            "Refund",
            "Hello,\n\nI returned the jacket two weeks ago and have no refund yet.\n\nKind "
            "regards,\nMaria Lopez\n"
            "Sent from my iPhone\n\nOn Tue, 4 Jun 2024, Shop <help@shop.example> wrote:\n"
            "> Would you like to change your delivery address or cancel your order?",
        )
    )
    assert plain.category == noisy.category == "refund"


def _without_vocabulary(path: Path, tmp_path: Path) -> Path:
    """A copy of a model directory whose weights.npz lacks the shipped word-table rows."""
    import numpy as np

    out = tmp_path / "plain"
    out.mkdir()
    shutil.copy(path / "model.json", out / "model.json")
    with np.load(path / "weights.npz") as data:
        np.savez(
            out / "weights.npz", **{k: data[k] for k in data.files if not k.startswith("vocab_")}
        )
    return out


def test_the_shipped_word_rows_give_exactly_the_readings_computed_on_the_fly(model, tmp_path):
    """The model ships precomputed rows for the words it was trained on (a fresh process reads
    familiar words as fast as a warm one); they must equal what the engine computes itself."""
    import numpy as np

    assert len(model._table.words) > 1000  # the shipped rows are in a freshly loaded table
    assert set(model.vocabulary_words) == set(model._table.words[: len(model.vocabulary_words)])
    plain = LocalClassifier.from_dir(_without_vocabulary(default_model_dir(), tmp_path))
    assert plain.model_id == model.model_id and len(plain._table.words) == 0
    shipped = LocalClassifier.from_dir(default_model_dir())
    for ex in read_jsonl(EVAL_SET)[:120]:
        fast, words = shipped.logits(ex.subject, ex.body)
        slow, same_words = plain.logits(ex.subject, ex.body)
        assert words == same_words
        assert np.array_equal(fast, slow), ex.id
        text = TicketText(ex.subject, ex.body, ex.id)
        a, b = shipped.classify(text), plain.classify(text)
        assert (a.category, a.confidence, a.alternatives, a.reasons) == (
            b.category,
            b.confidence,
            b.alternatives,
            b.reasons,
        )


def test_word_rows_that_do_not_line_up_are_refused_clearly(tmp_path):
    import numpy as np

    out = tmp_path / "broken"
    out.mkdir()
    shutil.copy(default_model_dir() / "model.json", out / "model.json")
    with np.load(default_model_dir() / "weights.npz") as data:
        arrays = {k: data[k] for k in data.files}
    arrays["vocab_sq"] = arrays["vocab_sq"][:-1]
    np.savez(out / "weights.npz", **arrays)
    with pytest.raises(ConfigError, match="vocabulary"):
        LocalClassifier.from_dir(out)


def test_code_and_markup_abstain_but_no_customer_message_is_taken_for_code(model):
    from connector.classify.local import code_share
    from connector.classify.text import split_email
    from connector.classify.train import dev_examples, packaged_examples

    log = (
        "ERROR [worker-3] payment_intent=pi_3Nx failed; "
        "retry={attempt: 2, delay_ms: 500} -> refund_queue"
    )
    reading = model.classify(TicketText("", log))
    assert reading.category == "other" and reading.confidence <= 0.5
    assert any("code or markup" in r for r in reading.reasons)
    limit = model.novelty.code_full_below
    written = [
        *packaged_examples(),
        *dev_examples(),
        *read_jsonl(EVAL_SET),
        *read_jsonl(DATA / "stores_heldout.jsonl"),
    ]
    assert len(written) > 3000
    for ex in written:  # every hand-written customer message is read without the code cap
        latest = split_email(ex.body)[0]
        words = sum(len(part) for part in model.featurizer.words(ex.subject, latest))
        assert code_share(f"{ex.subject}\n{latest}", words) <= limit, ex.id
    for subject, body in (
        ("Re: HaloCam [Ticket #88213]", "perfect thanks! 👍"),
        ("", "great service =) <3"),
    ):
        assert code_share(f"{subject}\n{body}", 4) == 0.0  # brackets and a smiley are not code


def test_a_full_word_table_starts_again_from_the_shipped_rows(monkeypatch):
    from connector.classify import local

    fresh = LocalClassifier.from_dir(default_model_dir())
    shipped = len(fresh._table.words)
    before = fresh.classify(TicketText("Where is my order?", "Order #1001, no tracking yet."))
    monkeypatch.setattr(local._WordTable, "LIMIT", 5)
    for i in range(10):  # new words until the table is full
        fresh.classify(TicketText("", f"zzqx{i} wqyv{i}"))
    after = fresh.classify(TicketText("Where is my order?", "Order #1001, no tracking yet."))
    assert len(fresh._table.words) < shipped + 10  # it was replaced ...
    assert len(fresh._table.words) >= shipped  # ... by a table that starts from the shipped rows
    assert (after.category, after.confidence) == (before.category, before.confidence)
