"""The deploy kit: what the container image runs, run here outside a container (no container
runtime on the CI machines), plus static checks of the Dockerfile, compose file and systemd units.

Not run here: `docker build` and the compose stack itself (see docs/deploy.md).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet

from connector.cli import cli

ROOT = Path(__file__).resolve().parents[1]
ENTRYPOINT = ROOT / "deploy" / "docker" / "entrypoint.sh"
BIN_DIR = os.path.dirname(sys.executable)


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def healthcheck_argv() -> list[str]:
    """The HEALTHCHECK command of the Dockerfile, as an argv list."""
    text = dockerfile().replace("\\\n", " ")
    match = re.search(r"HEALTHCHECK .*?CMD (\[.*\])", text)
    assert match, "Dockerfile has no exec-form HEALTHCHECK"
    return json.loads(match.group(1))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def env(tmp_path):
    (tmp_path / "data").mkdir()  # the image's /data volume
    return {
        **os.environ,
        "PATH": BIN_DIR + os.pathsep + os.environ.get("PATH", ""),
        "DESKGUARD_DB_PATH": str(tmp_path / "data" / "deskguard.db"),
        "DESKGUARD_BACKUP_DIR": str(tmp_path / "data" / "backups"),
        "DESKGUARD_TENANT_ID": "acme",
        "DESKGUARD_SECRET_KEYS": Fernet.generate_key().decode(),
        "DESKGUARD_LOG_FORMAT": "json",
    }


def run_healthcheck(port: int, env: dict) -> int:
    argv = [a.replace("8000", str(port)) for a in healthcheck_argv()]
    argv[0] = sys.executable if argv[0] == "python" else argv[0]
    return subprocess.run(argv, env=env, capture_output=True, timeout=60).returncode


def wait_ready(port: int, proc: subprocess.Popen, deadline_s: float = 180) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the web entrypoint exited before it was ready"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as res:
                if res.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("web never became ready")


def test_image_runs_as_non_root_from_slim_with_a_readyz_health_check():
    text = dockerfile()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1] not in ("root", "0")
    assert "/readyz" in " ".join(healthcheck_argv())
    assert "--constraint constraints.txt" in text and "[dev]" not in text
    for line in re.findall(r"^COPY (.+)$", text, re.M):
        for source in line.split()[:-1]:
            assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"


def test_compose_runs_web_one_worker_and_backups_on_one_volume():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"web", "worker", "backup"}
    assert services["web"]["command"][0] == "web"
    assert services["worker"]["command"][0] == "worker"
    assert services["backup"]["command"][0] == "backup-loop"
    for service in services.values():
        assert service["volumes"] == ["ledger:/data"]
        assert service.get("deploy", {}).get("replicas", 1) == 1
    assert "ledger" in compose["volumes"]


def test_postgres_compose_runs_n_web_and_m_standby_workers_on_one_server():
    compose = yaml.safe_load((ROOT / "compose.postgres.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "web", "worker", "backup"}
    password = "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}"
    url = f"postgresql://deskguard:{password}@postgres:5432/deskguard"
    for name in ("migrate", "web", "worker", "backup"):
        assert services[name]["environment"]["DESKGUARD_DATABASE_URL"] == url, name
        assert "ledger:/data" not in services[name].get("volumes", [])  # no shared file ledger
    assert services["web"]["deploy"]["replicas"] >= 2
    assert services["worker"]["deploy"]["replicas"] >= 2
    argv = services["worker"]["command"]
    assert argv[:2] == ["worker", "--standby"]
    # Every command the containers run is a real one, with options the command has.
    worker_opts = {o for p in cli.commands["worker"].params for o in p.opts}
    assert set(a for a in argv[1:] if a.startswith("--")) <= worker_opts
    assert services["migrate"]["command"] == ["migrate"]
    for name in ("web", "worker", "backup"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"}
        }
    assert services["postgres"]["image"].startswith("postgres:15")
    assert "postgresql-client" in (ROOT / "Dockerfile").read_text()


def test_systemd_units_run_real_commands():
    for unit in (ROOT / "deploy" / "systemd").glob("*.service"):
        for line in unit.read_text().splitlines():
            if line.startswith(("ExecStart=", "ExecStartPre=")):
                argv = shlex.split(line.split("=", 1)[1])
                assert argv[0].endswith("/deskguard"), line
                assert argv[1] in cli.commands, f"{unit.name}: no command {argv[1]!r}"
    timer = (ROOT / "deploy" / "systemd" / "deskguard-backup.timer").read_text()
    assert "OnCalendar=" in timer and "Persistent=true" in timer


@pytest.mark.slow
def test_entrypoint_migrates_serves_and_the_health_check_follows_readiness(env):
    migrated = subprocess.run(
        [str(ENTRYPOINT), "migrate"], env=env, capture_output=True, text=True, timeout=120
    )
    assert migrated.returncode == 0, migrated.stderr
    assert json.loads(migrated.stdout)["pending"] == []

    port = free_port()
    web = subprocess.Popen(
        [str(ENTRYPOINT), "web", "--workers", "1", "--threads", "2"],
        env={**env, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_ready(port, web)
        assert run_healthcheck(port, env) == 0
    finally:
        web.send_signal(signal.SIGTERM)
        web.communicate(timeout=60)
    assert run_healthcheck(port, env) != 0  # nothing listens any more


@pytest.mark.slow
def test_entrypoint_backup_loop_writes_a_verified_backup(env, tmp_path):
    subprocess.run([str(ENTRYPOINT), "migrate"], env=env, check=True, capture_output=True)
    loop = subprocess.Popen(
        [str(ENTRYPOINT), "backup-loop"],
        env={**env, "BACKUP_INTERVAL_SECONDS": "3600"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        # The first backup's JSON is printed once the copy is verified and in place; it ends
        # with a closing brace at the start of a line.
        assert loop.stdout is not None
        lines = []
        for line in loop.stdout:
            lines.append(line)
            if line == "}\n":
                break
        made = json.loads("".join(lines))
    finally:
        os.killpg(loop.pid, signal.SIGTERM)
        loop.communicate(timeout=30)
    assert Path(made["path"]).parent == tmp_path / "data" / "backups"
    assert Path(made["path"]).is_file() and "jobs" in made["rows"]


def test_every_dependency_has_an_upper_bound_and_a_pin():
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line
    }
    for text in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
        req = Requirement(text)
        assert any(spec.operator in ("<", "<=", "==", "~=") for spec in req.specifier), text
        assert req.name.lower().replace("_", "-") in pins, f"{req.name} is not in constraints.txt"
