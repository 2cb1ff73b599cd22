"""`deskguard eval --readings`: scoring readings made elsewhere (`deskguard classify` output,
another system's answers, the store-only baseline) with the same report, and refusing files
it cannot score."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from connector.cli import cli

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


def invoke(cli_runner, *args):
    return cli_runner.invoke(cli, list(args), obj={})


def write_lines(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def eval_json(cli_runner, *args) -> dict:
    result = invoke(cli_runner, "eval", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_classify_output_scored_by_eval_gives_the_same_report(cli_runner, tmp_path):
    tickets = str(DATA / "store_new.jsonl")
    classified = invoke(cli_runner, "classify", "--input", tickets)
    assert classified.exit_code == 0, classified.output
    readings = tmp_path / "readings.jsonl"
    readings.write_text(classified.output, encoding="utf-8")

    direct = eval_json(cli_runner, "--input", tickets, "--by", "lang")
    scored = eval_json(cli_runner, "--input", tickets, "--by", "lang", "--readings", str(readings))

    assert scored.pop("engine") == "readings" and scored.pop("readings") == str(readings)
    assert direct.pop("engine") == "local"
    assert scored == direct  # every figure, the per-language detection accuracy included


def test_readings_can_come_from_stdin(cli_runner, tmp_path):
    tickets = write_lines(tmp_path / "t.jsonl", [{"id": "a", "body": "x", "label": "refund"}])
    line = json.dumps({"id": "a", "category": "refund", "confidence": 0.97}) + "\n"
    result = cli_runner.invoke(
        cli, ["eval", "--json", "--input", str(tickets), "--readings", "-"], obj={}, input=line
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["accuracy"] == 1.0 and report["at_threshold"][-2]["answered"] == 1
    both = invoke(cli_runner, "eval", "--input", "-", "--readings", "-")
    assert both.exit_code == 2 and "only one of --input and --readings" in both.output


def test_readings_for_other_tickets_are_ignored_and_order_does_not_matter(cli_runner, tmp_path):
    tickets = write_lines(
        tmp_path / "t.jsonl",
        [
            {"id": "a", "body": "where is my parcel", "label": "order_status"},
            {"id": "b", "body": "hello", "label": "other"},
        ],
    )
    readings = write_lines(
        tmp_path / "r.jsonl",
        [
            {"id": "z", "category": "refund", "confidence": 0.99},
            {"id": "b", "category": "refund", "confidence": 0.95},
            {"id": "a", "category": "order_status", "confidence": 0.91, "model": "vendor-x"},
        ],
    )
    report = eval_json(cli_runner, "--input", str(tickets), "--readings", str(readings))
    assert report["tickets"] == 2 and report["accuracy"] == 0.5
    assert report["off_topic_read_confident"] == 1  # "hello" read as refund at 0.95
    at_90 = next(r for r in report["at_threshold"] if r["threshold"] == 0.9)
    assert (at_90["answered"], at_90["wrong"]) == (2, 1)
    # 1 right of 2 answered: the precision is 0.5, and could well be as low as 0.095 (Wilson 95 %)
    assert at_90["precision"] == 0.5 and at_90["precision_lower_95"] == pytest.approx(
        0.0945, abs=1e-4
    )
    assert report["models"] == ["vendor-x"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "r.jsonl:1: not valid JSON"),
        ('["a"]', "r.jsonl:1: expected a JSON object"),
        ('{"category": "refund", "confidence": 0.5}', 'r.jsonl:1: missing "id"'),
        ('{"id": 1.5, "category": "refund", "confidence": 0.5}', '"id" must be a string'),
        ('{"id": "a", "category": "refunds", "confidence": 0.5}', "unknown category 'refunds'"),
        ('{"id": "a", "category": "refund", "confidence": 1.5}', "from 0 to 1"),
        ('{"id": "a", "category": "refund", "confidence": NaN}', "from 0 to 1"),
        ('{"id": "a", "category": "refund", "confidence": "0.9"}', "from 0 to 1"),
        ('{"id": "a", "category": "refund", "confidence": true}', "from 0 to 1"),
        ('{"id": "a", "category": "refund"}', "from 0 to 1"),
    ],
)
def test_a_reading_that_cannot_be_scored_is_refused_with_its_line(
    cli_runner, tmp_path, line, message
):
    tickets = write_lines(tmp_path / "t.jsonl", [{"id": "a", "body": "x", "label": "refund"}])
    readings = tmp_path / "r.jsonl"
    readings.write_text(line + "\n", encoding="utf-8")
    result = invoke(cli_runner, "eval", "--input", str(tickets), "--readings", str(readings))
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output


def test_missing_duplicate_and_ambiguous_readings_are_refused(cli_runner, tmp_path):
    tickets = write_lines(
        tmp_path / "t.jsonl",
        [{"id": i, "body": "x", "label": "refund"} for i in ("a", "b", "c")],
    )
    one = {"id": "a", "category": "refund", "confidence": 0.5}
    cases = {
        "missing": ([one], "no reading for ticket b (and 1 more)"),
        "twice": ([one, one], "r.jsonl:2: a second reading for ticket a"),
        "empty": ([], "no readings"),
    }
    for rows, message in cases.values():
        readings = write_lines(tmp_path / "r.jsonl", rows)
        result = invoke(cli_runner, "eval", "--input", str(tickets), "--readings", str(readings))
        assert result.exit_code != 0 and message in result.output, result.output

    doubled = write_lines(
        tmp_path / "d.jsonl",
        [{"id": "a", "body": "x", "label": "refund"}, {"id": "a", "body": "y", "label": "other"}],
    )
    readings = write_lines(tmp_path / "r.jsonl", [one])
    result = invoke(cli_runner, "eval", "--input", str(doubled), "--readings", str(readings))
    assert result.exit_code != 0 and "ticket id a appears twice" in result.output


def test_readings_exclude_a_model_or_engine(cli_runner, tmp_path):
    tickets = write_lines(tmp_path / "t.jsonl", [{"id": "a", "body": "x", "label": "refund"}])
    readings = write_lines(
        tmp_path / "r.jsonl", [{"id": "a", "category": "refund", "confidence": 0.5}]
    )
    for extra in (["--model", str(tmp_path)], ["--engine", "claude"]):
        result = invoke(
            cli_runner, "eval", "--input", str(tickets), "--readings", str(readings), *extra
        )
        assert result.exit_code == 2 and "no --model or --engine" in result.output


def test_the_store_only_baseline_writes_readings_eval_scores(cli_runner, tmp_path):
    """scripts/store_baseline.py (scikit-learn, trained on the store's history only): one reading
    per new ticket, only labels the history has, the same file from a second run."""
    out = [tmp_path / "one.jsonl", tmp_path / "two.jsonl"]
    for path in out:
        done = subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "store_baseline.py"),
                "--history",
                str(DATA / "store_history.jsonl"),
                "--input",
                str(DATA / "store_new.jsonl"),
                "--output",
                str(path),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    assert out[0].read_bytes() == out[1].read_bytes()
    rows = [json.loads(line) for line in out[0].read_text(encoding="utf-8").splitlines()]
    new_ids = [json.loads(line)["id"] for line in (DATA / "store_new.jsonl").open()]
    assert [r["id"] for r in rows] == new_ids
    history_labels = {json.loads(line)["label"] for line in (DATA / "store_history.jsonl").open()}
    assert {r["category"] for r in rows} <= history_labels
    assert rows[0]["model"].startswith("tfidf-logreg-store-only (117 tickets")

    report = eval_json(
        cli_runner, "--input", str(DATA / "store_new.jsonl"), "--readings", str(out[0])
    )
    # A model that learnt the labels (not, say, a shuffled mapping) reads most new tickets of
    # its own store right even with 117 tickets of history.
    assert report["accuracy"] > 0.4
