"""Files a process holds while it writes them, so another process can tell what was left.

A process creates its file under a dot-name, takes an exclusive `flock` on it, then renames
it into place: whoever lists the directory never sees a file before its owner holds it.
The lock lasts while the descriptor is open (and ends with the process, kill -9 included),
so a file nobody holds belongs to a writer that is gone: `unheld` tells which.
"""

from __future__ import annotations

import fcntl
import os
import time
import uuid
from pathlib import Path


def open_held(directory: Path, prefix: str, suffix: str, durable: bool = False) -> tuple[int, Path]:
    """A new append-only file `<prefix><time>-<pid>-<random><suffix>`, held by this process.
    `durable`: its directory entry is fsynced (it survives a power cut, not only a crash)."""
    name = f"{prefix}{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}"
    tmp = directory / f".{name}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    path = directory / name
    os.replace(tmp, path)
    if durable:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return fd, path


def unheld(path: Path) -> bool:
    """True when no process holds `path` (False too when it is gone)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # also drops the probe's own lock
    return True


def left_behind(directory: Path, prefix: str, suffix: str) -> list[Path]:
    """The files of this kind in `directory` that no process holds, oldest first."""
    return [p for p in sorted(directory.glob(f"{prefix}*{suffix}")) if unheld(p)]
