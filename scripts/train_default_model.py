"""Build the default local model shipped in connector/classify/model/ (reproducible: fixed seed).

Reads the shared datasets (Bitext, Banking77; not part of the repo) from --shared, the team's
hand-written tickets from connector/classify/trainingdata/ and the hand-written calibration (dev)
tickets from connector/classify/devdata/ (never trained on). Writes model.json + weights.npz.

    .venv/bin/python scripts/train_default_model.py --shared ../shared/datasets

(`make model` runs exactly this.) Takes about a minute on 2 cores. The --buckets, --folds,
--epochs, --copies and --hand-per-label options exist for quick smoke runs (the tests use them);
the shipped model is built with the defaults.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connector.classify.local import default_model_dir  # noqa: E402
from connector.classify.train import Recipe, build_default, packaged_examples  # noqa: E402


def _first_per_label(examples, limit: int):
    taken: dict[str, int] = defaultdict(int)
    kept = []
    for ex in examples:
        if taken[ex.label] < limit:
            taken[ex.label] += 1
            kept.append(ex)
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--shared",
        default=str(ROOT.parent / "shared" / "datasets"),
        help="folder with bitext-*.jsonl and banking77-*.jsonl (default: ../shared/datasets)",
    )
    parser.add_argument(
        "--output", default=str(default_model_dir()), help="model directory to write"
    )
    parser.add_argument("--seed", type=int, default=Recipe.seed)
    defaults = Recipe()
    parser.add_argument(
        "--buckets", type=int, default=defaults.features.n_buckets, help="hashed feature columns"
    )
    parser.add_argument("--folds", type=int, default=defaults.folds)
    parser.add_argument("--epochs", type=int, default=defaults.fit.epochs)
    parser.add_argument(
        "--copies",
        type=int,
        default=defaults.hand_copies,
        help="dressed copies per hand-written ticket",
    )
    parser.add_argument(
        "--hand-per-label", type=int, default=0, help="use only N hand-written tickets per label"
    )
    args = parser.parse_args(argv)
    recipe = Recipe(
        seed=args.seed,
        folds=args.folds,
        hand_copies=args.copies,
        fit=dataclasses.replace(defaults.fit, epochs=args.epochs),
        features=dataclasses.replace(defaults.features, n_buckets=args.buckets),
    )
    hand = (
        _first_per_label(packaged_examples(), args.hand_per_label) if args.hand_per_label else None
    )
    started = time.perf_counter()
    model, report = build_default(
        args.shared, args.output, recipe, hand=hand, log=lambda m: print(m, flush=True)
    )
    print(
        json.dumps(
            {
                "model": model.model_id,
                "output": args.output,
                "seconds": round(time.perf_counter() - started, 1),
                "out_of_fold": report["out_of_fold"],
                "dev_set": report["dev_set"],
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
