"""Running the live lane as real processes: one or more workers, one or more processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def lane_env(data_dir: Path, **extra: str) -> dict:
    return {
        **os.environ,
        "TOLLGATE_DATA_DIR": str(data_dir),
        "TOLLGATE_STREAM_METRICS_PORT": "0",
        "TOLLGATE_KAFKA_BROKERS": "",
        **extra,
    }


def start(
    data_dir: Path, flow: str, *args: str, env: dict | None = None, stderr=subprocess.PIPE
) -> subprocess.Popen:
    """`python -m streaming FLOW ARGS` with the data directory `data_dir`."""
    command = [sys.executable, "-m", "streaming", flow, *args]
    return subprocess.Popen(
        command, cwd=ROOT, env=env or lane_env(data_dir), stderr=stderr, stdout=subprocess.DEVNULL
    )


def start_cluster(data_dir: Path, flow: str, processes: int, *args: str, env=None) -> list:
    """`processes` processes of one cluster (Bytewax's -i/-a), sharing `data_dir`."""
    addresses = ";".join(f"127.0.0.1:{p}" for p in free_ports(processes))
    return [
        start(data_dir, flow, "-i", str(i), "-a", addresses, *args, env=env)
        for i in range(processes)
    ]


def finish(procs, timeout: float = 240) -> None:
    for p in procs:
        try:
            code = p.wait(timeout)
        except subprocess.TimeoutExpired:  # a stuck cluster is not left running behind a failure
            for q in procs:
                q.kill()
            raise
        assert code == 0, (code, p.stderr.read().decode()[-3000:] if p.stderr else "")
