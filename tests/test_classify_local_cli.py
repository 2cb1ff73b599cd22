"""`deskguard classify`, `eval`, `train` and `bench local` on small files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.classify.local import LocalClassifier
from connector.cli import cli

DATA = Path(__file__).parent / "data"
TENANT = "acme"

TICKETS = [
    {
        "id": "a",
        "subject": "Where is my order #1001?",
        "body": "Ordered last week, no tracking yet.",
        "label": "order_status",
    },
    {
        "id": "b",
        "subject": "Cancel",
        "body": "Please cancel my order 5521, I ordered the wrong size.",
        "label": "cancel_order",
    },
    {
        "id": "c",
        "subject": "",
        "body": "Mein Anwalt wird sich melden, wenn ich mein Geld nicht zurückbekomme!",
        "label": "refund",
    },
]


@pytest.fixture
def tickets_file(tmp_path) -> Path:
    path = tmp_path / "tickets.jsonl"
    path.write_text(
        "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in TICKETS), encoding="utf-8"
    )
    return path


def invoke(cli_runner, *args, **kwargs):
    return cli_runner.invoke(cli, list(args), obj={}, **kwargs)


def test_classify_prints_one_reading_per_line(cli_runner, tickets_file):
    result = invoke(cli_runner, "classify", "--input", str(tickets_file))
    assert result.exit_code == 0, result.output
    readings = [json.loads(line) for line in result.output.splitlines()]
    assert [r["id"] for r in readings] == ["a", "b", "c"]
    assert readings[0]["category"] == "order_status" and readings[1]["category"] == "cancel_order"
    assert all(0 <= r["confidence"] <= 1 and len(r["alternatives"]) == 3 for r in readings)
    assert readings[0]["entities"]["order_numbers"] == ["#1001"]
    assert readings[2]["language"] == "de" and "legal_threat" in readings[2]["risk_flags"]
    assert readings[2]["urgency"] == "urgent"


def test_classify_reads_stdin(cli_runner, tickets_file):
    result = invoke(
        cli_runner, "classify", "--input", "-", input=tickets_file.read_text(encoding="utf-8")
    )
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 3


def test_classify_with_engine_claude_goes_through_the_engine_factory(
    cli_runner, tickets_file, config, secret_key
):
    # No Anthropic key is stored: the Claude engine answers with the local model and says why.
    result = invoke(
        cli_runner,
        "--db",
        config["db_path"],
        "classify",
        "--engine",
        "claude",
        "--tenant",
        TENANT,
        "--input",
        str(tickets_file),
        # The env tenant is created at start-up; --tenant must name a known tenant.
        env={"DESKGUARD_SECRET_KEYS": secret_key, "DESKGUARD_TENANT_ID": TENANT},
    )
    assert result.exit_code == 0, result.output
    readings = [json.loads(line) for line in result.stdout.splitlines()]
    readings = [
        r for r in readings if "category" in r
    ]  # the runtime's JSON log lines may share the stream
    assert [r["id"] for r in readings] == ["a", "b", "c"]
    assert all(
        r["engine"] == "local" and r["fallback_reason"].startswith("not_configured")
        for r in readings
    )


def test_eval_reports_every_figure(cli_runner, tickets_file):
    result = invoke(cli_runner, "eval", "--input", str(tickets_file), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["tickets"] == 3 and 0 <= report["accuracy"] <= 1
    assert {"macro_f1", "expected_calibration_error", "per_category", "confusion"} <= set(report)
    assert report["at_threshold"][0]["threshold"] == 0.5
    assert report["at_threshold"][-1]["threshold"] == 0.99
    assert set(report["per_category"]["order_status"]) >= {"precision", "recall", "f1", "support"}


def test_eval_text_report(cli_runner, tickets_file):
    result = invoke(cli_runner, "eval", "--input", str(tickets_file))
    assert result.exit_code == 0, result.output
    assert (
        "accuracy" in result.output
        and "confidence ≥" in result.output
        and "confusion" in result.output
    )


def test_eval_needs_labels(cli_runner, tmp_path):
    path = tmp_path / "unlabelled.jsonl"
    path.write_text('{"id": "1", "subject": "", "body": "hello"}\n')
    result = invoke(cli_runner, "eval", "--input", str(path))
    assert result.exit_code != 0 and 'unlabelled.jsonl:1: missing "label"' in result.output


def test_bad_json_is_a_friendly_error_with_the_line(cli_runner, tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"id": "1", "body": "ok"}\n{oops\n')
    result = invoke(cli_runner, "classify", "--input", str(path))
    assert result.exit_code != 0 and "broken.jsonl:2: not valid JSON" in result.output


def test_train_then_classify_with_the_tenant_model(cli_runner, tmp_path):
    history = [
        json.loads(line) for line in (DATA / "store_history.jsonl").read_text().splitlines()
    ][:40]
    path = tmp_path / "history.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in history))
    out = tmp_path / "tenant-model"
    result = invoke(
        cli_runner, "train", "--input", str(path), "--output", str(out), "--name", "acme"
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{") :])
    assert summary["examples"] == 40 and summary["model"].startswith("acme-")
    assert summary["store_curve"] is None  # under 60 tickets: no cross-validated curve
    assert (out / "model.json").is_file() and (out / "weights.npz").is_file()

    classified = invoke(cli_runner, "classify", "--model", str(out), "--input", str(path))
    assert classified.exit_code == 0, classified.output
    assert {json.loads(line)["model"] for line in classified.output.splitlines()} == {
        summary["model"]
    }
    assert LocalClassifier.load(out).model_id == summary["model"]


def test_bench_local_prints_measured_figures(cli_runner, tickets_file):
    result = invoke(
        cli_runner,
        "bench",
        "local",
        "--input",
        str(tickets_file),
        "--seconds",
        "0.2",
        "--loads",
        "1",
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["tickets"] == 3 and figures["warm_tickets_per_second"] > 0
    assert (
        figures["load_seconds"]["median"] > 0
        and figures["latency_ms"]["p99"] >= figures["latency_ms"]["p50"]
    )
    assert len(figures["first_passes_tickets_per_second"]) == 3  # --cold-passes default
    assert (
        figures["first_pass_tickets_per_second"]
        == sorted(figures["first_passes_tickets_per_second"])[1]
    )


def test_clearing_the_signal_caches_changes_no_reading():
    from connector.classify.signals import clear_caches, read_signals
    from connector.classify.signals.lexicon import LISTS

    text = (
        "Order #1001 never arrived",
        "I'm furious, my lawyer will call you tomorrow. Tracking 1Z999AA10123456784",
    )
    first = read_signals(*text)
    assert LISTS.cache  # it learnt per-word facts
    clear_caches()
    assert not LISTS.cache
    assert read_signals(*text) == first


def test_bench_local_lengthens_messages_to_time_long_emails(cli_runner, tickets_file):
    short = json.loads(
        invoke(
            cli_runner,
            "bench",
            "local",
            "--input",
            str(tickets_file),
            "--seconds",
            "0.1",
            "--loads",
            "1",
        ).output
    )
    result = invoke(
        cli_runner,
        "bench",
        "local",
        "--input",
        str(tickets_file),
        "--seconds",
        "0.1",
        "--loads",
        "1",
        "--chars",
        "400",
    )
    assert result.exit_code == 0, result.output
    long = json.loads(result.output)
    assert long["tickets"] == short["tickets"] and long["mean_chars"] > short["mean_chars"]


@pytest.mark.parametrize("command", [["classify"], ["eval"], ["train"], ["bench", "local"]])
def test_help_ends_with_an_example(cli_runner, command):
    result = invoke(cli_runner, *command, "--help")
    assert result.exit_code == 0 and "Example: deskguard " in result.output


def test_eval_by_a_field_reports_each_group(cli_runner, tmp_path):
    rows = [
        {**t, "store": store} for t, store in zip(TICKETS, ["north", "north", "south"], strict=True)
    ]
    rows[2]["lang"] = "de"
    path = tmp_path / "stores.jsonl"
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    result = invoke(
        cli_runner, "eval", "--input", str(path), "--json", "--by", "store", "--by", "lang"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert list(report["by_store"]) == ["north", "south"]
    assert (
        report["by_store"]["north"]["tickets"] == 2 and report["by_store"]["south"]["tickets"] == 1
    )
    assert set(report["by_lang"]) == {"de", "-"}
    overall = sum(g["accuracy"] * g["tickets"] for g in report["by_store"].values()) / 3
    assert round(overall, 4) == report["accuracy"]
    north = report["by_store"]["north"]
    assert (
        north["coverage_at_0.9"] * 2
        == sum(  # recomputed from the readings themselves
            json.loads(line)["confidence"] >= 0.9
            for line in invoke(cli_runner, "classify", "--input", str(path)).output.splitlines()[:2]
        )
    )
    text = invoke(cli_runner, "eval", "--input", str(path), "--by", "store")
    assert text.exit_code == 0 and "north" in text.output and "prec≥0.9" in text.output


def _fresh_python(code: str) -> str:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_classify_starts_without_loading_the_web_stack_or_the_ledger():
    """`deskguard classify` only needs the local model: no flask, vendor SDKs or sqlite_utils."""
    out = _fresh_python(
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from connector.cli import cli\n"
        "r = CliRunner().invoke(cli, ['classify', '--input', '-'],"
        ' input=\'{"id":"1","subject":"",\'\n'
        '                       \'"body":"where is my order #1001?"}\\n\', obj={})\n'
        "assert r.exit_code == 0, r.output\n"
        "print(r.output.strip())\n"
        "print(sorted(m for m in ('flask', 'sqlite_utils', 'stripe', 'zenpy', 'shopify',"
        " 'anthropic',\n"
        "      'connector.runtime', 'connector.classify.service') if m in sys.modules))\n"
    )
    reading, loaded = out.strip().splitlines()
    assert json.loads(reading)["category"] == "order_status"
    assert loaded == "[]"


def test_every_tenant_has_a_classifier_service():
    """The pipeline reads every ticket with the tenant's classifier: it is always built."""
    out = _fresh_python(
        "import tempfile, os\n"
        "from connector.runtime import Runtime\n"
        "from connector.db import migrate\n"
        "from connector.tenants import ensure_tenant\n"
        "rt = Runtime({'db_path': os.path.join(tempfile.mkdtemp(), 'l.db'), 'secret_keys': ''})\n"
        "migrate(rt.db)\n"
        "ensure_tenant(rt.db, 'acme')\n"
        "services = rt.services('acme')\n"
        "print(type(services.classifier).__name__, services.desk is None,"
        " sorted(services.problems))\n"
    )
    assert out.strip() == "TenantClassifier True ['desk', 'payments']"
