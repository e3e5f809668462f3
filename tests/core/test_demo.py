"""`tollgate demo`: setup is idempotent, keys stay owner-only, and the platform runs and stops."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tollgate.cli import app
from tollgate.commands.demo import KEYS_FILE, platform_services
from tollgate.commands.demo_seed import DEMO_TENANTS
from tollgate.db.contract_models import Subscription
from tollgate.db.engine import session_factory
from tollgate.db.models import ApiKey, OAuthClient, Tenant
from tollgate.lake import LANDING_DATASETS, Lake
from tollgate.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setup_only(env: dict[str, str], backfill_days: int = 1):
    args = ["demo", "--no-run", "--backfill-days", str(backfill_days)]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    return result


def counts(settings: Settings) -> tuple[int, int, int]:
    with session_factory(settings.metadata_db_url)() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(m)) for m in (Tenant, ApiKey, OAuthClient)
        )


def test_setup_is_idempotent_and_keys_stay_owner_only(cli_env):
    settings = Settings(data_dir=Path(cli_env["TOLLGATE_DATA_DIR"]), _env_file=None)
    keys_file = settings.data_dir / KEYS_FILE

    first = setup_only(cli_env)
    saved = json.loads(keys_file.read_text())
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert set(saved["tenants"]) == {t.id for t in DEMO_TENANTS}
    assert {e["tier"] for e in saved["tenants"].values()} == {"trial", "standard", "premium"}
    assert list(saved["oauth_clients"]) == ["initech-premium"]
    assert counts(settings) == (3, 3, 1)
    lake = Lake.from_settings(settings)
    assert all(len(lake.landing_dates(d)) == 1 for d in LANDING_DATASETS)
    assert "history:         generated" in first.output

    with session_factory(settings.metadata_db_url)() as s:
        (sub,) = s.scalars(select(Subscription)).all()
    assert (sub.tenant_id, sub.product_id) == ("initech-premium", "region-activity")
    assert "initech-premium subscribes to region-activity" in first.output

    second = setup_only(cli_env)
    with session_factory(settings.metadata_db_url)() as s:
        assert s.scalars(select(Subscription.id)).all() == [sub.id]  # not subscribed twice
    assert json.loads(keys_file.read_text()) == saved
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert counts(settings) == (3, 3, 1)
    assert "already in the landing zone" in second.output
    # The rerun shows the same keys again.
    for entry in saved["tenants"].values():
        assert entry["api_key"] in first.output and entry["api_key"] in second.output


def test_a_revoked_demo_key_is_replaced_on_rerun(cli_env):
    setup_only(cli_env, backfill_days=0)
    keys_file = Path(cli_env["TOLLGATE_DATA_DIR"]) / KEYS_FILE
    old = json.loads(keys_file.read_text())["tenants"]["acme-trial"]
    revoked = CliRunner().invoke(app, ["keys", "revoke", old["key_id"]], env=cli_env)
    assert revoked.exit_code == 0, revoked.output
    setup_only(cli_env, backfill_days=0)
    new = json.loads(keys_file.read_text())["tenants"]["acme-trial"]
    assert new["key_id"] != old["key_id"]
    settings = Settings(data_dir=Path(cli_env["TOLLGATE_DATA_DIR"]), _env_file=None)
    assert counts(settings) == (3, 4, 1)


def test_initech_is_limited_to_its_regions(cli_env):
    setup_only(cli_env, backfill_days=0)
    settings = Settings(data_dir=Path(cli_env["TOLLGATE_DATA_DIR"]), _env_file=None)
    with session_factory(settings.metadata_db_url)() as s:
        assert s.get(Tenant, "initech-premium").allowed_regions == ["US-East", "EU"]
        assert s.get(Tenant, "acme-trial").allowed_regions is None


def test_every_platform_process_is_a_valid_command(cli_env):
    """Each supervised child's command line parses (its --help runs)."""
    settings = Settings(data_dir=Path(cli_env["TOLLGATE_DATA_DIR"]), _env_file=None)
    for service in platform_services(settings):
        argv = service.child.argv
        done = subprocess.run(
            [*argv, "--help"], capture_output=True, text=True, timeout=120, cwd=ROOT
        )
        assert done.returncode == 0, (argv, done.stderr)


