"""The `tollgate` command: it works end to end, and every expected failure is one line, exit 1."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tollgate.cli import COMMANDS, app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(cli_env):
    """Invoke the CLI against a fresh data directory, isolated from the caller's TOLLGATE_*."""

    def invoke(*args: str, **env: str):
        return CliRunner().invoke(app, list(args), env={**cli_env, **env})

    return invoke


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_tenant_key_and_client_lifecycle(run):
    created = run(
        "tenants",
        "create",
        "initech",
        "--tier",
        "premium",
        "--name",
        "Initech",
        "--region",
        "EU",
        "--region",
        "US-East",
    )
    assert created.exit_code == 0, created.output
    assert "created tenant initech on tier premium (US-East, EU)" in created.output
    listed = run("tenants", "list")
    assert "initech" in listed.output and "premium" in listed.output

    issued = run("keys", "issue", "initech", "--name", "ci", "--expires-in-days", "30")
    assert issued.exit_code == 0, issued.output
    (plaintext,) = re.findall(r"^tg_\S+$", issued.output, re.M)
    key_id = plaintext.split("_")[1]
    keys = run("keys", "list", "--tenant", "initech")
    assert key_id in keys.output and "active" in keys.output
    assert plaintext not in keys.output

    revoked = run("keys", "revoke", key_id)
    assert revoked.exit_code == 0 and f"revoked key {key_id}" in revoked.output
    assert "revoked" in run("keys", "list").output

    client = run("clients", "create", "initech")
    assert client.exit_code == 0, client.output
    client_id = re.search(r"client_id=(tgc_\w+)", client.output).group(1)
    assert client_id in run("clients", "list", "initech").output

    suspended = run("tenants", "suspend", "initech")
    assert suspended.exit_code == 0 and "suspended" in run("tenants", "list").output


def test_unknown_tier(run):
    line = one_line_error(run("tenants", "create", "acme", "--tier", "gold"))
    assert "unknown tier 'gold'" in line and "trial, standard, premium" in line


def test_duplicate_tenant(run):
    assert run("tenants", "create", "acme", "--tier", "trial").exit_code == 0
    line = one_line_error(run("tenants", "create", "acme", "--tier", "standard"))
    assert line == "error: tenant 'acme' already exists"


def test_revoking_an_unknown_key(run):
    line = one_line_error(run("keys", "revoke", "nosuchkey123"))
    assert line == "error: no API key 'nosuchkey123'"


def test_revoking_with_the_whole_key_and_clients(run):
    assert run("tenants", "create", "acme", "--tier", "standard").exit_code == 0
    (plaintext,) = re.findall(r"^tg_\S+$", run("keys", "issue", "acme").output, re.M)
    key_id, secret = plaintext.split("_")[1], plaintext.split("_", 2)[2]
    revoked = run("keys", "revoke", plaintext)
    assert revoked.exit_code == 0 and f"revoked key {key_id}" in revoked.output
    assert secret not in revoked.output
    again = one_line_error(run("keys", "revoke", plaintext))
    assert "already revoked" in again and secret not in again
    garbled = one_line_error(run("keys", "revoke", plaintext + "x"))  # a typo: not echoed
    assert secret not in garbled and "key id" in garbled

    created = run("clients", "create", "acme").output
    client_id = re.search(r"client_id=(tgc_\w+)", created).group(1)
    client_secret = re.search(r"client_secret=(\S+)", created).group(1)
    assert f"revoked OAuth2 client {client_id}" in run("clients", "revoke", client_id).output
    assert "revoked" in run("clients", "list", "acme").output
    assert "already revoked" in one_line_error(run("clients", "revoke", client_id))
    mistaken = one_line_error(run("clients", "revoke", client_secret))  # the secret, by mistake
    assert client_secret not in mistaken


def test_issuing_a_key_for_an_unknown_tenant(run):
    assert one_line_error(run("keys", "issue", "ghost")) == "error: no tenant 'ghost'"


def test_missing_catalog(run, tmp_path):
    missing = tmp_path / "nowhere.yaml"
    result = run("tenants", "create", "acme", "--tier", "trial", TOLLGATE_CATALOG_PATH=str(missing))
    assert one_line_error(result) == f"error: catalog: no file at {missing}"


def test_catalog_with_a_yaml_syntax_error(run, tmp_path):
    bad = tmp_path / "catalog.yaml"
    bad.write_text("tiers: [\n  trial: {\n")
    line = one_line_error(run("demo", "--no-run", TOLLGATE_CATALOG_PATH=str(bad)))
    assert "is not valid YAML" in line


def test_invalid_catalog_names_the_entry(run, tmp_path):
    bad = tmp_path / "catalog.yaml"
    bad.write_text((ROOT / "catalog.yaml").read_text().replace("lane: batch", "lane: nightly", 1))
    line = one_line_error(
        run("tenants", "create", "acme", "--tier", "trial", TOLLGATE_CATALOG_PATH=str(bad))
    )
    assert "products[customer-behavior-daily].lane: 'nightly' is not one of" in line


def test_unreachable_metadata_database(run):
    result = run(
        "tenants",
        "list",
        TOLLGATE_METADATA_DB_URL="postgresql+psycopg://postgres@127.0.0.1:1/nothing",
    )
    assert one_line_error(result).startswith("error: metadata database: ")


def test_invalid_setting(run):
    line = one_line_error(run("tenants", "list", TOLLGATE_API_PORT="eighty"))
    assert line.startswith("error: settings: api_port: ")


def test_migrate_is_repeatable(run):
    for _ in range(2):
        result = run("migrate")
        assert result.exit_code == 0 and "up to date" in result.output


def test_help_lists_every_command(run):
    result = run("--help")
    assert result.exit_code == 0
    for command in ("demo", "generate", "tenants", "keys", "clients", "migrate"):
        assert command in result.output


def test_each_command_loads_when_run(run):
    from tollgate.cli import COMMANDS

    for name in COMMANDS:
        result = run(name, "--help")
        assert result.exit_code == 0, result.output
        assert re.search(rf"Usage: \S+ {name} ", result.output), result.output
        assert "--install-completion" not in result.output


def test_help_imports_no_subcommand():
    """`tollgate --help` starts without the database, settings, catalog or generator modules."""
    heavy = ("sqlalchemy", "alembic", "pydantic", "tollgate.catalog", "tollgate.commands")
    code = (
        "import sys\n"
        "from tollgate.cli import app\n"
        "try:\n"
        "    app(['--help'])\n"
        "except SystemExit:\n"
        f"    print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


HEAVY = ("sqlalchemy", "polars", "duckdb", "dagster", "pandas")


@pytest.mark.parametrize("name", [*COMMANDS, "migrate"])
def test_subcommand_help_imports_nothing_heavy(name):
    """`tollgate <command> --help`, and the help of each of its own subcommands, load no
    database, dataframe or orchestration library: help starts fast."""
    code = (
        "import sys\n"
        "from tollgate.cli import COMMANDS, _load, app\n"
        "def show(args):\n"
        "    try:\n"
        "        app([*args, '--help'])\n"
        "    except SystemExit as exit:\n"
        "        assert not exit.code, (args, exit.code)\n"
        f"show([{name!r}])\n"
        f"command = _load({name!r}) if {name!r} in COMMANDS else None\n"
        "for sub in getattr(command, 'commands', {}):\n"
        f"    show([{name!r}, sub])\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout[-2000:]
