"""Check that a speed change to the local engine changes no reading.

``dump`` reads every ticket of the evaluation sets named in docs/QUALITY.md (and the long
messages ``deskguard bench local`` builds from the evaluation set) with the shipped model of the
tree at ``--root`` and writes one JSON line per ticket: the category, the unrounded confidence,
the language and every other field of the Reading except its latency. ``compare`` reads two dumps
and fails on any difference (confidence: more than 1e-9). The sets are read here only to compare
two versions of the code, never to choose anything.

    .venv/bin/python scripts/reading_identity.py dump --root /tmp/before /tmp/before.jsonl
    .venv/bin/python scripts/reading_identity.py dump --root . /tmp/after.jsonl
    .venv/bin/python scripts/reading_identity.py compare /tmp/before.jsonl /tmp/after.jsonl

``cpu`` times the same long messages ``deskguard bench local`` builds (``--chars N`` or
``--join N``) in *process CPU time* per reading, which another process on the same core does not
inflate the way it inflates wall time: each pass with a freshly loaded model and emptied per-word
caches (cold), then three warm passes; ``--passes`` times, min and median printed. Run it for the
two trees alternately (``taskset -c 0``, ``OPENBLAS_NUM_THREADS=1``).

    .venv/bin/python scripts/reading_identity.py cpu --root /tmp/before --chars 1500
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets"
SETS = (
    ("clinc150-test", SHARED / "clinc150-test.jsonl"),
    ("chat_like", ROOT / "tests" / "data" / "chat_like.jsonl"),
    ("eval_tickets", ROOT / "tests" / "data" / "eval_tickets.jsonl"),
    ("stores_heldout", ROOT / "tests" / "data" / "stores_heldout.jsonl"),
    ("store_new", ROOT / "tests" / "data" / "store_new.jsonl"),
    ("store_history", ROOT / "tests" / "data" / "store_history.jsonl"),
    ("ridgeline_new", ROOT / "tests" / "data" / "ridgeline_new.jsonl"),
    ("ridgeline_history", ROOT / "tests" / "data" / "ridgeline_history.jsonl"),
    ("lang_phrases", ROOT / "tests" / "data" / "lang_phrases.jsonl"),
    ("bitext-dev", SHARED / "bitext-dev.jsonl"),
    ("banking77-test", SHARED / "banking77-test.jsonl"),
)
TOLERANCE = 1e-9


def _texts():
    """(set name, ticket id, TicketText) of every set, plus the bench's long messages."""
    from connector.classify.train import read_jsonl
    from connector.devkit.bench.local import _lengthened
    from connector.domain import TicketText

    for name, path in SETS:
        tickets = read_jsonl(path, require_label=False)
        for ex in tickets:
            yield name, ex.id, TicketText(ex.subject, ex.body, ex.id)
    tickets = read_jsonl(SETS[2][1], require_label=False)
    for chars in (650, 1500):
        for text in _lengthened(tickets, chars):
            yield f"eval_tickets --chars {chars}", text.id, text
    for join in (5, 10):
        for i in range(0, len(tickets), join):
            group = tickets[i : i + join]
            body = "\n\n".join(ex.body for ex in group)
            yield f"eval_tickets --join {join}", group[0].id, TicketText(group[0].subject, body)


def dump(root: Path, out: Path) -> int:
    sys.path.insert(0, str(root))  # before the first import of connector: that tree's code reads
    from connector.classify.local import LocalClassifier

    model = LocalClassifier.load(None)
    count = 0
    with out.open("w", encoding="utf-8") as fh:
        for name, ident, text in _texts():
            scored = model.score(text.subject, text.body)
            reading = dataclasses.asdict(model.classify(text))
            reading.pop("latency_ms")
            line = {
                "set": name,
                "id": ident,
                "category": scored.category,
                "confidence": scored.confidence,
                "reading": reading,
            }
            fh.write(json.dumps(line, sort_keys=True, default=str) + "\n")
            count += 1
    print(f"{count} readings by {model.model_id} from {model.path} -> {out}")
    return 0


