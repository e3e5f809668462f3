"""Real platform processes for end-to-end tests and the freshness benchmark.

Each process runs in its own session (so stopping it takes its children too), writes its
output to a log file, and is stopped with SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def platform_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of every process: one data directory, TOLLGATE_* overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_")}
    env["TOLLGATE_DATA_DIR"] = str(data_dir)
    env["TOLLGATE_CATALOG_PATH"] = str(ROOT / "catalog.yaml")
    env["PYTHONUNBUFFERED"] = "1"
    env.update({f"TOLLGATE_{k.upper()}": v for k, v in settings.items()})
    return env


@contextlib.contextmanager
def running(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with log.open("w") as out:
        proc = subprocess.Popen(
            argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield proc
        finally:
            stop(proc)


def stop(proc: subprocess.Popen, grace_seconds: float = 20.0) -> int:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


def api_argv(port: int) -> list[str]:
    return [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1"] + [
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]


def stream_argv() -> list[str]:
    return [sys.executable, "-m", "streaming"]


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    """Wait until `url` answers 200; fail early with the log if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout}s:\n{log.read_text()[-3000:]}")


class SseSubscriber:
    """Reads a Server-Sent Events stream in a thread; keeps (received_at, data) per record."""

    def __init__(self, url: str, api_key: str):
        self.url, self.api_key = url, api_key
        self.records: list[tuple[float, str]] = []
        self.status: int | None = None
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def start(self) -> SseSubscriber:
        self._thread.start()
        return self

    def _read(self) -> None:
        try:
            self._consume()
        except httpx.HTTPError as exc:  # the server went away (or stopped, at the end)
            self.error = exc

    def _consume(self) -> None:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        with (
            httpx.Client(timeout=httpx.Timeout(10.0, read=60.0)) as client,
            client.stream("GET", self.url, headers=headers) as response,
        ):
            self.status = response.status_code
            event = None
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "record":
                    self.records.append((time.time(), line[5:].strip()))
                elif not line:
                    event = None

    def close(self) -> None:
        self._stop.set()
