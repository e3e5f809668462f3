"""Rate-limit counters that outlive the API process on the embedded default (no Redis).

`limits`' in-memory storage, plus a log: every change of a counter is appended to a file
of this process (`write`, no fsync: a kill -9 leaves it in the page cache, so only a power
cut could lose the last changes). A process starting takes over the logs no running
process holds (an earlier run, crashed or stopped) and replays them, so a restart does not
refill any budget. The log is compacted to the live counters once it grows past
`compact_bytes`; with the sliding window counter a tenant has two counters per window,
so the state is small and does not grow with traffic.
"""

from __future__ import annotations

import os
import threading
import time
from math import floor
from pathlib import Path

from limits.storage import MemoryStorage

from tollgate.heldfiles import left_behind, open_held

LOG_PREFIX = "ratelimit-"
LOG_SUFFIX = ".log"
PURGE_SECONDS = 60.0


class DurableMemoryStorage(MemoryStorage):
    STORAGE_SCHEME = ["tollgate+durable-memory"]

    def __init__(self, directory: Path, compact_bytes: int = 1 << 20) -> None:
        super().__init__()
        self.directory = Path(directory)
        self.compact_bytes = compact_bytes
        self._log_lock = threading.Lock()
        self._next_purge = time.time() + PURGE_SECONDS
        self.directory.mkdir(parents=True, exist_ok=True)
        taken = left_behind(self.directory, LOG_PREFIX, LOG_SUFFIX)
        for path in taken:
            self._replay(path)
        self._fd, self._path, self._size = self._open_log(self._snapshot())
        for path in taken:  # their counters are in this process's log now
            path.unlink(missing_ok=True)

    # -- counting (limits calls these) ----------------------------------------------------
    # MemoryStorage's own incr/decr start a timer thread (10 ms) to expire keys whenever the
    # last one has finished: at a request every few ms that was a new thread per request
    # (3 of the 10 ms a metered lookup took in a profile on a loaded machine). Here `get`
    # drops an expired key when it is read, and `_purge` sweeps the rest once a minute.
    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        self.get(key)
        return self._add(key, expiry, amount)

    def _add(self, key: str, expiry: float, amount: int) -> int:
        """`incr` of a key whose expiry was just checked."""
        with self.locks[key]:
            self.storage[key] += amount
            if self.storage[key] == amount:
                self.expirations[key] = time.time() + expiry
            value = self.storage[key]
        self._append(key, amount)
        return value

    def _count(self, key: str, now: float) -> int:
        """`get` at `now`, called directly: `limits` wraps each public storage method in an
        error translator, and a hit made seven such calls."""
        if self.expirations.get(key, 0) <= now:
            self.storage.pop(key, None)
            self.expirations.pop(key, None)
            self.locks.pop(key, None)
        return self.storage.get(key, 0)

    def acquire_sliding_window_stats(
        self, key: str, limit: int, expiry: int, amount: int = 1
    ) -> tuple[bool, int, float]:
        """`acquire_sliding_window_entry`, and the window's remaining amount and reset time
        as `get_window_stats` would read them right after: (allowed, remaining, reset_at).
        limits' limiter reads the two counters again for the stats; here one read serves
        both, with the same arithmetic."""
        now = time.time()
        previous_key, current_key = self.sliding_window_keys(key, expiry, now)
        # As `_get_sliding_window_info` reads the window.
        previous, current = self._count(previous_key, now), self._count(current_key, now)
        previous_ttl = (1 - (((now - expiry) / expiry) % 1)) * expiry if previous else 0.0
        current_ttl = (1 - ((now / expiry) % 1)) * expiry + expiry
        allowed = (
            amount <= limit and floor(previous * previous_ttl / expiry + current) + amount <= limit
        )
        if allowed:
            current = self._add(current_key, 2 * expiry, amount)
            if floor(previous * previous_ttl / expiry + current) > limit:
                # Another hit won the race: take this one back and refuse it (as limits does).
                current = self.decr(current_key, amount)
                allowed = False
        remaining = max(0, limit - floor(previous * previous_ttl / expiry + current))
        if not (previous or current):
            return allowed, remaining, now
        resets = [previous_ttl % (expiry / previous)] if previous else []
        if current:
            resets.append(current_ttl % expiry)
        return allowed, remaining, now + min(resets)

    def decr(self, key: str, amount: int = 1) -> int:
        self.get(key)
        with self.locks[key]:
            self.storage[key] = max(self.storage[key] - amount, 0)
            value = self.storage[key]
        self._append(key, -amount)
        return value

    def _purge(self) -> None:
        now = time.time()
        self._next_purge = now + PURGE_SECONDS
        for key, at in list(self.expirations.items()):
            if at <= now:
                self.storage.pop(key, None)
                self.expirations.pop(key, None)
                self.locks.pop(key, None)

    def _append(self, key: str, delta: int) -> None:
        expires = self.expirations.get(key)
        if expires is None or "\t" in key or "\n" in key:
            return
        line = f"{key}\t{delta}\t{expires:.3f}\n".encode()
        with self._log_lock:
            if self._fd < 0:  # closed: the process is stopping
                return
            os.write(self._fd, line)
            self._size += len(line)
            if time.time() >= self._next_purge:
                self._purge()
            if self._size >= self.compact_bytes:
                self._compact()

    # -- the log ----------------------------------------------------------------------------
    def _snapshot(self) -> bytes:
        now = time.time()
        return b"".join(
            f"{key}\t{count}\t{self.expirations[key]:.3f}\n".encode()
            for key, count in list(self.storage.items())
            if count and self.expirations.get(key, 0) > now
        )

    def _open_log(self, content: bytes) -> tuple[int, Path, int]:
        fd, path = open_held(self.directory, LOG_PREFIX, LOG_SUFFIX)
        os.write(fd, content)
        return fd, path, len(content)

    def _compact(self) -> None:
        old_fd, old_path = self._fd, self._path
        self._fd, self._path, self._size = self._open_log(self._snapshot())
        old_path.unlink(missing_ok=True)
        os.close(old_fd)

    def _replay(self, path: Path) -> None:
        now = time.time()
        try:
            lines = path.read_bytes().split(b"\n")[:-1]  # a torn last line is left out
        except FileNotFoundError:
            return
        for line in lines:
            try:
                key, delta, expires = line.decode().split("\t")
                at, change = float(expires), int(delta)
            except ValueError:
                continue
            if at <= now:
                continue
            self.storage[key] = max(0, self.storage.get(key, 0) + change)
            self.expirations[key] = at

    def close(self) -> None:
        with self._log_lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
