"""`deskguard demo --once`: the whole product on its embedded defaults, end to end (what CI
runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

BIN = os.path.join(os.path.dirname(sys.executable), "deskguard")


def test_demo_once_shows_every_mode(tmp_path, ledger_location):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKGUARD_")}
    if ledger_location.startswith("postgresql://"):  # the PostgreSQL run: the demo on the server
        env["DESKGUARD_DATABASE_URL"] = ledger_location
    out = subprocess.run(
        [BIN, "demo", "--once", "--json", "--port", "0"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=240,
    )
    assert out.returncode == 0, (out.stdout.decode()[-3000:], out.stderr.decode()[-3000:])
    summary = json.loads(out.stdout)
    assert summary["ok"] is True
    outcomes = {t["shows"].split(":")[0]: t["outcome"] for t in summary["tickets"]}
    assert outcomes["auto"] == "auto_reply"
    assert outcomes["assist"] == "assist_note"
    assert outcomes["escalation"] == "escalate"
    assert outcomes["shadow"] == "shadow"
    assert outcomes["blocked"] == "blocked"
    shadow = next(t for t in summary["tickets"] if t["outcome"] == "shadow")
    assert shadow["written_to_zendesk"] == []
    auto = next(t for t in summary["tickets"] if t["outcome"] == "auto_reply")
    assert "public reply" in auto["written_to_zendesk"]
