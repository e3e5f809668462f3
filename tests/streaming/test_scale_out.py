"""More workers, same results: the flow run with -w 2 ends in the store and lake of -w 1."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from streamkit import lake_contents, store_contents

from tollgate.events.generator import GeneratorConfig, SyntheticSource
from tollgate.events.writers import write_jsonl
from tollgate.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _run(data_dir: Path, source: Path, workers: int) -> None:
    env = {**os.environ, "TOLLGATE_DATA_DIR": str(data_dir), "TOLLGATE_STREAM_METRICS_PORT": "0"}
    flow = f"streaming.flows.live_products:jsonl_flow('{source}', shards=8, writers=2)"
    args = [sys.executable, "-m", "streaming", flow, "-w", str(workers)]
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, timeout=240)
    assert done.returncode == 0, done.stderr.decode()[-2000:]


@pytest.mark.slow
def test_two_workers_give_the_same_store_and_lake_as_one(tmp_path):
    source = tmp_path / "source"
    config = GeneratorConfig(seed=13, customers=200, malformed_rate=0.01, duplicate_rate=0.02)
    start = datetime(2026, 11, 21, 9, tzinfo=UTC)
    write_jsonl(SyntheticSource(config).raw(start, count=15_000), source, lines_per_file=5_000)
    _run(tmp_path / "one", source, 1)
    _run(tmp_path / "two", source, 2)
    one = store_contents(Settings(data_dir=tmp_path / "one", _env_file=None).live_store_url)
    two = store_contents(Settings(data_dir=tmp_path / "two", _env_file=None).live_store_url)
    assert sum(len(rows) for rows in one.values()) > 500
    assert two == one
    assert lake_contents(tmp_path / "two" / "lake") == lake_contents(tmp_path / "one" / "lake")
