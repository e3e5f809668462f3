"""The usage journal: a local append-only file that makes a delivery durable before it leaves.

`append()` hands a line to the journal thread and returns its sequence number; the thread
writes whatever has accumulated in one `write` + `fdatasync` (group commit: one disk flush
serves every request that arrived while the previous one ran, and every line appended in
one step of an event loop) and then wakes the waiters,
sync (`wait`) or async (`durable`). A line whose flush failed fails its waiters, so an
answer that could not be made durable is never sent.

Each process writes its own segment files and holds each (`tollgate.heldfiles`) until its
lines are in the database; a segment nobody holds belongs to a process that stopped (or
crashed) first, and `orphans()` lists it for replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tollgate.journal_segments import Segment, unheld_segments

log = logging.getLogger(__name__)


class JournalError(OSError):
    """The journal could not make a line durable."""


@dataclass
class _Group:
    """Lines appended since the last flush, with what to hand on once they are durable."""

    lines: list[bytes] = field(default_factory=list)
    items: list[object] = field(default_factory=list)
    first_seq: int = 0
    last_seq: int = 0


class UsageJournal:
    """Group-committed, per-process journal files in `directory`."""

    def __init__(
        self,
        directory: Path,
        on_durable: Callable[[list[object], int], None],
        segment_bytes: int = 8 << 20,
    ) -> None:
        self.directory = Path(directory)
        self.on_durable = on_durable  # called on the journal thread with the items of a group
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._flushed = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._group = _Group()
        self._seq = 0
        self._durable = 0
        self._failed: list[tuple[int, int, JournalError]] = []  # (first, last) seq that failed
        self._async: dict[asyncio.AbstractEventLoop, list[tuple[int, asyncio.Future]]] = {}
        self._closed: list[Segment] = []  # rotated out, deleted once the database has them
        self._current: Segment | None = None
        self._rotate = False
        self._stop = False
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._current = self._new_segment()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="usage-journal", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Flush what is appended and stop; the segments stay until `release` drops them."""
        with self._lock:
            self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._current is not None:
            # Still locked: the file is this process's until `release` drops it.
            self._closed.append(self._current)
            self._current = None

    # -- appending and waiting ---------------------------------------------------------
    def append(self, line: bytes, item: object) -> int:
        """Queue one line (ending in a newline); `item` goes to `on_durable` once it is."""
        with self._lock:
            if self._stop:
                raise JournalError("the usage journal is closed")
            self._seq += 1
            group = self._group
            if not group.lines:
                group.first_seq = self._seq
            group.lines.append(line)
            group.items.append(item)
            group.last_seq = self._seq
            seq = self._seq
        # The line is in the group before this check: if the thread has not cleared the
        # event yet, it takes the group (and this line) under the lock after waking. Setting
        # a set event again costs a notify_all, per request, for nothing.
        if not self._wake.is_set():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # a worker thread: wake the journal now
                self._wake.set()
            else:
                # On an event loop, once the loop's current step is done: the answers made
                # in that step go in one group (one fdatasync), where the first used to wake
                # the thread on its own and the rest waited for the next flush.
                loop.call_soon(self._wake_up)
        return seq

    def _wake_up(self) -> None:
        if not self._wake.is_set():
            self._wake.set()

    def wait(self, seq: int, timeout: float | None = None) -> None:
        """Block until line `seq` is durable; raises JournalError if it cannot be."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._durable < seq:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise JournalError(f"usage journal line {seq} not durable in {timeout} s")
                self._flushed.wait(left)
            self._raise_if_failed(seq)

    async def durable(self, seq: int) -> None:
        """Await until line `seq` is durable; raises JournalError if it cannot be."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._durable >= seq:
                self._raise_if_failed(seq)
                return
            future = loop.create_future()
            self._async.setdefault(loop, []).append((seq, future))
        await future

    def _raise_if_failed(self, seq: int) -> None:
        for first, last, error in self._failed:
            if first <= seq <= last:
                raise error

    # -- the journal thread ------------------------------------------------------------
    def _run(self) -> None:
        while True:
            self._wake.wait()
            with self._lock:
                self._wake.clear()
                group, self._group = self._group, _Group()
                stopping = self._stop
            if group.lines:
                self._flush(group)
            if self._rotate:
                self._rotate_now()
            if stopping:
                with self._lock:
                    if not self._group.lines:
                        return

    def _flush(self, group: _Group) -> None:
        segment = self._current
        data = b"".join(group.lines)
        error = None
        try:
            os.write(segment.fd, data)
            os.fdatasync(segment.fd)
        except OSError as exc:  # disk full, I/O error: these answers must not go out
            log.error("usage journal flush failed: %s", exc)
            error = JournalError(f"usage journal flush failed: {exc}")
            # Cut what may have reached the file (a replay must not bill unsent answers),
            # and carry on in a fresh segment.
            with contextlib.suppress(OSError):
                os.ftruncate(segment.fd, segment.size)
            self._rotate = True
        else:
            segment.size += len(data)
            segment.last_seq = group.last_seq
            if segment.size >= self.segment_bytes:
                self._rotate = True
        with self._lock:
            if error is not None:
                self._failed = [*self._failed[-63:], (group.first_seq, group.last_seq, error)]
            self._durable = group.last_seq
            self._flushed.notify_all()
            ready = self._take_async(group.last_seq)
        for loop, futures in ready.items():
            loop.call_soon_threadsafe(_settle, futures, error)
        if error is None:
            self.on_durable(group.items, group.last_seq)

    def _take_async(self, durable: int) -> dict[asyncio.AbstractEventLoop, list[asyncio.Future]]:
        ready = {}
        for loop, waiting in list(self._async.items()):
            done = [f for seq, f in waiting if seq <= durable]
            if done:
                rest = [(seq, f) for seq, f in waiting if seq > durable]
                if rest:
                    self._async[loop] = rest
                else:
                    del self._async[loop]
                ready[loop] = done
        return ready

    # -- segments ----------------------------------------------------------------------
    def request_rotation(self) -> None:
        self._rotate = True
        self._wake.set()

    def _rotate_now(self) -> None:
        self._rotate = False
        try:
            fresh = self._new_segment()
        except OSError as exc:
            log.error("usage journal cannot open a new segment: %s", exc)
            return
        old, self._current = self._current, fresh
        with self._lock:
            self._closed.append(old)  # kept open, so locked, until its lines are written

    def _new_segment(self) -> Segment:
        return Segment.open(self.directory, self._durable)

    def release(self, written_seq: int) -> int:
        """Delete the closed segments whose every line is in the database; returns how many."""
        with self._lock:
            done = [s for s in self._closed if s.last_seq <= written_seq]
            self._closed = [s for s in self._closed if s.last_seq > written_seq]
        for segment in done:
            segment.drop()
        return len(done)

    def abandon(self) -> None:
        """Unlock the remaining segments (kept on disk): whoever starts next replays them."""
        for segment in self.take_closed():
            with contextlib.suppress(OSError):
                os.close(segment.fd)

    def take_closed(self) -> list[Segment]:
        """The closed segments, handed to the caller (who drops or gives them back)."""
        with self._lock:
            taken, self._closed = self._closed, []
        return taken

    def give_back(self, segments: list[Segment]) -> None:
        with self._lock:
            self._closed[:0] = segments

    def rotated_since(self, seq: int) -> bool:
        """True when every line up to `seq` is in a closed segment."""
        return self._current is None or self._current.opened_at_seq >= seq

    def orphans(self) -> list[Path]:
        """Segments no running process holds (their writer stopped or crashed), oldest first."""
        mine = {s.path for s in self._closed}
        if self._current is not None:
            mine.add(self._current.path)
        return [p for p in unheld_segments(self.directory) if p not in mine]


def _settle(futures: list[asyncio.Future], error: JournalError | None) -> None:
    for future in futures:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
