"""The demo's Dagster: its instance home and config, and the batch lane's preparation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer

from tollgate.commands import console

ROOT = Path(__file__).resolve().parents[2]
# Dagster's instance (run history, sensor cursors) lives with the rest of the demo's data.
DAGSTER_HOME = "dagster"
# On a laptop, a few runs at a time (the batch graph, live freshness checks) is plenty;
# more only compete for the same cores.
DAGSTER_YAML = """\
concurrency:
  runs:
    max_concurrent_runs: 2
  # Runs that touch the warehouse (its steps are in the "warehouse" pool) take turns whole:
  # DuckDB lets one process write the file, and a run's gates must see its own build.
  pools:
    granularity: run
    default_limit: 1
telemetry:
  enabled: false
"""


def prepare_batch_lane(env: dict[str, str]) -> None:
    """Parse the dbt project for this data directory, a deployment step Dagster's batch lane
    needs done before it loads (orchestration/prepare.py)."""
    console.print("preparing the batch lane (dbt parse)...")
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.prepare"],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        console.print(done.stdout[-3000:] + done.stderr[-3000:], markup=False)
        raise typer.Exit(1)


def dagster_instance(home: Path) -> None:
    """Create Dagster's home with its config once; a rerun keeps the user's edits."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    if (home / "history").exists():
        _fail_abandoned_runs(home)


def _fail_abandoned_runs(home: Path) -> None:
    """Mark failed the runs a previous session left unfinished.

    Nothing of Dagster runs yet, so an unfinished run was cut short when the last demo
    stopped; left "started", the landing sensor would wait on it forever.
    """
    import dagster as dg  # only the demo's setup needs Dagster in this process

    unfinished = [
        dg.DagsterRunStatus.QUEUED,
        dg.DagsterRunStatus.NOT_STARTED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
    ]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for run in instance.get_runs(dg.RunsFilter(statuses=unfinished)):
            instance.report_run_failed(run, "stopped with the previous `make demo`")
