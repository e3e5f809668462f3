"""A stream's identity: its recovery directory, and the epoch its file writers start from.

File sinks name their files by (writer, epoch). A run that crashes before its first
snapshot has no recovery state to resume from, yet it may already have landed files; if
the restart picked new names, those files would stay and the restart would land the same
events again. So the first epoch of a stream is fixed when its recovery directory is
created (written beside Bytewax's partitions), and every start without recovery state
discards that stream's files from it on before writing any.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from pathlib import Path

from bytewax.recovery import init_db_dir

RECOVERY_PARTITIONS = 1
FIRST_EPOCH_FILE = "tollgate-first-epoch"
INIT_LOCK_FILE = ".tollgate-init.lock"


def ensure_recovery_dir(path: Path) -> None:
    """Create the recovery partitions and the stream's first epoch unless already there.

    The processes of a cluster start together and share the directory: the first to take
    the lock creates the partitions, the others find them whole.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    with open(path / INIT_LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not any(path.glob("part-*.sqlite3")):
            init_db_dir(path, RECOVERY_PARTITIONS)
    first_epoch(path)


def first_epoch(path: Path) -> int:
    """The stream's first file epoch, written once (whoever of several processes is first)."""
    marker = Path(path) / FIRST_EPOCH_FILE
    if not marker.exists():
        # Wall-clock milliseconds: a later stream's epochs never meet an earlier one's.
        tmp = marker.with_name(f".{marker.name}.{os.getpid()}.tmp")
        tmp.write_text(str(time.time_ns() // 1_000_000))
        try:
            os.link(tmp, marker)  # fails if another process wrote it first: theirs stands
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return int(marker.read_text())


def recovery_dir_of_run(argv: list[str] | None = None) -> Path | None:
    """The recovery directory `bytewax.run` was given (`-r DIR`, or its environment variable)."""
    argv = sys.argv if argv is None else argv
    for i, arg in enumerate(argv):
        if arg in ("-r", "--recovery-directory") and i + 1 < len(argv):
            return Path(argv[i + 1])
        if arg.startswith("--recovery-directory="):
            return Path(arg.split("=", 1)[1])
    env = os.environ.get("BYTEWAX_RECOVERY_DIRECTORY")
    return Path(env) if env else None


def stream_first_epoch() -> int | None:
    """This run's first file epoch, or None when it runs without recovery."""
    path = recovery_dir_of_run()
    return first_epoch(path) if path is not None and path.is_dir() else None
