"""Every asset, check, job, schedule and sensor of both code locations loads, wired as designed."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import yaml

from tollgate.catalog import get_catalog

BATCH = get_catalog().batch_products()
LIVE = get_catalog().live_products()


def test_every_definition_loads(batch_defs: dg.Definitions):
    graph = batch_defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"landing/behavior_events", "landing/card_transactions"} <= keys
    assert {
        "warehouse/stg_landing__behavior_events",
        "warehouse/stg_landing__card_transactions",
        "warehouse/int_sessions_summarized",
        "warehouse/int_customer_profiles_windowed",
        "warehouse/int_transactions_enriched",
    } <= keys
    for product in BATCH:
        assert f"warehouse/{product.source}" in keys
        assert f"snapshots/{product.id}" in keys

    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    for product in BATCH:
        assert (f"warehouse/{product.source}", "quality_gate") in checks
        assert (f"warehouse/{product.source}", "data_freshness") in checks
        assert (
            f"warehouse/{product.source}",
            f"primary_key_{product.source}_{product.key_column}",
        ) in checks

    assert {j.name for j in batch_defs.jobs} >= {"batch_lane"}
    assert {s.name for s in batch_defs.schedules} == {
        "batch_lane_schedule",
        "billing_daily_schedule",
        "billing_monthly_schedule",
        "sla_report_schedule",
    }
    assert {s.name for s in batch_defs.sensors} == {"landing_partitions_sensor"}
    # Resolving every job validates its selection and resources.
    for job in batch_defs.jobs:
        batch_defs.resolve_job_def(job.name)
    # The batch run's steps share the warehouse file and take turns: one process, one
    # load of the code location, rather than a process per step.
    assert batch_defs.resolve_job_def("batch_lane").executor_def.name == "in_process"


def test_live_checks_load_as_their_own_code_location(live_defs: dg.Definitions):
    graph = live_defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == {"events/source"} | {f"live_store/{p.source}" for p in LIVE}
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert checks == {(f"live_store/{p.source}", "watermark_freshness") for p in LIVE}
    assert {s.name for s in live_defs.schedules} == {"live_freshness_schedule"}
    job = live_defs.resolve_job_def("live_freshness")
    assert job.executor_def.name == "in_process"


def test_the_live_location_loads_without_dbt_or_great_expectations():
    # Its schedule starts a run every minute, and every run loads the location first.
    heavy = ("dbt", "dagster_dbt", "great_expectations", "duckdb")
    code = (
        "import sys; from orchestration.live_definitions import defs; defs(); "
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"


def test_workspace_names_both_code_locations(batch_defs):
    workspace = yaml.safe_load((Path(__file__).parents[2] / "workspace.yaml").read_text())
    modules = {
        entry["python_module"]["location_name"]: entry["python_module"]["module_name"]
        for entry in workspace["load_from"]
    }
    assert modules == {
        "orchestration": "orchestration.definitions",
        "live": "orchestration.live_definitions",
    }
    for module in modules.values():
        assert isinstance(importlib.import_module(module).defs(), dg.Definitions)


def test_sold_marts_are_gated_and_published_downstream(batch_defs: dg.Definitions):
    graph = batch_defs.resolve_asset_graph()
    for product in BATCH:
        mart = dg.AssetKey(["warehouse", product.source])
        gate = graph.get_check_spec(dg.AssetCheckKey(mart, "quality_gate"))
        assert gate.blocking
        snapshot = graph.get(dg.AssetKey(["snapshots", product.id]))
        assert mart in snapshot.parent_keys
        assert graph.get(mart).partitions_def == snapshot.partitions_def
        policy = graph.get(mart).freshness_policy
        assert policy.fail_window.to_timedelta().total_seconds() == product.freshness_sla_seconds


def test_loading_the_batch_lane_never_parses_the_dbt_project(tmp_path):
    """Every run worker loads the definitions: they read the prepared manifest, never parse."""
    env = {**os.environ, "TOLLGATE_DATA_DIR": str(tmp_path)}
    load = [sys.executable, "-c", "from orchestration.definitions import defs; defs()"]
    unprepared = subprocess.run(load, env=env, capture_output=True, text=True)
    assert unprepared.returncode != 0
    assert "run `python -m orchestration.prepare`" in unprepared.stderr

    subprocess.run([sys.executable, "-m", "orchestration.prepare"], env=env, check=True)
    target = tmp_path / "dbt_target"
    prepared = {p.name: p.stat().st_mtime_ns for p in target.iterdir()}
    assert "manifest.json" in prepared
    subprocess.run(load, env=env, check=True, capture_output=True)
    assert {p.name: p.stat().st_mtime_ns for p in target.iterdir()} == prepared


def test_the_runs_the_demo_starts_exist_with_their_partitions(batch_defs):
    from datetime import date

    from tollgate.commands.demo_guide import demo_start_runs

    started = demo_start_runs(date(2026, 11, 30))
    assert {job for job, _ in started} == {"billing_daily", "billing_monthly", "sla_report"}
    covered = set()
    for job_name, partition in started:
        job = batch_defs.resolve_job_def(job_name)
        assert partition in job.partitions_def.get_partition_keys(), (job_name, partition)
        covered |= {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
    # Invoices, margins, usage, costs and the SLA report all materialize at demo start.
    assert {
        "usage_daily",
        "tenant_costs",
        "invoices",
        "tenant_margins",
        "operations/sla_daily",
    } <= covered
