"""Every `deskguard bench` command runs to the end on its smallest inputs.

The figures themselves belong in docs/BENCHMARKS.md (never asserted here); this only keeps the
commands working as the product's wiring changes under them.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from connector.cli import cli

SMALLEST = {
    "backup": ["--decisions", "50", "--dir", "."],
    "claude": ["--tickets", "3"],
    "crash": ["--rounds", "1", "--per-round", "3"],
    "hold": ["--tickets", "3", "--seconds", "1"],
    "intake": ["--calls-only", "--tickets", "3"],
    "local": ["--seconds", "0.1", "--loads", "1", "--cold-passes", "1"],
    "metrics": ["--decisions", "50", "--scrapes", "1", "--dir", "."],
    "panel": ["--decisions", "10", "--requests", "5", "--tickets", "3"],
    "pipeline": [
        "--tickets",
        "5",
        "--threads",
        "1",
        "--sandbox-tickets",
        "2",
        "--cap-requests",
        "20",
    ],
    "queue": ["--jobs", "20", "--threads", "1"],
    "redact": ["--repeat", "1"],
    # SQLite only here; the PostgreSQL side runs in the benchmark itself (docs/BENCHMARKS.md).
    "scaleout": ["--engines", "sqlite", "--processes", "1", "--seconds", "0.5", "--jobs", "20"],
    "shopify": ["--lookups", "3", "--tickets", "3"],
    "stripe": ["--lookups", "3", "--webhooks", "3", "--refunds", "1"],
    "waits": ["--retry-after", "0.1", "--retry-after", "60", "--max-wait", "1"],
}


def test_the_table_names_every_bench_command():
    assert set(SMALLEST) == set(cli.commands["bench"].commands)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMALLEST))
def test_bench_command_runs_on_its_smallest_inputs(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["bench", name, *SMALLEST[name]], obj={})
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert isinstance(json.loads(result.output), dict)


@pytest.mark.slow
@pytest.mark.parametrize("vendor", ["zendesk", "shopify", "stripe", "anthropic"])
def test_sandbox_command_serves_until_sigterm(vendor):
    """`deskguard sandbox <vendor>` prints its URL as JSON, answers on it, and stops on SIGTERM."""
    import os
    import signal
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    binary = os.path.join(os.path.dirname(sys.executable), "deskguard")
    proc = subprocess.Popen(
        [binary, "sandbox", vendor, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        printed, info = b"", None
        while info is None:  # the JSON is printed once it is serving
            line = proc.stdout.readline()
            assert line, proc.stderr.read().decode()
            printed += line
            if line.startswith(b"}"):  # the closing brace of the top-level object
                info = json.loads(printed)
        url = info["url"]
        try:
            urllib.request.urlopen(f"{url}/", timeout=10)
        except urllib.error.HTTPError as exc:  # any HTTP answer shows it is serving
            assert exc.code < 500
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
