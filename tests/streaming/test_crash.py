"""kill -9 at random points, restart, and end with exactly the store and lake of a clean run."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from streamkit import lake_contents, leftover_temp_files, quarantine_contents, store_contents

from streaming.recovery import ensure_recovery_dir
from tollgate.events.generator import GeneratorConfig, SyntheticSource
from tollgate.events.writers import write_jsonl
from tollgate.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 20, 6, tzinfo=UTC)


def _source(tmp_path: Path, events: int) -> Path:
    source = tmp_path / "source"
    config = GeneratorConfig(seed=11, customers=300, malformed_rate=0.01, duplicate_rate=0.02)
    write_jsonl(SyntheticSource(config).raw(START, count=events), source, lines_per_file=10**9)
    return source


def _run(data_dir: Path, source: Path, recovery: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "TOLLGATE_DATA_DIR": str(data_dir),
        "TOLLGATE_STREAM_METRICS_PORT": "0",
        "TOLLGATE_KAFKA_BROKERS": "",
    }
    # Batches of 1,000 lines: a signal or a kill lands mid-input on these short replays.
    options = "shards=8, writers=2, batch_size=1000"
    flow = f"streaming.flows.live_products:jsonl_flow('{source}', {options})"
    args = [sys.executable, "-m", "streaming", flow, "-r", str(recovery), "-s", "1", "-b", "0"]
    return subprocess.Popen(args, cwd=ROOT, env=env, stderr=subprocess.PIPE)


def _finish(proc: subprocess.Popen) -> None:
    assert proc.wait(240) == 0, proc.stderr.read().decode()[-2000:]


def _committed(recovery: Path) -> bool:
    """Whether the run has committed at least one epoch (so a kill leaves something to resume)."""
    try:
        with sqlite3.connect(recovery / "part-0.sqlite3") as db:
            return db.execute("SELECT count(*) FROM commits").fetchone()[0] > 0
    except sqlite3.Error:
        return False


def _landed_any(data_dir: Path) -> bool:
    return any((data_dir / "lake" / "landing").glob("*/*/*/*.parquet"))


def _clean_run(tmp_path: Path, source: Path) -> Path:
    clean = tmp_path / "clean"
    ensure_recovery_dir(clean / "recovery")
    _finish(_run(clean, source, clean / "recovery"))
    return clean


def _assert_same(clean: Path, crashed: Path) -> None:
    def url(d: Path) -> str:
        return Settings(data_dir=d, _env_file=None).live_store_url

    expected = store_contents(url(clean))
    assert sum(len(rows) for rows in expected.values()) > 1000
    assert store_contents(url(crashed)) == expected
    expected_lake = lake_contents(clean / "lake")
    assert len(expected_lake["behavior_events"]) > 10_000
    assert lake_contents(crashed / "lake") == expected_lake
    assert quarantine_contents(crashed / "lake") == quarantine_contents(clean / "lake")
    assert leftover_temp_files(crashed / "lake") == []


@pytest.fixture(scope="module")
def small_replay(tmp_path_factory) -> tuple[Path, Path]:
    """A 120,000-line replay and the data directory of its uninterrupted run.

    Long enough that the first snapshot (after one second) comes well before the input ends:
    an idle machine read a 40,000-line replay whole before the SIGTERM test's signal landed.
    """
    tmp = tmp_path_factory.mktemp("small")
    source = _source(tmp, 120_000)
    return source, _clean_run(tmp, source)


@pytest.mark.slow
def test_kill_9_before_the_first_snapshot_lands_nothing_twice(tmp_path, small_replay):
    source, clean = small_replay
    crashed = tmp_path / "crashed"
    recovery = crashed / "recovery"
    ensure_recovery_dir(recovery)
    proc = _run(crashed, source, recovery)
    # Files written for the first epoch, its commit not yet recorded: the worst moment.
    deadline = time.monotonic() + 60
    while not _landed_any(crashed) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not _committed(recovery) and proc.poll() is None, "missed the moment: no kill"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert _landed_any(crashed)
    _finish(_run(crashed, source, recovery))
    _assert_same(clean, crashed)


@pytest.mark.slow
def test_sigterm_exits_0_after_a_final_snapshot_and_the_restart_ends_exact(tmp_path, small_replay):
    source, clean = small_replay
    stopped = tmp_path / "stopped"
    recovery = stopped / "recovery"
    ensure_recovery_dir(recovery)
    proc = _run(stopped, source, recovery)
    deadline = time.monotonic() + 60
    while not _committed(recovery) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before the signal"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0, proc.stderr.read().decode()[-2000:]
    assert lake_contents(stopped / "lake") != lake_contents(clean / "lake")  # it did stop
    _finish(_run(stopped, source, recovery))
    _assert_same(clean, stopped)


@pytest.mark.slow
@pytest.mark.timeout(600)  # several kill-and-restart rounds: over 300 s on a busy machine
def test_kill_9_at_random_points_changes_nothing(tmp_path):
    source = _source(tmp_path, 250_000)
    clean = _clean_run(tmp_path, source)
    crashed = tmp_path / "crashed"
    recovery = crashed / "recovery"
    ensure_recovery_dir(recovery)
    rng = random.Random(5)
    kills = 0
    for _ in range(4):
        proc = _run(crashed, source, recovery)
        deadline = time.monotonic() + 60
        while not _committed(recovery) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.02, 0.3))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        kills += 1
    _finish(_run(crashed, source, recovery))
    assert kills >= 2, f"only {kills} kills before the run finished: make the stream longer"
    _assert_same(clean, crashed)
