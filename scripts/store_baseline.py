"""The reference a store model is compared with: a plain TF-IDF + logistic regression trained
only on the store's own labelled history.

It is the baseline the quality targets name ("macro-F1 well above what a plain model trained
only on the store's history reaches"), built with scikit-learn's defaults and nothing tuned:
``TfidfVectorizer()`` over the subject and body, ``LogisticRegression(max_iter=1000)``. It
writes one reading per ticket (category = the most probable class, confidence = its
probability), in the shape ``deskguard classify`` prints, so the same ``deskguard eval`` scores
it:

    .venv/bin/python scripts/store_baseline.py --history tests/data/store_history.jsonl \\
        --input tests/data/store_new.jsonl --output /tmp/baseline.jsonl
    .venv/bin/deskguard eval --input tests/data/store_new.jsonl --readings /tmp/baseline.jsonl

A class the history lacks can never be read (the baseline knows only the store's labels).
scikit-learn is a dev dependency (``pip install -e '.[dev]'``); the product never imports this.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from connector.classify.train import read_jsonl  # noqa: E402

MODEL_NAME = "tfidf-logreg-store-only"


def _text(subject: str, body: str) -> str:
    return f"{subject}\n{body}" if subject else body


def readings(history: list[Path], tickets: Path) -> list[dict]:
    """Fit on the history files, read every ticket of ``tickets``."""
    train = [ex for path in history for ex in read_jsonl(path)]
    labels = sorted({ex.label for ex in train})
    if len(labels) < 2:
        raise SystemExit("the history needs at least two different labels")
    model = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000))
    model.fit([_text(ex.subject, ex.body) for ex in train], [ex.label for ex in train])
    targets = read_jsonl(tickets, require_label=False)
    probs = model.predict_proba([_text(ex.subject, ex.body) for ex in targets])
    classes = list(model.classes_)
    out = []
    for ex, row in zip(targets, probs, strict=True):
        best = int(row.argmax())
        out.append(
            {
                "id": ex.id,
                "category": classes[best],
                "confidence": round(float(row[best]), 4),
                "model": f"{MODEL_NAME} ({len(train)} tickets, {len(classes)} labels)",
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--history", type=Path, action="append", required=True, help="labelled JSONL (repeatable)"
    )
    parser.add_argument("--input", type=Path, required=True, help="tickets to read (JSONL)")
    parser.add_argument("--output", type=Path, required=True, help="readings to write (JSONL)")
    args = parser.parse_args(argv)
    rows = readings(args.history, args.input)
    args.output.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    print(f"{len(rows)} readings written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
