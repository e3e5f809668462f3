"""More workers, more processes, same results: 1 worker, 2 workers and a 2-process cluster
end with the same live store, landing zone and quarantine; so does a cluster whose
process was killed with -9 and which was restarted."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from clusterkit import finish, start, start_cluster
from sqlalchemy import create_engine, inspect
from streamkit import lake_contents, quarantine_contents, store_contents

from tollgate.catalog import load_catalog
from tollgate.events.generator import GeneratorConfig, SyntheticSource
from tollgate.events.writers import write_jsonl
from tollgate.livestore import LiveStore
from tollgate.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _outputs(data_dir: Path) -> dict:
    url = Settings(data_dir=data_dir, _env_file=None).live_store_url
    lake = data_dir / "lake"
    return {
        "store": store_contents(url),
        "lake": lake_contents(lake),
        "quarantine": quarantine_contents(lake),
    }


@pytest.fixture(scope="module")
def replay(tmp_path_factory) -> str:
    """A replay in three files (malformed lines, duplicates, late events), as a flow."""
    source = tmp_path_factory.mktemp("replay")
    config = GeneratorConfig(seed=13, customers=200, malformed_rate=0.01, duplicate_rate=0.02)
    start_at = datetime(2026, 11, 21, 9, tzinfo=UTC)
    write_jsonl(SyntheticSource(config).raw(start_at, count=15_000), source, lines_per_file=5_000)
    return f"streaming.flows.live_products:jsonl_flow('{source}', shards=8, writers=2, lanes=2)"


@pytest.fixture(scope="module")
def long_replay(tmp_path_factory) -> str:
    """A replay long enough (several seconds even on an idle machine) to be killed mid-run."""
    source = tmp_path_factory.mktemp("long_replay")
    config = GeneratorConfig(seed=17, customers=200, malformed_rate=0.01, duplicate_rate=0.02)
    start_at = datetime(2026, 11, 21, 9, tzinfo=UTC)
    write_jsonl(SyntheticSource(config).raw(start_at, count=80_000), source, lines_per_file=10_000)
    return f"streaming.flows.live_products:jsonl_flow('{source}', shards=8, writers=2, lanes=2)"


@pytest.mark.slow
def test_one_worker_two_workers_and_two_processes_give_the_same_outputs(tmp_path, replay):
    finish([start(tmp_path / "one", replay, "-w", "1")])
    finish([start(tmp_path / "two", replay, "-w", "2")])
    finish(start_cluster(tmp_path / "cluster", replay, 2))
    one = _outputs(tmp_path / "one")
    assert sum(len(rows) for rows in one["store"].values()) > 500
    assert len(one["quarantine"]) > 100
    assert _outputs(tmp_path / "two") == one
    assert _outputs(tmp_path / "cluster") == one


@pytest.mark.slow
def test_a_cluster_restarted_after_kill_9_of_one_process_ends_exact(tmp_path, long_replay):
    replay = long_replay
    finish([start(tmp_path / "one", replay, "-w", "1")])
    crashed = tmp_path / "crashed"
    procs = start_cluster(crashed, replay, 2, "-s", "1")
    # Killed once output is committed (landing files of finished epochs are in the lake),
    # while the run still has most of the replay to go.
    landing = crashed / "lake" / "landing"
    deadline = time.monotonic() + 120
    while not any(landing.rglob("*.parquet")) and time.monotonic() < deadline:
        assert all(p.poll() is None for p in procs), (
            "the run ended before any output",
            ended(procs),
        )
        time.sleep(0.05)
    assert all(p.poll() is None for p in procs), ("the run ended before the kill", ended(procs))
    procs[1].send_signal(signal.SIGKILL)
    # The survivor cannot go on without its peer (it exits, or waits for it for ever):
    # the operator's procedure is to stop what is left and restart the whole cluster.
    try:
        procs[0].wait(10)
    except subprocess.TimeoutExpired:
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
    finish(start_cluster(crashed, replay, 2))
    assert _outputs(crashed) == _outputs(tmp_path / "one")


def ended(procs) -> list:
    """Exit codes and stderr tails of the processes that have exited."""
    return [(p.returncode, p.stderr.read().decode()[-2000:]) for p in procs if p.poll() is not None]


def test_processes_starting_together_create_the_live_store_once(postgres_url):
    store = LiveStore(load_catalog(ROOT / "catalog.yaml"))
    engines = [create_engine(postgres_url) for _ in range(6)]
    errors: list[BaseException] = []

    def create(engine) -> None:
        try:
            store.create_all(engine)
        except BaseException as exc:  # noqa: BLE001 - collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert set(inspect(engines[0]).get_table_names()) == set(store.metadata.tables)
    for e in engines:
        e.dispose()


def test_processes_starting_together_create_the_recovery_directory_once(tmp_path):
    """A cluster's processes start at the same moment on one recovery directory."""
    recovery, go = tmp_path / "recovery", tmp_path / "go"
    script = (
        "import sys, time; from pathlib import Path\n"
        "from streaming.recovery import ensure_recovery_dir\n"
        f"while not Path({str(go)!r}).exists(): time.sleep(0.001)\n"
        f"ensure_recovery_dir(Path({str(recovery)!r}))\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stderr=subprocess.PIPE)
        for _ in range(6)
    ]
    time.sleep(3)  # every process imported and waiting
    go.touch()
    for p in procs:
        assert p.wait(60) == 0, p.stderr.read().decode()[-2000:]
    assert len(list(recovery.glob("part-*.sqlite3"))) == 1