def cpu(root: Path, chars: int, join: int, passes: int) -> int:
    sys.path.insert(0, str(root))  # before the first import of connector: that tree's code reads
    import statistics
    import time

    from connector.classify.local import LocalClassifier
    from connector.classify.signals import clear_caches
    from connector.classify.signals.language import warm_up
    from connector.classify.train import read_jsonl
    from connector.devkit.bench.local import _lengthened
    from connector.domain import TicketText

    warm_up()
    tickets = read_jsonl(SETS[2][1], require_label=False)
    if chars:
        texts = _lengthened(tickets, chars)
    else:
        groups = [tickets[i : i + join] for i in range(0, len(tickets), join)]
        texts = [TicketText(g[0].subject, "\n\n".join(ex.body for ex in g)) for g in groups]
    path = LocalClassifier.load(None).path
    cold, warm = [], []
    for _ in range(passes):
        model = LocalClassifier.from_dir(path)
        clear_caches()
        started = time.process_time()
        for text in texts:
            model.classify(text)
        cold.append((time.process_time() - started) / len(texts) * 1e6)
        started = time.process_time()
        for _ in range(3):
            for text in texts:
                model.classify(text)
        warm.append((time.process_time() - started) / (3 * len(texts)) * 1e6)
    print(
        json.dumps(
            {
                "root": str(root),
                "model": model.model_id,
                "tickets": len(texts),
                "mean_chars": round(statistics.mean(len(t.subject) + len(t.body) for t in texts)),
                "cold_cpu_us_per_reading": {
                    "min": round(min(cold)),
                    "median": round(statistics.median(cold)),
                },
                "warm_cpu_us_per_reading": {
                    "min": round(min(warm)),
                    "median": round(statistics.median(warm)),
                },
            }
        )
    )
    return 0


def compare(first: Path, second: Path) -> int:
    a = [json.loads(line) for line in first.read_text(encoding="utf-8").splitlines()]
    b = [json.loads(line) for line in second.read_text(encoding="utf-8").splitlines()]
    if len(a) != len(b):
        print(f"different number of readings: {len(a)} and {len(b)}")
        return 1
    differences = 0
    per_set: dict[str, int] = {}
    worst = 0.0
    for x, y in zip(a, b, strict=True):
        per_set[x["set"]] = per_set.get(x["set"], 0) + 1
        gap = abs(x["confidence"] - y["confidence"])
        worst = max(worst, gap)
        same = (
            (x["set"], x["id"]) == (y["set"], y["id"])
            and x["category"] == y["category"]
            and gap <= TOLERANCE
            and x["reading"] == y["reading"]
        )
        if not same:
            differences += 1
            if differences <= 10:
                print(f"differs: {x['set']} {x['id']}\n  {x}\n  {y}")
    for name, n in per_set.items():
        print(f"{name}: {n} readings")
    print(
        f"{len(a)} readings compared; {differences} differ; largest confidence gap {worst:.3g} "
        "(languages, categories and every other Reading field compared exactly)"
    )
    return 1 if differences else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump")
    d.add_argument("--root", default=str(ROOT), help="the source tree whose code reads")
    d.add_argument("out")
    c = sub.add_parser("compare")
    c.add_argument("first")
    c.add_argument("second")
    t = sub.add_parser("cpu")
    t.add_argument("--root", default=str(ROOT), help="the source tree whose code reads")
    t.add_argument("--chars", type=int, default=0)
    t.add_argument("--join", type=int, default=1)
    t.add_argument("--passes", type=int, default=5)
    args = parser.parse_args(argv)
    if args.command == "cpu":
        return cpu(Path(args.root).resolve(), args.chars, args.join, args.passes)
    if args.command == "dump":
        return dump(Path(args.root).resolve(), Path(args.out))
    return compare(Path(args.first), Path(args.second))


if __name__ == "__main__":
    raise SystemExit(main())
