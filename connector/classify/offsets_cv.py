"""Cross-validation of the calibrator's per-category offsets, on calibration data only.

The machinery of ``scripts/calibration_cv.py --offsets`` (docs/QUALITY.md, "Per-category
confidence offsets"): the calibration rows of the default model come in three parts (out-of-fold
training rows, the dev set, CLINC150 dev), each row with a fold. In round k the calibrator is
fitted (``train.calibrate_default``, one offset rule of ``train.OFFSET_RULES``) on the training
rows outside fold k mod (training folds) and the dev and CLINC150 rows outside fold k mod
(``folds``), then reads the held-out rows as a reading would (the novelty caps applied): training
fold k in the first (training folds) rounds, dev and CLINC150 fold k in the first ``folds``
rounds. So every row is read once, by a calibrator fitted without it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from connector.classify.local import Novelty
from connector.classify.train import (
    CATEGORY_L2,
    CalibrationRows,
    OffsetRule,
    calibrate_default,
    calibration_matrix,
)

CONFIDENT = 0.9
PARTS = ("train", "dev", "clinc")


@dataclass
class Part:
    """One source of calibration rows, with what the cross-validation needs per row."""

    rows: CalibrationRows
    fold: np.ndarray  # int per row
    codeish: np.ndarray  # code share per row (``local.code_share``): the novelty caps need it
    ids: list[str]
    files: list[str]  # the JSONL file (stem) each row's ticket comes from


@dataclass
class OffsetData:
    """Everything one cross-validation reads."""

    train: Part  # out-of-fold training rows; fold = the training fold whose model read them
    dev: Part
    clinc: Part
    dev_share: float  # as ``train.calibrate_default`` takes them
    clinc_share: float
    categories: tuple[str, ...]
    novelty: Novelty

    def part(self, name: str) -> Part:
        return {"train": self.train, "dev": self.dev, "clinc": self.clinc}[name]


def read_held_out(
    rows: CalibrationRows,
    codeish: np.ndarray,
    temperature: float,
    calibrator: np.ndarray,
    novelty: Novelty,
    other: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(category index, confidence) of each row as a reading makes them: the calibrated
    confidence capped by the novelty rules (``Novelty.limit``); an abstention becomes `other`
    with at most ``novelty.abstain_confidence``."""
    feats, _ = calibration_matrix(rows, temperature)
    conf = 1 / (1 + np.exp(-(feats @ calibrator)))
    z = rows.logits / temperature
    probs = np.exp(z - z.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    top = probs.argmax(axis=1)
    for i, ((ratio, known), code) in enumerate(zip(rows.familiarity, codeish, strict=True)):
        cap, abstained = novelty.limit(float(ratio), int(known), float(code))
        conf[i] = min(conf[i], cap)
        if abstained:
            top[i] = other
            conf[i] = min(float(probs[i, other]), novelty.abstain_confidence)
    return top, conf


def cross_validate(
    data: OffsetData, rule: OffsetRule, folds: int, category_l2: float = CATEGORY_L2
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per part ("train", "dev", "clinc"): (category index, confidence) of every row, each read
    by a calibrator fitted without it (module docstring)."""
    out = {
        name: (np.zeros(len(data.part(name).rows), np.int64), np.zeros(len(data.part(name).rows)))
        for name in PARTS
    }
    train_folds = int(data.train.fold.max()) + 1
    other = data.categories.index("other")
    for k in range(max(folds, train_folds)):
        held = {
            "train": data.train.fold == k % train_folds,
            "dev": data.dev.fold == k % folds,
            "clinc": data.clinc.fold == k % folds,
        }
        temperature, calibrator = calibrate_default(
            data.train.rows.subset(~held["train"]),
            data.dev.rows.subset(~held["dev"]),
            data.dev_share,
            data.clinc.rows.subset(~held["clinc"]),
            data.clinc_share,
            offsets=rule,
            category_l2=category_l2,
        )
        rounds = {"train": train_folds, "dev": folds, "clinc": folds}
        for name in PARTS:
            mask = held[name] if k < rounds[name] else np.zeros_like(held[name])
            if mask.any():
                part = data.part(name)
                top, conf = read_held_out(
                    part.rows.subset(mask),
                    part.codeish[mask],
                    temperature,
                    calibrator,
                    data.novelty,
                    other,
                )
                out[name][0][mask] = top
                out[name][1][mask] = conf
    return out


def precision_at(right: np.ndarray, conf: np.ndarray, threshold: float = CONFIDENT) -> dict:
    """Rows, answered (confidence ≥ threshold), wrong answers, coverage and precision."""
    confident = conf >= threshold
    answered = int(confident.sum())
    wrong = int((confident & ~right).sum())
    return {
        "rows": len(conf),
        "answered": answered,
        "wrong": wrong,
        "coverage": round(answered / len(conf), 3) if len(conf) else None,
        "precision": round(1 - wrong / answered, 3) if answered else None,
    }
