"""Choose how the default model's confidence is calibrated, using only calibration (dev) data.

Fits the default model once (as `make model` does: same recipe and seed, so the same weights as
the shipped model), reads the calibration tickets once, then cross-validates calibration choices.
Never reads the test sets (tests/data/, CLINC150 test): only the packaged training tickets
(connector/classify/trainingdata/, read out of fold), the dev set (connector/classify/devdata/)
and the shared datasets' train/dev files that `make model` reads.

Dev shares (default): for each candidate share of calibration weight on the dev set, splits the
dev tickets into folds by store (tickets without a "store" field are spread over the folds by
id), calibrates on the out-of-fold training rows plus the other folds, and reads the held-out
fold. Reports log loss, Brier score, ECE, and coverage / precision at confidence >= 0.9 over all
held-out folds: how the confidence behaves on stores the calibration never saw.

    .venv/bin/python scripts/calibration_cv.py --shared ../shared/datasets

Per-category offsets (``--offsets``): the comparison in docs/QUALITY.md ("Per-category
confidence offsets"). The calibration rows are those of `make model` (the out-of-fold training
rows, the dev set, CLINC150 dev without its store-dependent intents, weighted as `make model`
weighs them). In round k the calibrator is fitted on the out-of-fold rows outside training fold
k mod 4 (the fold whose model read them), the dev tickets outside store fold k and the CLINC150
dev rows outside fold k (5 folds each, by crc32 of the store or id), then reads the held-out
rows with the novelty caps applied (``Novelty.limit``): training fold k in rounds 0-3 only, dev
and CLINC150 fold k in every round, so every row is read once, by a calibrator that never saw
it. One pass per offset rule (``train.OFFSET_RULES``: none = shared inputs only; lower =
clipped at 0, shipped; either = either sign; joint = per-category intercepts fitted together
with the shared inputs; ``--rules`` picks some). Prints precision at >= 0.9 with wrong / answered
per source and CLINC150 dev's off-topic questions read as a store category at >= 0.9.

    .venv/bin/python scripts/calibration_cv.py --shared ../shared/datasets --offsets

``--category-l2 1e-4,1e-3,3e-3,1e-2`` repeats the "lower" and "either" passes at each L2 strength
of the offsets (``train.CATEGORY_L2``, shipped 1e-3), the comparison that chose it.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import zlib
from importlib import resources
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connector.classify.local import LocalClassifier, code_share  # noqa: E402
from connector.classify.offsets_cv import (  # noqa: E402
    CONFIDENT,
    OffsetData,
    Part,
    cross_validate,
    precision_at,
)
from connector.classify.text import split_email  # noqa: E402
from connector.classify.train import (  # noqa: E402
    CATEGORY_L2,
    CLINC_DEV,
    OFFSET_RULES,
    Example,
    OffsetRule,
    Recipe,
    assign_folds,
    calibrate_default,
    calibration_matrix,
    clinc_examples,
    dev_examples,
    fit_default,
    read_jsonl,
    score_rows,
)


def _fold(example, folds: int) -> int:
    key = example.field("store") or example.id
    return zlib.crc32(key.encode("utf-8")) % folds


def shares_cv(args: argparse.Namespace) -> int:
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
                fitted.out_of_fold, dev_rows.subset(~held), share
            )
            feats, correct = calibration_matrix(dev_rows.subset(held), temperature)
            conf[held] = 1 / (1 + np.exp(-(feats @ calibrator)))
            right[held] = correct
        eps = 1e-6
        confident = conf >= CONFIDENT
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


# --- per-category offsets (connector/classify/offsets_cv.py) ------------------------------------
def _code_shares(model: LocalClassifier, examples: list[Example]) -> np.ndarray:
    """Each ticket's code share, computed as a reading computes it."""
    out = []
    for ex in examples:
        latest = split_email(ex.body)[0]
        parsed = model.featurizer.parse(ex.subject, latest)
        words = len(parsed.subject_words) + len(parsed.body_words)
        out.append(code_share(f"{ex.subject}\n{latest}", words, model.novelty.code_min_chars))
    return np.array(out, np.float64)


