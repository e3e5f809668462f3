"""Dagster on PostgreSQL: the daemon's sensor starts a batch run that succeeds, and the run and
the sensor's cursor are in PostgreSQL, where any process of the deployment reads them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import create_engine, make_url, text

from orchestration.lib.landing_scan import partition_fingerprints
from tollgate.events.generator import GeneratorConfig, SyntheticSource
from tollgate.events.writers import backfill_landing
from tollgate.lake import Lake

# A daemon, a sensor tick and a whole batch run: more than the suite's default 300 s on a
# busy machine, and within the run's own deadline below.
pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
DAY = datetime(2026, 11, 20, tzinfo=UTC)
RUN_TIMEOUT_SECONDS = 420
# The deployment's instance: the README's PostgreSQL example.
DAGSTER_YAML = """\
storage:
  postgres:
    postgres_db:
      scheme: postgresql+psycopg2
      hostname: {url.host}
      username: {url.username}
      db_name: {url.database}
      port: {url.port}
concurrency:
  pools:
    granularity: run
    default_limit: 1
telemetry:
  enabled: false
"""
# The batch lane's location only: the live one's minute schedule has nothing to show here.
WORKSPACE = """\
load_from:
  - python_module:
      module_name: orchestration.definitions
      working_directory: {root}
      location_name: orchestration
"""


@pytest.fixture
def dagster_home(tmp_path: Path, dagster_postgres_url: str) -> Path:
    home = tmp_path / "dagster"
    home.mkdir()
    url = make_url(dagster_postgres_url)
    (home / "dagster.yaml").write_text(DAGSTER_YAML.format(url=url))
    return home


def test_the_daemon_runs_the_batch_lane_on_postgres(tmp_path, settings, dagster_home, postgres_url):
    source = SyntheticSource(GeneratorConfig(seed=11, customers=20, events_per_second=0.02))
    lake = Lake.from_settings(settings)
    backfill_landing(lake, source, DAY, DAY + timedelta(days=1))
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "TOLLGATE_DATA_DIR": str(settings.data_dir),
        "TOLLGATE_CATALOG_PATH": str(settings.catalog_path),
    }
    subprocess.run([sys.executable, "-m", "orchestration.prepare"], env=env, cwd=ROOT, check=True)
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(WORKSPACE.format(root=ROOT))
    daemon = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(workspace)],
        env=env,
        cwd=ROOT,
        stdout=(tmp_path / "daemon.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        run = wait_for_batch_run(dagster_home, daemon, tmp_path / "daemon.log")
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=60)

    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert run.tags["dagster/asset_partition_range_start"] == DAY.date().isoformat()
    assert all(lake.current_version(p) for p in ("customer-behavior-daily", "market-trends"))
    # Kept in PostgreSQL: a new instance (another process of the deployment) reads the run
    # and the cursor the sensor left, so its next tick rebuilds only what changed since.
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        [state] = [
            s for s in instance.all_instigator_state() if s.name == "landing_partitions_sensor"
        ]
        assert json.loads(state.instigator_data.cursor) == partition_fingerprints(lake)
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            statuses = conn.execute(
                text("select status from runs where run_id = :id"), {"id": run.run_id}
            )
            assert statuses.scalar_one() == "SUCCESS"
    finally:
        engine.dispose()


def wait_for_batch_run(home: Path, daemon: subprocess.Popen, log: Path) -> dg.DagsterRun:
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    finished = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE}
    while True:
        assert daemon.poll() is None, log.read_text()[-5000:]
        assert time.monotonic() < deadline, "no finished batch run:\n" + log.read_text()[-5000:]
        with dg.DagsterInstance.from_config(str(home)) as instance:
            runs = instance.get_runs(dg.RunsFilter(job_name="batch_lane"))
        if runs and runs[0].status in finished:
            return runs[0]
        time.sleep(3)
