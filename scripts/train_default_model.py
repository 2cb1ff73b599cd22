"""Build the default local model shipped in connector/classify/model/ (reproducible: fixed seed).

Reads the shared datasets (Bitext, Banking77; not part of the repo) from --shared, and the team's
hand-written tickets from connector/classify/trainingdata/. Writes model.json + weights.npz.

    .venv/bin/python scripts/train_default_model.py --shared ../shared/datasets

(`make model` runs exactly this.) Takes about a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connector.classify.local import default_model_dir  # noqa: E402
from connector.classify.train import Recipe, build_default  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=str(ROOT.parent / "shared" / "datasets"),
                        help="folder with bitext-*.jsonl and banking77-*.jsonl (default: ../shared/datasets)")
    parser.add_argument("--output", default=str(default_model_dir()), help="model directory to write")
    parser.add_argument("--seed", type=int, default=Recipe.seed)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    model, report = build_default(args.shared, args.output, Recipe(seed=args.seed), log=lambda m: print(m, flush=True))
    print(json.dumps({"model": model.model_id, "output": args.output, "seconds": round(time.perf_counter() - started, 1),
                      "out_of_fold": report["out_of_fold"]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
