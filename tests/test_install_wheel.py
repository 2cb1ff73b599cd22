"""A plain `pip install` of the built wheel (no extras, outside the repository) runs what the docs
promise: `deskguard --version`, `deskguard demo --once` and `deskguard zendesk package-app`.

Slow (it builds a wheel and installs it, pinned by constraints.txt, into a new virtualenv); the
package registry or pip's cache must be reachable, as for `make`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A new virtualenv with only the built wheel and its runtime dependencies."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(work / "dist"),
            str(ROOT),
        ],
        check=True,
        timeout=600,
    )
    (wheel,) = (work / "dist").glob("deskguard-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--constraint",
            str(ROOT / "constraints.txt"),
            str(wheel),
        ],
        check=True,
        timeout=900,
    )
    return venv


def run(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKGUARD_")}
    return subprocess.run(
        [str(venv / "bin" / "deskguard"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_no_dev_tool_is_installed(installed):
    names = subprocess.run(
        [str(installed / "bin" / "python"), "-m", "pip", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed_names = {p["name"].lower() for p in json.loads(names)}
    assert not installed_names & {"pytest", "ruff", "mypy", "selenium", "hypothesis"}


def test_version_demo_and_app_package_run_from_the_wheel(installed, tmp_path):
    version = run(installed, "--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("deskguard "), version.stderr

    demo = run(installed, "demo", "--once", "--json", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr[-3000:]
    summary = json.loads(demo.stdout[demo.stdout.index("{") :])
    assert summary

    package = run(
        installed,
        "zendesk",
        "package-app",
        "--sidecar-url",
        "https://deskguard.example.com",
        "--out",
        "app.zip",
        cwd=tmp_path,
    )
    assert package.returncode == 0, package.stderr[-3000:]
    with zipfile.ZipFile(tmp_path / "app.zip") as zf:
        assert "manifest.json" in zf.namelist()