def _training_files() -> dict[str, str]:
    """Ticket id → the packaged training file (stem) it is written in."""
    folder = resources.files("connector.classify") / "trainingdata"
    out: dict[str, str] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".jsonl"):
            for ex in read_jsonl(Path(str(entry))):
                out[ex.id] = entry.name.removesuffix(".jsonl")
    return out


def _dev_files() -> list[str]:
    folder = resources.files("connector.classify") / "devdata"
    out: list[str] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".jsonl"):
            out.extend([entry.name.removesuffix(".jsonl")] * len(read_jsonl(Path(str(entry)))))
    return out


def offset_data(shared: str, folds: int) -> OffsetData:
    """Everything the offsets cross-validation reads: the expensive part (fits the model)."""
    recipe = Recipe()
    fitted = fit_default(shared, recipe, log=lambda m: print(m, file=sys.stderr, flush=True))
    corpus = fitted.corpus
    # The out-of-fold rows, in the order fit_default read them: fold by fold.
    fold_of = assign_folds(corpus.groups, recipe.folds, recipe.seed)
    row_fold = np.array([fold_of.get(g, -1) for g in corpus.groups])
    held = np.concatenate([np.flatnonzero(row_fold == k) for k in range(recipe.folds)])
    train_examples = [corpus.examples[i] for i in held]
    oof = fitted.out_of_fold
    index = {c: i for i, c in enumerate(fitted.model.categories)}
    labels = np.array([index[ex.label] for ex in train_examples])
    if len(train_examples) != len(oof) or not (labels == oof.labels).all():
        raise SystemExit("out-of-fold rows do not line up with the corpus: fit_default changed?")
    files_of = _training_files()
    train = Part(
        oof,
        row_fold[held],
        _code_shares(fitted.model, train_examples),
        [ex.id for ex in train_examples],
        [files_of[ex.id] for ex in train_examples],
    )
    dev = dev_examples()
    dev_part = Part(
        score_rows(fitted.model, dev),
        np.array([_fold(ex, folds) for ex in dev]),
        _code_shares(fitted.model, dev),
        [ex.id for ex in dev],
        _dev_files(),
    )
    if len(dev_part.files) != len(dev):
        raise SystemExit("dev files do not line up with dev_examples()")
    clinc = clinc_examples(Path(shared) / CLINC_DEV)
    clinc_part = Part(
        score_rows(fitted.model, clinc),
        np.array([_fold(ex, folds) for ex in clinc]),
        _code_shares(fitted.model, clinc),
        [ex.id for ex in clinc],
        ["clinc150-dev"] * len(clinc),
    )
    return OffsetData(
        train,
        dev_part,
        clinc_part,
        recipe.dev_share_for(fitted.hand, dev),
        recipe.clinc_calibration_share,
        fitted.model.categories,
        fitted.model.novelty,
    )


