"""``deskguard redact --input F.jsonl``: what would leave the machine, and clear errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_sec_redaction_layouts import CARDS, LAYOUTS, leaks

from connector.cli import cli


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(cli, ["redact", *args], input=stdin)


def write(tmp_path, *lines: str):
    path = tmp_path / "tickets.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_each_line_is_printed_with_subject_and_body_redacted(tmp_path):
    path = write(
        tmp_path,
        json.dumps(
            {
                "id": "t1",
                "subject": "Refund to 4111\t1111\t1111\t1111",
                "body": "Card ٤١١١ ١١١١ ١١١١ ١١١١, mail jane@example.com, order #1001",
                "label": "refund",
            },
            ensure_ascii=False,
        ),
        "",
        json.dumps({"subject": "Where is my order?"}),
    )
    r = run("--input", path)
    assert r.exit_code == 0, r.output
    first, second = (json.loads(line) for line in r.output.splitlines())
    assert first == {
        "id": "t1",
        "subject": "Refund to [CARD_1]",
        "body": "Card [CARD_1], mail [EMAIL_1], order #1001",
        "redactions": {"CARD": 1, "EMAIL": 1},
    }
    assert second == {"id": 3, "subject": "Where is my order?", "body": "", "redactions": {}}


def test_no_layout_survives_the_command(tmp_path):
    rows = [
        json.dumps({"id": f"{name}-{pan}", "subject": "card", "body": LAYOUTS[name](pan)})
        for name in LAYOUTS
        for pan in CARDS[:3]
    ]
    r = run("--input", write(tmp_path, *rows))
    assert r.exit_code == 0, r.output
    out = [json.loads(line) for line in r.output.splitlines()]
    assert len(out) == len(rows)
    assert not [o["id"] for o in out if any(leaks(o["body"], pan) for pan in CARDS)]


def test_reads_stdin():
    r = run("--input", "-", stdin='{"id": 1, "body": "card 5555-5555-5555-4444"}\n')
    assert r.exit_code == 0 and json.loads(r.output)["body"] == "card [CARD_1]"


def test_help_has_an_example():
    r = run("--help")
    assert r.exit_code == 0 and "Example: deskguard redact --input" in r.output


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"id": 1, "body": "ok"}', "not json"], "tickets.jsonl:2: not valid JSON"),
        (['{"id": 1}', "[1, 2]"], "tickets.jsonl:2: expected a JSON object"),
        (['{"id": 1, "body": 5}'], 'tickets.jsonl:1: "subject" and "body" must be strings'),
    ],
)
def test_a_bad_line_is_named_and_nothing_is_printed(tmp_path, lines, message):
    r = run("--input", write(tmp_path, *lines))
    assert r.exit_code == 1
    assert message in r.output
    assert '"redactions"' not in r.output  # checked before anything is printed


def test_a_missing_file_is_a_clear_error(tmp_path):
    r = run("--input", str(tmp_path / "nope.jsonl"))
    assert r.exit_code == 1 and "cannot read" in r.output and "No such file" in r.output


def test_the_input_option_is_required():
    r = run()
    assert r.exit_code == 2 and "--input" in r.output
