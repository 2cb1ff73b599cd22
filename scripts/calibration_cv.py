"""Choose how the default model's confidence is calibrated, using only calibration (dev) data.

Fits the default model once (as `make model` does), reads the dev tickets once, then for each
candidate share of calibration weight on the dev set: splits the dev tickets into folds by store
(tickets without a "store" field are spread over the folds by id), calibrates on the out-of-fold
training rows plus the other folds, and reads the held-out fold. Reports log loss, Brier score,
ECE, and coverage / precision at confidence >= 0.9 over all held-out folds: how the confidence
behaves on stores the calibration never saw. Never reads the test sets (tests/data/).

    .venv/bin/python scripts/calibration_cv.py --shared ../shared/datasets
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connector.classify.train import (  # noqa: E402
    CalibrationRows,
    Recipe,
    calibrate_default,
    calibration_matrix,
    dev_examples,
    fit_default,
    score_rows,
)


def _fold(example, folds: int) -> int:
    key = example.field("store") or example.id
    return zlib.crc32(key.encode("utf-8")) % folds


def _subset(rows: CalibrationRows, mask: np.ndarray) -> CalibrationRows:
    return CalibrationRows(
        rows.logits[mask], rows.labels[mask], rows.familiarity[mask], rows.weights[mask]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--shares", default="auto,0.5,0.75,0.9", help="comma-separated dev shares; auto = by counts"
    )
    args = parser.parse_args(argv)
    recipe = Recipe()
    fitted = fit_default(args.shared, recipe, log=lambda m: print(m, file=sys.stderr, flush=True))
    dev = dev_examples()
    dev_rows = score_rows(fitted.model, dev)
    fold_of = np.array([_fold(ex, args.folds) for ex in dev])
    results = {}
    for spec in args.shares.split(","):
        share = recipe.dev_share_for(fitted.hand, dev) if spec == "auto" else float(spec)
        conf, right = np.zeros(len(dev)), np.zeros(len(dev))
        for k in range(args.folds):
            held = fold_of == k
            if not held.any():
                continue
            temperature, calibrator = calibrate_default(
                fitted.out_of_fold, _subset(dev_rows, ~held), share
            )
            feats, correct = calibration_matrix(_subset(dev_rows, held), temperature)
            conf[held] = 1 / (1 + np.exp(-(feats @ calibrator)))
            right[held] = correct
        eps = 1e-6
        confident = conf >= 0.9
        bins = np.minimum((conf * 10).astype(int), 9)
        ece = sum(
            abs(right[bins == b].mean() - conf[bins == b].mean()) * (bins == b).mean()
            for b in range(10)
            if (bins == b).any()
        )
        results[spec] = {
            "dev_share": round(share, 4),
            "log_loss": round(
                float(-np.mean(right * np.log(conf + eps) + (1 - right) * np.log(1 - conf + eps))),
                4,
            ),
            "brier": round(float(np.mean((conf - right) ** 2)), 4),
            "ece": round(float(ece), 4),
            "accuracy": round(float(right.mean()), 4),
            "coverage_at_0.9": round(float(confident.mean()), 4),
            "precision_at_0.9": round(float(right[confident].mean()), 4)
            if confident.any()
            else None,
            "wrong_at_0.9": int((confident & (right == 0)).sum()),
        }
    print(json.dumps({"dev_tickets": len(dev), "folds": args.folds, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