def offsets_report(data: OffsetData, read: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict:
    other = data.categories.index("other")
    report: dict = {}
    train = data.train
    top, conf = read["train"]
    right = top == train.rows.labels
    stores = np.array([f.startswith("tickets_stores") for f in train.files])
    chat = np.array([f == "tickets_chat_short" for f in train.files])
    report["store tickets (out of fold)"] = precision_at(right[stores], conf[stores])
    report["other hand-written tickets (out of fold)"] = precision_at(
        right[~stores & ~chat], conf[~stores & ~chat]
    )
    report["chat lines (out of fold)"] = precision_at(right[chat], conf[chat])
    # Store tickets read as `other` against read as a store category (the reason for the offsets)
    as_other = stores & (top == other)
    wrong_other = as_other & (conf >= CONFIDENT) & ~right
    report["store tickets read as other"] = {
        **precision_at(right[as_other], conf[as_other]),
        "distinct wrong tickets": len({train.ids[i] for i in np.flatnonzero(wrong_other)}),
    }
    as_store = stores & (top != other)
    report["store tickets read as a store category"] = precision_at(right[as_store], conf[as_store])
    top, conf = read["dev"]
    right = top == data.dev.rows.labels
    files = np.array(data.dev.files)
    for name in sorted(set(data.dev.files)):
        report[f"dev: {name}"] = precision_at(right[files == name], conf[files == name])
    tickets = np.isin(files, ["dev_tickets", "dev_tickets_stores"])
    report["dev: dev_tickets + dev_tickets_stores"] = precision_at(right[tickets], conf[tickets])
    top, conf = read["clinc"]
    right = top == data.clinc.rows.labels
    off_topic = data.clinc.rows.labels == other
    report["CLINC150 dev"] = precision_at(right, conf)
    report["CLINC150 dev off-topic read as a store category at >= 0.9"] = {
        "off_topic": int(off_topic.sum()),
        "read_confident": int((off_topic & (top != other) & (conf >= CONFIDENT)).sum()),
    }
    return report


def _offset_candidates(
    rules: list[OffsetRule], strengths: list[float]
) -> list[tuple[OffsetRule, float]]:
    """Each offset rule at each L2 strength; "none" (no offsets) once, as L2 cannot change it."""
    out: list[tuple[OffsetRule, float]] = []
    for rule in rules:
        out += [(rule, strengths[0])] if rule == "none" else [(rule, l2) for l2 in strengths]
    return out


def offsets_cv(args: argparse.Namespace) -> int:
    cache = Path(args.rows_cache) if args.rows_cache else None
    if cache is not None and cache.is_file():
        with cache.open("rb") as fh:
            data = pickle.load(fh)  # a file this script wrote (--rows-cache)
        print(f"calibration rows from {cache}", file=sys.stderr)
    else:
        data = offset_data(args.shared, args.folds)
        if cache is not None:
            with cache.open("wb") as fh:
                pickle.dump(data, fh)
    results = {}
    full = {}
    strengths = [float(v) for v in args.category_l2.split(",")]
    rules = [r for r in OFFSET_RULES if r in args.rules.split(",")]
    if not rules:
        raise SystemExit(f"--rules: one or more of {', '.join(OFFSET_RULES)}")
    for rule, l2 in _offset_candidates(rules, strengths):
        key = rule if len(strengths) == 1 else f"{rule} (L2 {l2:g})"
        print(f"cross-validating offsets {key!r}", file=sys.stderr, flush=True)
        results[key] = offsets_report(data, cross_validate(data, rule, args.folds, category_l2=l2))
        temperature, calibrator = calibrate_default(
            data.train.rows,
            data.dev.rows,
            data.dev_share,
            data.clinc.rows,
            data.clinc_share,
            offsets=rule,
            category_l2=l2,
        )
        full[key] = {
            "temperature": round(temperature, 4),
            "offsets": {
                c: round(float(v), 3)
                for c, v in zip(data.categories, calibrator[-len(data.categories) :], strict=True)
                if v
            },
        }
        if rule == "lower" and l2 == CATEGORY_L2:  # the shipped rule and strength: the same
            # calibrator as the shipped model's?
            shipped = LocalClassifier.from_dir(ROOT / "connector" / "classify" / "model")
            full[key]["max_difference_to_shipped_calibrator"] = float(
                np.abs(calibrator - shipped.calibrator).max()
            )
    print(
        json.dumps(
            {
                "rows": {
                    "train_out_of_fold": len(data.train.rows),
                    "dev": len(data.dev.rows),
                    "clinc150_dev": len(data.clinc.rows),
                },
                "folds": args.folds,
                "dev_share": round(data.dev_share, 4),
                "clinc_share": data.clinc_share,
                "results": results,
                "fitted_on_all_rows": full,
            },
            indent=2,
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--shares", default="auto,0.5,0.75,0.9", help="comma-separated dev shares; auto = by counts"
    )
    parser.add_argument(
        "--offsets",
        action="store_true",
        help="compare the per-category offset rules (none, lower = shipped, either)",
    )
    parser.add_argument(
        "--rules",
        default=",".join(OFFSET_RULES),
        help=f"with --offsets: comma-separated offset rules to compare ({', '.join(OFFSET_RULES)})",
    )
    parser.add_argument(
        "--category-l2",
        default=f"{CATEGORY_L2:g}",
        help="with --offsets: comma-separated L2 strengths of the offsets to compare "
        f"(shipped: {CATEGORY_L2:g})",
    )
    parser.add_argument(
        "--rows-cache",
        default="",
        help="with --offsets: keep the calibration rows in this file and read them from it on "
        "the next run (skips fitting the model; delete it after changing the code or the data)",
    )
    args = parser.parse_args(argv)
    return offsets_cv(args) if args.offsets else shares_cv(args)


if __name__ == "__main__":
    raise SystemExit(main())
