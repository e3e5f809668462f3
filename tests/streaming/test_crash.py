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
from streamkit import lake_contents, store_contents

from tollgate.events.generator import GeneratorConfig, SyntheticSource
from tollgate.events.writers import write_jsonl
from tollgate.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 20, 6, tzinfo=UTC)
EVENTS = 250_000


def _run(data_dir: Path, source: Path, recovery: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "TOLLGATE_DATA_DIR": str(data_dir),
        "TOLLGATE_STREAM_METRICS_PORT": "0",
        "TOLLGATE_KAFKA_BROKERS": "",
    }
    flow = f"streaming.flows.live_products:jsonl_flow('{source}', shards=8, writers=2)"
    args = [sys.executable, "-m", "streaming", flow, "-r", str(recovery), "-s", "1", "-b", "0"]
    return subprocess.Popen(args, cwd=ROOT, env=env, stderr=subprocess.PIPE)


def _committed(recovery: Path) -> bool:
    """Whether the run has committed at least one epoch (so a kill leaves something to resume)."""
    try:
        with sqlite3.connect(recovery / "part-0.sqlite3") as db:
            return db.execute("SELECT count(*) FROM commits").fetchone()[0] > 0
    except sqlite3.Error:
        return False


def _init(recovery: Path) -> None:
    from streaming.__main__ import ensure_recovery_dir

    ensure_recovery_dir(recovery)


@pytest.mark.slow
def test_kill_9_at_random_points_changes_nothing(tmp_path):
    source = tmp_path / "source"
    config = GeneratorConfig(seed=11, customers=300, malformed_rate=0.01, duplicate_rate=0.02)
    write_jsonl(SyntheticSource(config).raw(START, count=EVENTS), source, lines_per_file=10**9)

    clean = tmp_path / "clean"
    _init(clean / "recovery")
    proc = _run(clean, source, clean / "recovery")
    assert proc.wait(240) == 0, proc.stderr.read().decode()[-2000:]

    crashed = tmp_path / "crashed"
    recovery = crashed / "recovery"
    _init(recovery)
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
    proc = _run(crashed, source, recovery)
    assert proc.wait(240) == 0, proc.stderr.read().decode()[-2000:]
    assert kills >= 2, f"only {kills} kills before the run finished: make the stream longer"

    def settings(d: Path) -> Settings:
        return Settings(data_dir=d, _env_file=None)

    expected = store_contents(settings(clean).live_store_url)
    assert sum(len(rows) for rows in expected.values()) > 1000
    assert store_contents(settings(crashed).live_store_url) == expected
    expected_lake = lake_contents(clean / "lake")
    assert len(expected_lake["behavior_events"]) > 10_000
    assert lake_contents(crashed / "lake") == expected_lake
