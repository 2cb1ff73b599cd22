"""How often the language of longer text is wrong, with and without lingua's second reading
(``signals.language.CONFIRM_SHARE``), on calibration data only.

Reads the text the classifier detects the language of (subject and latest message) for every
ticket of the packaged training and dev tickets (connector/classify/trainingdata/, devdata/,
each with its language) and of the shared datasets' English train/dev files `make model` reads
(CLINC150 train and dev, Bitext train). Never reads tests/data/ or CLINC150 test. For each
candidate share (``none`` = no second reading, the earlier behaviour) it prints, per length of
text, how many languages are wrong and how many texts needed the second reading.

    .venv/bin/python scripts/language_choice.py --shared ../shared/datasets
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connector.classify.signals import language  # noqa: E402
from connector.classify.text import message_text  # noqa: E402
from connector.classify.train import dev_examples, packaged_examples, read_jsonl  # noqa: E402

SHARED_ENGLISH = ("clinc150-train.jsonl", "clinc150-dev.jsonl", "bitext-train.jsonl")
BUCKETS = ((0, language.SHORT_TEXT), (language.SHORT_TEXT + 1, 120), (121, None))


def texts(shared: Path) -> list[tuple[str, str]]:
    """(text the language is read from, its true language) of every Latin-script ticket."""
    examples = packaged_examples() + dev_examples()
    for name in SHARED_ENGLISH:
        examples += read_jsonl(shared / name, require_label=False)
    out = []
    for ex in examples:
        text = message_text(ex.subject, ex.body)
        if (not text.isascii() and language._ANY_SCRIPT.search(text)) or not language._WORD.search(
            text
        ):
            continue  # named by its script, or no letters: lingua is not asked (detect_language)
        out.append((text, ex.lang or "en"))
    return out


def bucket(text: str) -> str:
    for low, high in BUCKETS:
        if len(text) >= low and (high is None or len(text) <= high):
            return f"{low}-{high}" if high is not None else f"{low}+"
    raise AssertionError(len(text))


def measure(rows: list[tuple[str, str]], share: float | None) -> dict:
    wrong: dict[str, list[int]] = {bucket(t): [0, 0] for t, _ in rows}
    second = 0
    started = time.process_time()
    for text, truth in rows:
        if share is not None and len(text) > language.SHORT_TEXT:
            second += _needed_second(text, share)
        found = language.library_language(text, confirm_share=share)
        found = found or language.stopword_language(text)
        counts = wrong[bucket(text)]
        counts[0] += found != truth
        counts[1] += 1
    return {
        "wrong / texts, by characters": {k: f"{w} / {n}" for k, (w, n) in sorted(wrong.items())},
        "wrong above the short-text limit": sum(
            w for k, (w, _) in wrong.items() if not k.startswith("0-")
        ),
        "second readings": second,
        "cpu_seconds": round(time.process_time() - started, 2),
    }


def _needed_second(text: str, share: float) -> bool:
    """Did the text need the high-accuracy reading (whatever it then said)?"""
    _, fast = language._Detectors.get()
    values = fast.compute_language_confidence_values(text[: language.MAX_TEXT])
    return (
        bool(values)
        and values[0].value > 0
        and language._code(values[0].language) != "en"
        and language._keeps_share(values, "en", share)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument(
        "--shares",
        default="none,0,0.01,0.05,0.1,0.2,0.3",
        help="comma-separated candidates for CONFIRM_SHARE (none = no second reading)",
    )
    args = parser.parse_args(argv)
    rows = texts(args.shared)
    language.warm_up()
    results = {}
    for raw in args.shares.split(","):
        share = None if raw == "none" else float(raw)
        results[raw] = measure(rows, share)
        print(f"{raw}: {json.dumps(results[raw])}", file=sys.stderr, flush=True)
    longer = sum(len(t) > language.SHORT_TEXT for t, _ in rows)
    print(
        json.dumps(
            {
                "texts": len(rows),
                "longer_than_short_text_limit": longer,
                "shipped": language.CONFIRM_SHARE,
                "results": results,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
