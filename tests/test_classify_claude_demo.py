"""`deskguard demo --once --engine claude`: the whole product reading with Claude Haiku 5.5
through the built-in Anthropic emulator (structured output, no forced tool use refused, no
fallback to the local model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

BIN = os.path.join(os.path.dirname(sys.executable), "deskguard")


def test_demo_once_with_claude_shows_every_mode_without_a_fallback(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKGUARD_")}
    out = subprocess.run(
        [BIN, "demo", "--once", "--json", "--port", "0", "--engine", "claude"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=240,
    )
    stderr = out.stderr.decode()
    assert out.returncode == 0, (out.stdout.decode()[-3000:], stderr[-3000:])
    summary = json.loads(out.stdout)
    assert summary["ok"] is True
    outcomes = {t["shows"].split(":")[0]: t["outcome"] for t in summary["tickets"]}
    assert outcomes["auto"] == "auto_reply" and outcomes["escalation"] == "escalate"
    assert "classify.claude.fallback" not in stderr
    assert "forced_tool_use_refused" not in stderr
