"""Compare training recipes for the default model on the dev (calibration) set only.

For each variant: featurize, fit the final model once (no folds), read the dev tickets, and report
accuracy, macro-F1 and the negative log-likelihood at the best temperature. Never reads the test
sets (tests/data/). The dev set then also calibrates the chosen model, so its own figures are
optimistic; the test sets say how the choice generalises.

    .venv/bin/python scripts/tune_recipe.py --shared ../shared/datasets \\
        --variant base --variant hand_weight=8 --variant fit.l2=3e-4 --variant fit.epochs=12
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connector.classify.evaluate import Outcome, evaluate  # noqa: E402
from connector.classify.features import Featurizer  # noqa: E402
from connector.classify.train import (  # noqa: E402
    SHARED_FILES,
    Recipe,
    _corpus,
    _model,
    _softmax,
    dev_examples,
    fit_linear,
    fit_temperature,
    known_word_hashes,
    packaged_examples,
    read_jsonl,
    score_rows,
)
from connector.domain import CATEGORIES  # noqa: E402


def _variant(spec: str) -> Recipe:
    recipe = Recipe()
    if spec == "base":
        return recipe
    for part in spec.split(","):
        key, value = part.split("=")
        if key.startswith("fit."):
            recipe = dataclasses.replace(
                recipe,
                fit=dataclasses.replace(
                    recipe.fit, **{key[4:]: type(getattr(recipe.fit, key[4:]))(value)}
                ),
            )
        else:
            recipe = dataclasses.replace(recipe, **{key: type(getattr(recipe, key))(value)})
    return recipe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument(
        "--variant", action="append", default=[], help="base, or key=value[,key=value]"
    )
    args = parser.parse_args(argv)
    shared_dir = Path(args.shared)
    shared = [
        ex
        for name in SHARED_FILES
        if (shared_dir / name).is_file()
        for ex in read_jsonl(shared_dir / name, source="shared")
    ]
    hand, dev = packaged_examples(), dev_examples()
    results = {}
    for spec in args.variant or ["base"]:
        recipe = _variant(spec)
        started = time.perf_counter()
        featurizer = Featurizer(recipe.features)
        corpus = _corpus(shared, hand, recipe, featurizer, None)
        weights, bias = fit_linear(
            corpus.design, len(CATEGORIES), recipe.features.n_buckets, recipe.fit
        )
        model = _model(
            weights, bias, known_word_hashes([corpus.design]), name="tune", features=recipe.features
        )
        rows = score_rows(model, dev)
        temperature = fit_temperature(rows.logits, rows.labels)
        probs = _softmax(rows.logits / temperature)
        nll = float(-np.mean(np.log(np.clip(probs[np.arange(len(rows)), rows.labels], 1e-12, 1))))
        predicted = probs.argmax(1)
        outcomes = [
            Outcome(ex.id, ex.label, CATEGORIES[p], float(probs[i, p]))
            for i, (ex, p) in enumerate(zip(dev, predicted, strict=True))
        ]
        report = evaluate(outcomes)
        results[spec] = {
            "accuracy": report["accuracy"],
            "macro_f1": report["macro_f1"],
            "nll": round(nll, 4),
            "temperature": round(temperature, 3),
            "seconds": round(time.perf_counter() - started, 1),
        }
        print(spec, json.dumps(results[spec]), file=sys.stderr, flush=True)
    print(
        json.dumps(
            {"dev_tickets": len(dev), "hand_written": len(hand), "results": results}, indent=2
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
