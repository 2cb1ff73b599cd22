"""The per-category offset rules of the calibrator (``train.category_offsets``) and the
cross-validation that compares them (``connector/classify/offsets_cv.py``, run by
``scripts/calibration_cv.py --offsets``), on small synthetic calibration rows."""

from __future__ import annotations

import numpy as np
import pytest

from connector.classify import offsets_cv, train
from connector.classify.local import BASE_INPUTS, Novelty

CATEGORIES = ("alpha", "beta", "other")


def _rows(n: int, seed: int) -> train.CalibrationRows:
    """Readings that are equally sure of their top category, but `other` readings are wrong
    40 % of the time (tickets of alpha read as other) and beta readings always right."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n)
    read = np.where((truth == 0) & (rng.random(n) < 0.4), 2, truth)
    logits = rng.normal(0.0, 0.3, (n, 3))
    logits[np.arange(n), read] += 3.0
    familiarity = np.column_stack([rng.uniform(0.8, 1.0, n), rng.integers(3, 30, n)])
    return train.CalibrationRows(logits, truth, familiarity.astype(np.float64), np.ones(n))


def _data(n: int = 600) -> offsets_cv.OffsetData:
    def part(rows: train.CalibrationRows, folds: int) -> offsets_cv.Part:
        size = len(rows)
        return offsets_cv.Part(
            rows,
            np.arange(size) % folds,
            np.zeros(size),
            [f"t{i}" for i in range(size)],
            ["synthetic"] * size,
        )

    return offsets_cv.OffsetData(
        part(_rows(n, 1), 4),
        part(_rows(n // 3, 2), 5),
        part(_rows(n // 3, 3), 5),
        dev_share=0.2,
        clinc_share=0.2,
        categories=CATEGORIES,
        novelty=Novelty(),
    )


def _offsets(rule: train.OffsetRule) -> np.ndarray:
    rows = _rows(900, 4)
    _, coef = train.calibrate_from_rows(rows, offsets=rule)
    return coef[len(BASE_INPUTS) :]


def test_the_offset_rules_differ_only_in_the_sign_they_allow():
    lower, either, none = _offsets("lower"), _offsets("either"), _offsets("none")
    assert (lower <= 0).all() and lower[2] < -0.1  # `other` is lowered, nothing raised
    assert (none == 0).all()
    assert either.max() > 0.05  # free of the clip, a category that does better is raised
    assert either[2] == pytest.approx(lower[2])  # the lowered one is the same either way
    assert np.array_equal(np.minimum(either, 0), lower)


def test_joint_fits_category_intercepts_together_with_the_shared_inputs():
    rows = _rows(900, 4)
    _, joint = train.calibrate_from_rows(rows, offsets="joint")
    _, lower = train.calibrate_from_rows(rows, offsets="lower")
    n_base = len(BASE_INPUTS)
    # The shared inputs move too (fitted with the intercepts, not before them) ...
    assert not np.allclose(joint[:n_base], lower[:n_base])
    # ... and the intercepts take either sign: `other` (wrong 40 % of the time) lowest.
    intercepts = joint[n_base:]
    assert intercepts[2] < intercepts[0] and intercepts[2] < intercepts[1]
    feats, correct = train.calibration_matrix(rows, train.fit_temperature(rows.logits, rows.labels))
    strengths = np.full(feats.shape[1], train.CATEGORY_L2)
    strengths[:n_base] = 1e-2
    assert np.allclose(joint, train.fit_calibrator(feats, correct, strengths, weights=rows.weights))


def test_the_shipped_rule_is_still_the_default():
    rows = _rows(900, 4)
    default = train.calibrate_from_rows(rows)
    lower = train.calibrate_from_rows(rows, offsets="lower")
    assert default[0] == lower[0] and np.array_equal(default[1], lower[1])
    with pytest.raises(ValueError, match="unknown offset rule"):
        train.calibrate_from_rows(rows, offsets="sideways")  # type: ignore[arg-type]


def test_cross_validation_reads_every_row_once_with_a_calibrator_that_never_saw_it():
    data = _data()
    read = {rule: offsets_cv.cross_validate(data, rule, folds=5) for rule in train.OFFSET_RULES}
    for name in offsets_cv.PARTS:
        conf = read["lower"][name][1]
        assert len(conf) == len(data.part(name).rows) and (conf > 0).all()  # every row read
        # The shared inputs are fitted the same way under every rule, so offsets that are never
        # positive never raise a held-out reading, and free ones raise some.
        assert (conf <= read["none"][name][1] + 1e-12).all()
    assert any((read["either"][n][1] > read["none"][n][1] + 1e-6).any() for n in offsets_cv.PARTS)
    assert (read["lower"]["train"][1] < read["none"]["train"][1] - 1e-6).any()
    # A row's own label never reaches the calibrator that reads it: flip one and its reading
    # stays exactly the same (while the other rows of its part see a changed calibration).
    flipped = _data()
    labels = flipped.train.rows.labels.copy()
    labels[7] = (labels[7] + 1) % 3
    flipped.train.rows = flipped.train.rows.subset(np.ones(len(labels), bool))
    flipped.train.rows.labels = labels
    again = offsets_cv.cross_validate(flipped, "lower", folds=5)
    assert again["train"][1][7] == read["lower"]["train"][1][7]
    assert not np.array_equal(again["dev"][1], read["lower"]["dev"][1])


def test_held_out_readings_get_the_novelty_caps():
    data = _data()
    unfamiliar = data.dev.rows.familiarity.copy()
    unfamiliar[:10, 0] = 0.1  # a tenth of the words known: abstains to `other`
    unfamiliar[10:20, 0] = 0.55  # half known: capped at 0.5
    data.dev.rows.familiarity = unfamiliar
    top, conf = offsets_cv.cross_validate(data, "lower", folds=5)["dev"]
    assert (top[:10] == 2).all() and (conf[:10] <= 0.5).all()
    assert (conf[10:20] <= 0.5 + 1e-12).all()
    figures = offsets_cv.precision_at(top == data.dev.rows.labels, conf)
    assert figures["rows"] == len(conf) and figures["answered"] <= len(conf) - 20
