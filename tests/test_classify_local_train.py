"""Training: the reproducible default-model script on a tiny subset, the numpy optimiser and
calibration, and a tenant model trained on top of the shipped one."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from connector.classify import store_training, train
from connector.classify.evaluate import Outcome, evaluate
from connector.classify.features import FeatureConfig, Featurizer
from connector.classify.local import FORMAT_VERSION, LocalClassifier, default_model_dir
from connector.classify.train import Example, read_jsonl
from connector.domain import CATEGORIES, TicketText
from connector.errors import BadRequest, ConfigError

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"


def _load_script():
    spec = importlib.util.spec_from_file_location(
        "train_default_model", ROOT / "scripts" / "train_default_model.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_shared(tmp_path_factory) -> Path:
    """A stand-in for ../shared/datasets (not in the repo): a few short English utterances per
    category, in the same file format, written where the script expects them."""
    folder = tmp_path_factory.mktemp("shared")
    rows = [
        ex for ex in train.packaged_examples() if ex.lang == "en" and ex.source == "handwritten"
    ]
    per_label: dict[str, int] = {}
    with (folder / "bitext-train.jsonl").open("w", encoding="utf-8") as fh:
        for ex in rows:
            if per_label.get(ex.label, 0) < 6:
                per_label[ex.label] = per_label.get(ex.label, 0) + 1
                fh.write(
                    json.dumps(
                        {"id": f"s-{ex.id}", "subject": "", "body": ex.body, "label": ex.label}
                    )
                    + "\n"
                )
    _write_clinc(folder)
    return folder


CLINC_ROWS = [  # (body, label, CLINC intent): the same format as ../shared/datasets/clinc150-*
    ("what's the weather like tomorrow", "other", "weather"),
    ("when is my paycheck arriving", "other", "payday"),
    ("set a timer for ten minutes", "other", "timer"),
    ("how many calories are in a banana", "other", "calories"),  # store-dependent: left out
    ("where is my package from amazon", "order_status", "order_status"),
    ("why was my card declined at the shop", "payment_billing", "card_declined"),
]


def _write_clinc(folder: Path) -> None:
    for split in ("train", "dev"):
        with (folder / f"clinc150-{split}.jsonl").open("w", encoding="utf-8") as fh:
            for i, (body, label, intent) in enumerate(CLINC_ROWS):
                row = {"id": f"c-{split}-{i}", "body": body, "label": label, "clinc_intent": intent}
                fh.write(json.dumps(row) + "\n")
    # The test split must never be read by training: a bad label would make reading it fail.
    (folder / "clinc150-test.jsonl").write_text(
        json.dumps({"id": "t", "body": "x", "label": "not-a-category"}) + "\n"
    )


def _run_script(shared: Path, output: Path, seed: int = 3) -> dict:
    argv = [
        "--shared",
        str(shared),
        "--output",
        str(output),
        "--seed",
        str(seed),
        "--buckets",
        "4096",
        "--folds",
        "2",
        "--epochs",
        "2",
        "--copies",
        "1",
        "--hand-per-label",
        "4",
    ]
    assert _load_script().main(argv) == 0
    return json.loads((output / "model.json").read_text())


def test_the_training_script_builds_a_loadable_calibrated_model(tiny_shared, tmp_path):
    meta = _run_script(tiny_shared, tmp_path / "model")
    model = LocalClassifier.from_dir(tmp_path / "model")
    assert model.categories == CATEGORIES and model.weights.shape == (4096, len(CATEGORIES))
    assert meta["training"]["out_of_fold"]["rows"] > 0 and meta["temperature"] > 0
    # Seven base calibration inputs since the word-pair share and the evidence beyond the
    # strongest word were added (five before), then an intercept per category.
    assert len(meta["calibrator"]) == 7 + len(CATEGORIES)
    # CLINC150 train is learnt from and its dev split calibrates, without the store-dependent
    # intents; its test split is never read (it would have failed on its bad label).
    assert meta["training"]["clinc_train_examples"] == len(CLINC_ROWS) - 1
    assert meta["training"]["clinc_dev"]["rows"] == len(CLINC_ROWS) - 1
    reading = model.classify(TicketText("Refund", "I returned it last week, where is my refund?"))
    assert reading.category in CATEGORIES and 0 <= reading.confidence <= 1


def test_the_training_script_is_reproducible(tiny_shared, tmp_path):
    first = _run_script(tiny_shared, tmp_path / "a")
    second = _run_script(tiny_shared, tmp_path / "b")
    other_seed = _run_script(tiny_shared, tmp_path / "c", seed=4)
    assert first["model_id"] == second["model_id"]
    assert first["model_id"] != other_seed["model_id"]


def test_the_script_needs_the_shared_datasets(tmp_path):
    with pytest.raises(BadRequest, match="no shared datasets"):
        _load_script().main(
            ["--shared", str(tmp_path), "--output", str(tmp_path / "m"), "--buckets", "1024"]
        )


def test_fit_linear_learns_a_separable_problem():
    featurizer = Featurizer(FeatureConfig(n_buckets=1024))
    examples = [Example(f"a{i}", "", f"refund please refund {i}", "refund") for i in range(20)] + [
        Example(f"b{i}", "", f"cancel my order cancel {i}", "cancel_order") for i in range(20)
    ]
    design = train.featurize(examples, featurizer, CATEGORIES)
    weights, bias = train.fit_linear(design, len(CATEGORIES), 1024, train.FitParams(epochs=5))
    predicted = train.predict_logits(design, weights, bias).argmax(1)
    assert (predicted == design.labels).all()


def test_a_reading_adds_up_exactly_the_training_vector():
    """The engine sums cached per-word contributions; training builds the hashed vector. Both must
    give the same logits, or the model would read tickets differently from how it learned."""
    features = FeatureConfig(n_buckets=4096)
    meta = {
        "format": FORMAT_VERSION,
        "name": "t",
        "categories": list(CATEGORIES),
        "features": features.to_dict(),
    }
    weights = (
        np.random.default_rng(1)
        .normal(size=(features.n_buckets, len(CATEGORIES)))
        .astype(np.float32)
    )
    model = LocalClassifier(meta, weights, np.zeros(len(CATEGORIES)), np.array([], np.uint32))
    tickets = [
        *read_jsonl(DATA / "store_new.jsonl"),
        Example("e1", "", "", "other"),
        Example("e2", "where is", "my money back?", "refund"),
        Example(
            "e3",
            "Order #1001",
            "Je n'ai pas reçu 49,90 € — tracking 1Z999AA10123456784, code AB12CD34EF",
            "order_status",
        ),
    ]
    for ex in tickets:
        fast, words = model.logits(ex.subject, ex.body)
        ids, values, trained_words = model.featurizer.transform(ex.subject, ex.body)
        slow = values.astype(np.float64) @ weights[ids].astype(np.float64)
        assert np.allclose(fast, slow, atol=1e-4), ex.id
        assert words == trained_words


def test_a_model_of_an_older_feature_scheme_is_refused_with_a_clear_message(tmp_path):
    features = FeatureConfig(n_buckets=1024).to_dict()
    del features["scheme"]  # written before schemes were recorded: scheme 1
    meta = {
        "format": FORMAT_VERSION,
        "name": "old",
        "categories": list(CATEGORIES),
        "features": features,
    }
    with pytest.raises(ConfigError, match=r"feature scheme 1.*retrain"):
        LocalClassifier(
            meta,
            np.zeros((1024, len(CATEGORIES))),
            np.zeros(len(CATEGORIES)),
            np.array([], np.uint32),
        )


def test_multi_word_concepts_match_word_sequences():
    from connector.classify.concepts import multi_word_concepts
    from connector.classify.features import tokens

    assert multi_word_concepts(tokens("where's my money back? non ricevuto")) == [
        "where",
        "refund",
        "missing",
    ]
    assert multi_word_concepts(tokens("where something else")) == []  # "where's" needs its "s"


def test_temperature_and_calibrator_fit_held_out_behaviour():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 2000)
    logits = rng.normal(size=(2000, 3))
    logits[np.arange(2000), labels] += 1.0
    overconfident = logits * 5  # a model that is far too sure of itself
    temperature = train.fit_temperature(overconfident, labels)
    assert 3.0 < temperature < 8.0
    # The calibrator maps "how sure" features to the observed hit rate.
    x = np.column_stack([np.ones(2000), rng.normal(size=2000)])
    correct = (rng.random(2000) < 1 / (1 + np.exp(-(0.5 + 2 * x[:, 1])))).astype(float)
    coef = train.fit_calibrator(x, correct, l2=0.0)
    assert abs(coef[0] - 0.5) < 0.25 and abs(coef[1] - 2.0) < 0.4


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "expected a JSON object"),
        ('{"id": "1", "body": "hi"}', 'missing "label"'),
        ('{"id": "1", "body": "hi", "label": "spam"}', "unknown label 'spam'"),
        ('{"id": "1", "body": 5, "label": "other"}', "must be strings"),
    ],
)
def test_bad_training_input_names_the_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "0", "body": "fine", "label": "other"}\n' + line + "\n")
    with pytest.raises(BadRequest, match=message) as info:
        read_jsonl(path)
    assert "bad.jsonl:2" in str(info.value.message)


# --- a store's model on top of the default --------------------------------------------------------
def _accuracy(model: LocalClassifier, tickets: list[Example]) -> float:
    outcomes = [
        Outcome(ex.id, ex.label, s.category, s.confidence)
        for ex in tickets
        for s in [model.score(ex.subject, ex.body)]
    ]
    return evaluate(outcomes)["accuracy"]


@pytest.fixture(scope="module")
def store_model(tmp_path_factory) -> tuple[LocalClassifier, dict, Path]:
    out = tmp_path_factory.mktemp("store") / "model"
    base = LocalClassifier.load(None)
    model, report = store_training.train_on_top(
        base,
        read_jsonl(DATA / "store_history.jsonl"),
        out,
        base_dir=default_model_dir(),
        name="pawprint",
    )
    return model, report, out


def test_a_store_model_is_calibrated_on_its_own_held_out_tickets_and_the_dev_set(store_model):
    model, report, _ = store_model
    calibration = report["calibration"]
    history = read_jsonl(DATA / "store_history.jsonl")
    assert calibration["store_out_of_fold"]["rows"] == len(history)
    assert calibration["dev_set"]["rows"] == len(train.dev_examples())
    assert model.calibrator.tolist() != LocalClassifier.load(None).calibrator.tolist()
    # Calibrated on the store's held-out tickets: on them, confident readings are right.
    assert calibration["store_out_of_fold"]["precision_at_0.9"] >= 0.9


def test_train_reports_the_stores_own_precision_coverage_curve_cross_validated(store_model):
    _, report, _ = store_model
    curve = report["store_curve"]
    history = read_jsonl(DATA / "store_history.jsonl")
    assert [row["threshold"] for row in curve] == list(store_training.CURVE_THRESHOLDS)
    coverage = [row["coverage"] for row in curve]
    assert coverage == sorted(coverage, reverse=True) and 0 < coverage[0] <= 1
    for row in curve:
        assert row["answered"] == round(row["coverage"] * len(history))
        if row["answered"]:
            right = row["answered"] - row["wrong"]
            assert row["precision"] == round(right / row["answered"], 4)


def test_the_curves_calibrator_never_saw_the_reading_it_scores():
    """Each fold's readings are scored by a calibrator fitted on the other folds (and the dev
    set): changing one fold's rows changes the other folds' confidence, never its own."""
    base = LocalClassifier.load(None)
    recipe = store_training.TenantRecipe()
    rng = np.random.default_rng(3)
    k = len(base.categories)

    def fold(n: int, right: bool) -> train.CalibrationRows:
        logits = rng.normal(0, 1, (n, k))
        labels = logits.argmax(1) if right else (logits.argmax(1) + 1) % k
        return train.CalibrationRows(
            logits, labels, np.column_stack([np.full(n, 0.9), np.full(n, 8.0)]), np.ones(n)
        )

    dev = fold(30, True)
    a, b, c = fold(40, True), fold(40, True), fold(40, True)
    worse_c = train.CalibrationRows(c.logits, (c.labels + 1) % k, c.familiarity, c.weights)
    first = store_training.fold_calibrations(base, [a, b, c], dev, recipe)
    second = store_training.fold_calibrations(base, [a, b, worse_c], dev, recipe)
    # Fold c's readings became wrong: the calibrator that scores fold c is the same as before
    # (it never saw fold c), the ones that score folds a and b moved (they saw the new rows).
    assert first[2][0] == second[2][0] and np.array_equal(first[2][1], second[2][1])
    assert not np.array_equal(first[0][1], second[0][1])
    assert not np.array_equal(first[1][1], second[1][1])


def test_training_on_a_stores_history_raises_accuracy_on_its_new_tickets(store_model):
    model, report, _ = store_model
    new = read_jsonl(DATA / "store_new.jsonl")
    history_ids = {ex.id for ex in read_jsonl(DATA / "store_history.jsonl")}
    assert not history_ids & {ex.id for ex in new}  # disjoint sets
    before = _accuracy(LocalClassifier.load(None), new)
    after = _accuracy(model, new)
    outcomes = [
        Outcome(ex.id, ex.label, r.category, r.confidence)
        for ex in new
        for r in [model.classify(TicketText(ex.subject, ex.body, ex.id))]
    ]
    at_90 = next(row for row in evaluate(outcomes)["at_threshold"] if row["threshold"] == 0.9)
    assert at_90["precision"] >= 0.95 and at_90["coverage"] >= 0.4, (
        at_90
    )  # confident on the store's own jargon
    # "Rise clearly": at least 5 points, and at least 40 % fewer wrong readings (the shipped model
    # already reads 83 % of this store right, so the room left is the errors).
    assert after >= before + 0.05, (before, after)
    assert 1 - after <= 0.6 * (1 - before), (before, after)
    assert report["store_out_of_fold_accuracy"] is not None


def test_the_store_model_is_saved_loadable_and_named(store_model):
    model, _, out = store_model
    loaded = LocalClassifier.load(out)
    assert loaded.model_id == model.model_id and loaded.model_id.startswith("pawprint-")
    assert loaded.categories == CATEGORIES
    meta = json.loads((out / "model.json").read_text())
    assert meta["training"]["base_model"] == LocalClassifier.load(None).model_id


def test_a_store_model_still_knows_the_categories_its_data_lacks(tmp_path):
    base = LocalClassifier.load(None)
    kept = {"order_change", "cancel_order", "account", "promo_pricing"}
    store = [ex for ex in read_jsonl(DATA / "store_history.jsonl") if ex.label in kept]
    model, _ = store_training.train_on_top(base, store, tmp_path / "m")
    assert model.categories == CATEGORIES
    others = [ex for ex in read_jsonl(DATA / "eval_tickets.jsonl") if ex.label not in kept]
    assert len({ex.label for ex in others}) == len(CATEGORIES) - len(kept)
    assert _accuracy(model, others) >= _accuracy(base, others) - 0.05


def test_training_needs_labelled_tickets(tmp_path):
    with pytest.raises(BadRequest, match="no labelled tickets"):
        store_training.train_on_top(
            LocalClassifier.load(None), [Example("1", "", "hi", "")], tmp_path / "m"
        )


def test_a_store_model_ships_word_rows_for_the_stores_own_words(store_model):
    from connector.classify.features import Featurizer

    _, _, out = store_model
    loaded = LocalClassifier.load(out)
    words = set(loaded._table.words)
    featurizer = Featurizer(loaded.featurizer.config)
    for ex in read_jsonl(DATA / "store_history.jsonl")[:20]:
        subject_words, body_words = featurizer.text_tokens(ex.subject, ex.body)
        assert set(subject_words + body_words) <= words, (
            ex.id
        )  # the store's jargon is precomputed too
    assert set(LocalClassifier.load(None).vocabulary_words) <= words