@pytest.mark.slow
@pytest.mark.timeout(900)  # the whole platform up, then its first billing and SLA runs
def test_demo_runs_the_platform_prints_working_calls_and_stops_cleanly_on_ctrl_c(cli_env):
    """The whole `make demo` path: set up, supervise the three lanes, print a live lookup
    that answers as printed, then stop everything on Ctrl-C."""
    ports = {
        "TOLLGATE_API_PORT": str(free_port()),
        "TOLLGATE_DAGSTER_PORT": str(free_port()),
        "TOLLGATE_STREAM_METRICS_PORT": str(free_port()),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tollgate.cli", "demo", "--backfill-days", "0"],
        env={**os.environ, **cli_env, **ports},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 240
    lookup = None
    while lookup is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("no live calls printed:\n" + "".join(lines)[-5000:])
        lookup = next((line for line in list(lines) if "/v1/live/transaction-risk/" in line), None)
        time.sleep(0.5)
    home = Path(cli_env["TOLLGATE_DATA_DIR"]) / "dagster"
    try:
        key, url = re.search(r'Bearer (\S+)" (\S+)', lookup).groups()
        answer = httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["transaction_id"] == url.rsplit("/", 1)[1]
        # The UI's graph spans both code locations, from the event source to the invoice.
        dagster = f"http://127.0.0.1:{ports['TOLLGATE_DAGSTER_PORT']}"
        assert_one_graph(dagster)
        # Started once at demo start: a newcomer finds invoices and the SLA report in minutes.
        wait_for_materializations(home, BILLING_AND_SLA, proc, lines, timeout=480)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:  # never leave a platform running behind a failure
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            raise
        finally:
            reader.join(timeout=10)
    out = "".join(lines)
    assert proc.returncode == 0, out[-5000:]
    assert "stopping stream, dagster, api" in out
    assert "Traceback" not in out
    # DEBUG stays in the per-process log files; the console shows INFO and above.
    assert " - DEBUG - " not in out
    logs = Path(cli_env["TOLLGATE_DATA_DIR"]) / "logs"
    assert " - DEBUG - " in (logs / "dagster.log").read_text()
    assert {"stream.log", "dagster.log", "api.log"} <= {p.name for p in logs.iterdir()}
    assert (home / "dagster.yaml").exists()
    # Warehouse runs take turns whole: the instance reads the demo's pool settings.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        pools = instance.get_concurrency_config().pool_config
    assert (pools.pool_granularity.value, pools.default_pool_limit) == ("run", 1)


BILLING_AND_SLA = [
    dg.AssetKey("invoices"),
    dg.AssetKey("tenant_margins"),
    dg.AssetKey("usage_daily"),
    dg.AssetKey(["operations", "sla_daily"]),
]
ASSET_GRAPH_QUERY = "{ assetNodes { assetKey { path } dependencyKeys { path } } }"


def assert_one_graph(dagster: str) -> None:
    """Every asset the webserver shows, across code locations, descends from the events."""
    deadline = time.monotonic() + 240
    while True:
        try:
            nodes = httpx.post(
                f"{dagster}/graphql", json={"query": ASSET_GRAPH_QUERY}, timeout=30
            ).json()
        except httpx.TransportError:  # the webserver may come up after the API
            nodes = {}
        found = (nodes.get("data") or {}).get("assetNodes") or []
        keys = {"/".join(n["assetKey"]["path"]) for n in found}
        # Both locations loaded: the live products and the invoices are there.
        if {"live_store/live_transaction_risk", "invoices"} <= keys:
            break
        assert time.monotonic() < deadline, sorted(keys)
        time.sleep(2)
    children: dict[str, set[str]] = {k: set() for k in keys}
    for node in found:
        for parent in node["dependencyKeys"]:
            children.setdefault("/".join(parent["path"]), set()).add(
                "/".join(node["assetKey"]["path"])
            )
    seen, todo = {"events/source"}, ["events/source"]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    assert keys - seen == set()


def wait_for_materializations(home, keys, proc, lines, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    missing = list(keys)
    while missing:
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"never materialized: {missing}\n" + "".join(lines)[-5000:])
        with dg.DagsterInstance.from_config(str(home)) as instance:
            missing = [k for k in keys if instance.get_latest_materialization_event(k) is None]
        time.sleep(3)


def test_the_summary_panel_repeats_urls_keys_and_calls(cli_env):
    from tollgate.commands.demo_guide import summary

    settings = Settings(data_dir=Path(cli_env["TOLLGATE_DATA_DIR"]), _env_file=None)
    credentials = {
        "tenants": {
            t.id: {"tier": t.tier, "api_key": f"tg_{t.id}_" + "s" * 40} for t in DEMO_TENANTS
        },
        "oauth_clients": {"initech-premium": {"client_id": "c-1", "client_secret": "x" * 40}},
    }
    text = summary(settings, credentials, ["\n  curl -s http://127.0.0.1:8000/v1/usage\n"])
    lines = text.splitlines()
    assert any("http://127.0.0.1:3000" in line for line in lines)
    assert any(f"http://127.0.0.1:{settings.api_port}/docs" in line for line in lines)
    assert any(f"http://127.0.0.1:{settings.api_port}/portal " in line for line in lines)
    assert any(str(settings.data_dir.resolve() / "logs") in line for line in lines)
    for entry in credentials["tenants"].values():
        assert any(entry["api_key"] in line for line in lines)  # whole, on one line
    assert lines[-1] == "  curl -s http://127.0.0.1:8000/v1/usage"
