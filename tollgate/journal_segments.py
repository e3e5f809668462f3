"""The usage journal's segment files: one process's append-only files of ledger lines.

A process holds each segment it writes (`tollgate.heldfiles`) until the segment's lines are
in the database; a segment nobody holds belongs to a process that stopped or crashed first.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from tollgate.heldfiles import left_behind, open_held

SEGMENT_PREFIX = "usage-journal-"
SEGMENT_SUFFIX = ".jsonl"


@dataclass
class Segment:
    path: Path
    fd: int
    opened_at_seq: int  # the last durable line when it was opened: all of its lines are later
    last_seq: int = 0
    size: int = 0

    @classmethod
    def open(cls, directory: Path, opened_at_seq: int) -> Segment:
        """A new segment file, held by this process (durably created)."""
        fd, path = open_held(directory, SEGMENT_PREFIX, SEGMENT_SUFFIX, durable=True)
        return cls(path, fd, opened_at_seq)

    def drop(self) -> None:
        """Delete the file, then close it (closing releases the lock that marks it held)."""
        self.path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            os.close(self.fd)


def unheld_segments(directory: Path) -> list[Path]:
    """The segments in `directory` that no running process holds, oldest first."""
    return left_behind(directory, SEGMENT_PREFIX, SEGMENT_SUFFIX)


def read_segment(path: Path) -> list[bytes]:
    """The complete lines of a segment (a torn last line, never acknowledged, is left out)."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    return [line for line in lines[:-1] if line.strip()]
