"""One supervisor for the platform's processes: start them, merge their output, stop them cleanly.

Each child runs in its own process group, so Ctrl-C reaches only the supervisor, which then
stops children in order: SIGTERM to each group, or to the leader alone for a child that
shuts its own helpers down (`dagster dev` stops its webserver, daemon and code servers
through shutdown pipes; a SIGTERM to them directly interrupts them mid-shutdown), a grace
period, then SIGKILL for whatever is left in the group. A second Ctrl-C skips
the grace period. A child that exits on its own is a failure: the others are stopped and the
supervisor exits non-zero, so `make demo` never keeps running half a platform.

Every line a child writes goes to its log file (`<log_dir>/<name>.log`, timestamped); the
console shows those at INFO and above, so DEBUG chatter (a Dagster run's every step event)
stays in the files. A line's level is the first level name in its head, as the usual log
formats put it (`INFO:     ...`, `... - DEBUG - ...`, `[WARNING] ...`); a line with none (a
traceback, a continuation) goes where the line before it went.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

REPEAT_SIGNAL_SECONDS = 1.0
# A level name standing alone in the first characters of a line.
LEVEL = re.compile(r"(?<![A-Za-z])(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)(?![A-Za-z])")
LEVEL_HEAD = 120
QUIET_LEVELS = frozenset({"DEBUG"})


@dataclass(frozen=True)
class Child:
    """A process to supervise: `argv` run with the supervisor's environment plus `env`."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    # Stop by signalling the leader alone, for a child that stops its own children.
    signal_leader_only: bool = False


class Supervisor:
    def __init__(
        self,
        children: list[Child],
        *,
        grace_seconds: float = 10.0,
        out: TextIO | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.children = children
        self.grace_seconds = grace_seconds
        self.out = out if out is not None else sys.stdout
        self.log_dir = log_dir
        self._procs: dict[str, subprocess.Popen] = {}
        self._readers: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        # Set once the supervisor begins stopping: helpers waiting on the platform give up.
        self.stopping = self._stop
        self._signals = 0
        self._first_signal_at: float | None = None
        self._width = max([len("supervisor"), *(len(c.name) for c in children)])

    def run(self) -> int:
        """Run until a signal (exit 0) or until a child exits on its own (exit 1)."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            failed = not self._start_all() or self._watch()
        finally:
            self._stop_all()
            for s, handler in previous.items():
                signal.signal(s, handler)
        return 1 if failed else 0

    def _on_signal(self, signum: int, _frame) -> None:
        now = time.monotonic()
        # One Ctrl-C often arrives twice (from the terminal, and forwarded by `uv run` or
        # make): only a signal a moment after the first means "stop waiting".
        if self._first_signal_at is None:
            self._first_signal_at = now
        elif now - self._first_signal_at > REPEAT_SIGNAL_SECONDS:
            self._signals += 1
        self._stop.set()

    def _start_all(self) -> bool:
        for child in self.children:
            env = {**os.environ, "PYTHONUNBUFFERED": "1", **child.env}
            try:
                proc = subprocess.Popen(
                    child.argv,
                    env=env,
                    cwd=child.cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    errors="replace",
                    start_new_session=True,
                )
            except OSError as exc:
                self.say(f"cannot start {child.name}: {exc}")
                return False
            self._procs[child.name] = proc
            reader = threading.Thread(target=self._relay, args=(child.name, proc), daemon=True)
            reader.start()
            self._readers.append(reader)
            self.say(f"started {child.name} (pid {proc.pid}): {' '.join(child.argv)}")
        return True

    def _watch(self) -> bool:
        """Wait for a stop signal; True when a child died first."""
        while not self._stop.wait(0.2):
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    self.say(f"{name} exited unexpectedly with code {proc.returncode}")
                    return True
        return False

    def _stop_all(self) -> None:
        running = [(n, p) for n, p in self._procs.items() if p.poll() is None]
        if running:
            self.say(f"stopping {', '.join(n for n, _ in running)}")
        # Every group, including one whose leader already died: its helpers may live on.
        for child in self.children:
            proc = self._procs.get(child.name)
            if proc is None:
                continue
            if child.signal_leader_only and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
            else:
                _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        for name, proc in running:
            while proc.poll() is None and time.monotonic() < deadline and not self._signals:
                time.sleep(0.05)
            if proc.poll() is None:
                why = (
                    "on a second interrupt" if self._signals else (f"after {self.grace_seconds:g}s")
                )
                self.say(f"{name} did not stop; killing it {why}")
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        for proc in self._procs.values():
            _signal_group(proc, signal.SIGKILL)
        for reader in self._readers:
            reader.join(timeout=2)

    def _relay(self, name: str, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        shown = True
        with contextlib.ExitStack() as stack:
            log = None
            if self.log_dir is not None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                log = stack.enter_context(open(self.log_dir / f"{name}.log", "a", buffering=1))
            for raw in proc.stdout:
                line = raw.rstrip()
                if log is not None:
                    log.write(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%fZ} {line}\n")
                shown = console_worthy(line, shown)
                if shown:
                    self._write(f"{name:<{self._width}} | {line}")

    def announce(self, text: str) -> None:
        """Print a block of lines for the person at the terminal, never split by child output."""
        with self._lock:
            self.out.write(text.rstrip("\n") + "\n")
            self.out.flush()

    def say(self, message: str, source: str = "supervisor") -> None:
        """One line of the supervisor's own (or a helper's, named by `source`)."""
        self._write(f"{source:<{self._width}} | {message}")

    def _write(self, line: str) -> None:
        with self._lock:
            self.out.write(line + "\n")
            self.out.flush()


def console_worthy(line: str, previous: bool) -> bool:
    """Whether a child's line belongs on the console: its level is not DEBUG; a line with no
    level follows the line before it (`previous`)."""
    found = LEVEL.search(line[:LEVEL_HEAD])
    return previous if found is None else found.group(1) not in QUIET_LEVELS


def _signal_group(proc: subprocess.Popen, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def supervise(
    children: list[Child], *, grace_seconds: float = 10.0, log_dir: Path | None = None
) -> int:
    return Supervisor(children, grace_seconds=grace_seconds, log_dir=log_dir).run()
