"""The `deskguard` command tree behaves the same everywhere: every command's help ends with an
example; every `--tenant` is one of the two shared options (connector/cli_context.py), defaults
to the env tenant (or, for the cross-tenant reads, every tenant) and refuses an unknown tenant
with one line naming it and the known ones; `--help` loads no heavy library."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from connector import cli_context
from connector.bootstrap import env_tenant_id
from connector.cli import cli
from connector.cli_context import TENANT_FILTER_HELP, TENANT_HELP, unknown_tenant_message
from connector.runtime import Runtime
from connector.tenants import ensure_tenant

ROOT = Path(__file__).resolve().parent.parent
TENANT = "acme"  # the env tenant of the conftest `runtime`
HEAVY = frozenset(
    {
        "lingua",
        "numpy",
        "flask",
        "werkzeug",
        "jinja2",
        "stripe",
        "zenpy",
        "anthropic",
        "shopify",
        "requests",
        "httpx",
        "graphql",
        "sqlite_utils",
        "cryptography",
        "apscheduler",
        "prometheus_client",
        "gunicorn",
    }
)


def walk(group: click.Group, path: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        yield (*path, name), cmd
        if isinstance(cmd, click.Group):
            yield from walk(cmd, (*path, name))


COMMANDS = list(walk(cli))


def tenant_param(cmd: click.Command) -> click.Option | None:
    for p in cmd.params:
        if isinstance(p, click.Option) and "--tenant" in p.opts:
            return p
    return None


TENANT_COMMANDS = [(path, cmd) for path, cmd in COMMANDS if tenant_param(cmd)]
ACTING = [path for path, cmd in TENANT_COMMANDS if tenant_param(cmd).help == TENANT_HELP]
ids = [" ".join(path) for path, _ in TENANT_COMMANDS]


@pytest.fixture
def env(runtime, config) -> dict[str, str]:
    """A migrated ledger whose env tenant is `acme`, plus a second tenant `globex`."""
    ensure_tenant(runtime.db, "globex", source="test")
    return {
        "DESKGUARD_DB_PATH": config["db_path"],
        "DESKGUARD_DATABASE_URL": config["database_url"],  # set in the PostgreSQL run
        "DESKGUARD_SECRET_KEYS": config["secret_keys"][0],
        "DESKGUARD_TENANT_ID": TENANT,
    }


@pytest.fixture
def tickets(tmp_path) -> str:
    path = tmp_path / "tickets.jsonl"
    path.write_text(
        json.dumps(
            {"id": "t1", "subject": "Hi", "body": "Where is my order?", "label": "order_status"}
        )
        + "\n"
    )
    return str(path)


def required_args(cmd: click.Command, tickets: str) -> list[str]:
    """Values for the command's required parameters (the tenant check must come first anyway)."""
    args: list[str] = []
    for p in cmd.params:
        if not p.required:
            continue
        if isinstance(p.type, click.types.IntParamType):
            value = "1"
        elif isinstance(p.type, click.Choice):
            value = str(p.type.choices[0])
        elif p.name and "email" in p.name:
            value = "jane.doe@example.com"
        elif isinstance(p.type, click.Path) or (p.name and "input" in p.name):
            value = tickets
        else:
            value = "{}"
        args += [value] if isinstance(p, click.Argument) else [p.opts[0], value]
    return args


EXTRA = {("lookup", "orders"): ["--email", "jane.doe@example.com"]}


# --- help -------------------------------------------------------------------------------------
def test_every_command_and_group_ends_its_help_with_an_example(cli_runner):
    for path, cmd in COMMANDS:
        last = inspect.cleandoc(cmd.help or "").split("\n\n")[-1]
        assert last.startswith(f"Example: deskguard {path[0]}") or (
            last.startswith("Example: ") and "deskguard" in last
        ), f"`deskguard {' '.join(path)} --help` does not end with an Example: line"
        shown = cli_runner.invoke(cli, [*path, "--help"]).output
        assert "Example: " in shown, path


