"""Stream bench helper: one replay through real processes, 1 worker, 2 workers, 2 processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from streaming.outputs_at_rest import landed_rows, quarantine_records, store_rows
from tollgate.events.generator import GeneratorConfig, SyntheticSource
from tollgate.events.writers import write_jsonl
from tollgate.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 20, tzinfo=UTC)


def scaling(work: Path, events: int) -> dict:
    """The lane as real processes on one replay (2 lanes, 16 shards): 1 worker, 2 workers,
    2 processes of 1 worker. Rates are events over the time past start-up (the time of a
    run over 1,000 events); `same_outputs` says whether all three left the same outputs."""
    source = work / "scaling-source"
    config = GeneratorConfig(seed=3, customers=5000, malformed_rate=0.001, duplicate_rate=0.001)
    write_jsonl(SyntheticSource(config).raw(START, count=events), source, lines_per_file=50_000)
    tiny = work / "scaling-tiny"
    write_jsonl(SyntheticSource(config).raw(START, count=1000), tiny)

    def run(name: str, src: Path, processes: int, workers: int) -> float:
        flow = f"streaming.flows.live_products:jsonl_flow('{src}', lanes=2)"
        command = [sys.executable, "-m", "streaming", flow, "-w", str(workers)]
        env = {**os.environ, "TOLLGATE_DATA_DIR": str(work / name)}
        env.update({"TOLLGATE_STREAM_METRICS_PORT": "0", "TOLLGATE_KAFKA_BROKERS": ""})
        if processes > 1:
            addresses = ";".join(f"127.0.0.1:{_free_port()}" for _ in range(processes))
            commands = [[*command, "-i", str(i), "-a", addresses] for i in range(processes)]
        else:
            commands = [command]
        t = time.perf_counter()
        procs = [
            subprocess.Popen(c, env=env, cwd=ROOT, stderr=subprocess.DEVNULL) for c in commands
        ]
        if any(p.wait() != 0 for p in procs):
            raise SystemExit(f"scaling run {name} failed")
        return time.perf_counter() - t

    startup = run("tiny", tiny, 1, 1)
    out = {"events": events, "startup_s": round(startup, 1)}
    for name, processes, workers in (("w1", 1, 1), ("w2", 1, 2), ("p2", 2, 1)):
        seconds = run(name, source, processes, workers)
        out[f"{name}_events_per_s"] = round(events / max(seconds - startup, 0.1))
    outputs = [_outputs(work / name) for name in ("w1", "w2", "p2")]
    out["same_outputs"] = outputs[0] == outputs[1] == outputs[2]
    return out


def _outputs(data_dir: Path) -> tuple:
    url = Settings(data_dir=data_dir, _env_file=None).live_store_url
    lake = data_dir / "lake"
    return store_rows(url), landed_rows(lake), quarantine_records(lake)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
