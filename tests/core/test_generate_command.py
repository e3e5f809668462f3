"""`tollgate generate`: each subcommand does what its help says, errors are one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from tollgate.commands.generate import app
from tollgate.events.generator import GeneratorConfig, SyntheticSource
from tollgate.lake import Lake

runner = CliRunner()


def test_help_explains_every_subcommand():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for word in ("deterministic", "fraud", "jsonl", "kafka", "backfill", "live"):
        assert word in result.output


def test_jsonl_writes_the_deterministic_wire(tmp_path):
    args = ["jsonl", str(tmp_path / "out"), "--count", "3000", "--start", "2026-04-01T00:00:00",
            "--seed", "4", "--malformed-rate", "0.05", "--lines-per-file", "1000"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "out").glob("*.jsonl"))
    lines = [line for f in files for line in f.read_bytes().splitlines()]
    config = GeneratorConfig(seed=4, malformed_rate=0.05)
    start = datetime(2026, 4, 1, tzinfo=UTC)
    assert lines == list(SyntheticSource(config).raw(start, count=3000))
    assert len(files) == -(-len(lines) // 1000)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["jsonl", "out", "--fraud-rate", "1.5"], "error: fraud_rate must be in [0, 1)"),
        (["jsonl", "out", "--rate", "0"], "error: events_per_second must be positive"),
        (["jsonl", "out", "--start", "yesterday"], "error: --start: 'yesterday' is not"),
        (["kafka"], "error: no Kafka brokers"),
    ],
)
def test_errors_are_one_line_and_exit_non_zero(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TOLLGATE_KAFKA_BROKERS", raising=False)
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert result.stderr.strip().startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_backfill_lands_history_in_the_settings_data_dir(settings, monkeypatch):
    monkeypatch.setenv("TOLLGATE_DATA_DIR", str(settings.data_dir))
    result = runner.invoke(app, ["backfill", "--days", "0.1", "--rate", "0.5"])
    assert result.exit_code == 0, result.output
    lake = Lake.from_settings(settings)
    assert lake.landing_dates("behavior_events")
    files = list(lake.landing_dir("behavior_events").rglob("part-backfill-*.parquet"))
    assert files and "behavior_events" in result.stderr


def test_live_lands_files_until_stopped(settings):
    env = {**os.environ, "TOLLGATE_DATA_DIR": str(settings.data_dir)}
    code = "from tollgate.commands.generate import app; app()"
    args = [sys.executable, "-c", code, "live", "--rate", "200", "--flush-every", "0.2"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lake = Lake.from_settings(settings)
    deadline = time.monotonic() + 60
    files: list = []
    while len(files) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        files = list(lake.landing_dir("behavior_events").rglob("part-live-*.parquet"))
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    assert len(files) >= 3
    assert b"stopped after landing" in err
    # One file per flush and partition: epochs never repeat within a partition.
    keys = [(f.parent, int(f.stem.rsplit("-", 1)[1])) for f in files]
    assert len(set(keys)) == len(keys)


@pytest.mark.kafka
def test_kafka_produces_to_the_given_topic(kafka_brokers):
    from confluent_kafka.admin import AdminClient

    topic = f"cli-{time.monotonic_ns()}"
    args = ["kafka", "--brokers", kafka_brokers, "--topic", topic, "--count", "500"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"produced 500 lines to {topic}" in result.stderr
    partitions = AdminClient({"bootstrap.servers": kafka_brokers}).list_topics(topic).topics[topic]
    assert len(partitions.partitions) == 4


def test_kafka_unreachable_broker_is_a_one_line_error():
    result = runner.invoke(app, ["kafka", "--brokers", "127.0.0.1:1", "--count", "10"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: kafka at 127.0.0.1:1")
    assert len(result.stderr.strip().splitlines()) == 1