def test_every_tenant_option_is_one_of_the_two_shared_ones():
    assert TENANT_COMMANDS, "no command takes --tenant?"
    for path, cmd in TENANT_COMMANDS:
        option = tenant_param(cmd)
        assert option.help in (TENANT_HELP, TENANT_FILTER_HELP), path
        default = cmd.make_context(path[-1], required_args(cmd, "x")).params["tenant"]
        assert (option.required, default, option.metavar) == (False, None, "TENANT"), path
    filters = {" ".join(p) for p, c in TENANT_COMMANDS if tenant_param(c).help != TENANT_HELP}
    # only the reads across every tenant narrow down instead of defaulting to the env tenant
    assert filters == {"audit head", "audit export", "queue status", "queue retry-dead"}


@pytest.mark.parametrize(("path", "cmd"), TENANT_COMMANDS, ids=ids)
def test_an_unknown_tenant_is_one_line_naming_it_and_the_known_ones(
    cli_runner, env, tickets, path, cmd
):
    args = [*path, *required_args(cmd, tickets), *EXTRA.get(path, []), "--tenant", "nope"]
    result = cli_runner.invoke(cli, args, env=env, obj={}, input="")
    assert result.exit_code not in (0, None), result.output
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert errors == ["Error: unknown tenant 'nope' (known tenants: acme, globex)"], result.output


@pytest.mark.parametrize("path", ACTING, ids=[" ".join(p) for p in ACTING])
def test_without_tenant_every_acting_command_uses_the_env_tenant(
    cli_runner, env, tickets, monkeypatch, path
):
    def resolve(runtime: Runtime, tenant: str | None) -> str:
        raise click.ClickException(f"resolved {tenant!r} -> {env_tenant_id(runtime)}")

    monkeypatch.setattr(cli_context, "resolve_tenant", resolve)
    cmd = dict(COMMANDS)[path]
    args = [*path, *required_args(cmd, tickets), *EXTRA.get(path, [])]
    if path[0] in ("classify", "eval"):
        args += ["--engine", "claude"]  # the engine that needs a tenant
    result = cli_runner.invoke(cli, args, env=env, obj={}, input="")
    assert f"resolved None -> {TENANT}" in result.output, result.output


def test_the_env_tenant_is_the_tenant_id_else_the_zendesk_subdomain(config):
    assert cli_context_default({**config, "tenant_id": ""}, zendesk_subdomain="shop1") == "shop1"
    assert cli_context_default(config, zendesk_subdomain="shop1") == TENANT


def cli_context_default(config: dict, **extra) -> str:
    rt = Runtime({**config, **extra})
    try:
        from connector.db import migrate

        migrate(rt.db)
        ensure_tenant(rt.db, env_tenant_id(rt), source="env")
        return cli_context.resolve_tenant(rt, None)
    finally:
        rt.close()


def test_the_known_tenants_are_listed_up_to_a_limit():
    many = [f"t{i:02d}" for i in range(25)]
    message = unknown_tenant_message("x", many)
    assert message.startswith("unknown tenant 'x' (known tenants: t00, t01,")
    assert message.endswith("t19 and 5 more)") and "\n" not in message
    assert unknown_tenant_message("x", []) == "unknown tenant 'x' (known tenants: none)"


def test_the_kill_switch_speaks_like_every_other_group(cli_runner, env):
    assert isinstance(dict(COMMANDS)[("kill-switch",)], click.Group)
    on = cli_runner.invoke(cli, ["kill-switch", "on", "--reason", "test"], env=env, obj={})
    assert on.exit_code == 0 and json.loads(on.output)["on"] is True
    status = cli_runner.invoke(cli, ["kill-switch", "status"], env=env, obj={})
    assert json.loads(status.output)["tenant"] == TENANT
    off = cli_runner.invoke(cli, ["kill-switch", "off", "--tenant", TENANT], env=env, obj={})
    assert json.loads(off.output)["on"] is False


# --- start-up -----------------------------------------------------------------------------------
def imported_modules(*args: str) -> set[str]:
    """Top-level names of every module ``python -X importtime -m connector ARGS`` imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "connector", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    names = set()
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", line)
        if m:
            names.add(m.group(1).split(".")[0])
    assert "connector" in names, done.stderr[-500:]
    return names


@pytest.mark.parametrize(
    "args",
    [(), ("config",), ("kill-switch", "on"), ("classify",), ("zendesk",), ("bench",)],
    ids=lambda a: " ".join(a) or "root",
)
def test_help_loads_no_heavy_library(args):
    loaded = imported_modules(*args, "--help") & HEAVY
    assert not loaded, f"`deskguard {' '.join(args)} --help` imports {sorted(loaded)}"
