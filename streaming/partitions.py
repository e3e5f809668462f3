"""Input partitions with their own event-time clock: where lateness and `future_timestamp`
are decided, in the order the partition delivers, whatever the number of workers.

`ClockedSource` wraps any fixed-partitioned source. Each partition parses its raw lines
(`parse_batch`) and keeps a clock: the `quorum`-th newest event time it has accepted, so
no single event (one bad clock) can move it. An event more than `max_ahead_s` ahead of
the clock is held; if `quorum` such events come in a row the stream has jumped (a gap in
the data) and they are accepted, otherwise the next ordinary event shows them to be
wrong and they are quarantined as `future_timestamp`. Every accepted event carries its
partition's watermark (clock less the allowed lateness) at the moment it was accepted;
products judge lateness against that, and close windows only when the minimum of the
watermarks over all partitions passes them. The clock is snapshotted with the source's
own position, so a resumed partition decides exactly as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from streaming import metrics
from streaming.runtime import stopping
from streaming.validate import FUTURE_REASON, future_record, rejected_records
from tollgate.clock import utcnow
from tollgate.events.fast import parse_batch

NEVER = float("-inf")
DONE = float("inf")  # the watermark of a partition that has delivered everything


@dataclass(frozen=True)
class ClockRules:
    allowed_lateness_s: float = 30.0
    max_ahead_s: float = 300.0
    quorum: int = 3
    # A partition that delivers nothing for this long (wall clock) vouches that its events
    # to come are no older than the wall clock less this, so an idle Kafka partition does
    # not hold every window open. Replays never idle this long.
    idle_s: float = 60.0


@dataclass(slots=True)
class PartitionBatch:
    """What one partition delivered in one batch, decided."""

    partition: str
    events: list  # accepted events, in delivery order
    times: list  # their event times, as POSIX seconds
    watermarks: list  # the partition's watermark when each event was accepted
    rejected: list  # quarantine records
    watermark: float  # the partition's watermark after the batch (DONE at its end)


@dataclass(slots=True)
class Clock:
    newest: list = field(default_factory=list)  # the `quorum` newest accepted times, ascending
    held: list = field(default_factory=list)  # (raw, event) too far ahead, not yet decided
    floor: float = NEVER  # raised while the partition is idle (see `_ClockedPartition.idle`)

    def time(self, quorum: int) -> float:
        own = self.newest[0] if len(self.newest) >= quorum else NEVER
        return own if own > self.floor else self.floor


class ClockedSource(FixedPartitionedSource):
    """`inner`'s partitions, each yielding one `PartitionBatch` per batch it reads."""

    def __init__(
        self,
        inner: FixedPartitionedSource,
        rules: ClockRules = ClockRules(),
        payload: Callable[[Any], Any] | None = None,
    ):
        self.inner, self.rules, self.payload = inner, rules, payload

    def list_parts(self) -> list[str]:
        return self.inner.list_parts()

    def build_part(self, step_id: str, for_part: str, resume_state: tuple | None):
        inner_state, clock = resume_state if resume_state is not None else (None, Clock())
        inner = self.inner.build_part(step_id, for_part, inner_state)
        return _ClockedPartition(inner, for_part, clock, self.rules, self.payload)


class _ClockedPartition(StatefulSourcePartition):
    def __init__(self, inner, name: str, clock: Clock, rules: ClockRules, payload):
        self.inner, self.name, self.clock, self.rules, self.payload = (
            inner,
            name,
            clock,
            rules,
            payload,
        )
        self.finished = False
        self.quiet_since: float | None = None

    def next_batch(self) -> list[PartitionBatch]:
        if self.finished or stopping():
            # Stopping on a signal ends the input here; the position and clock snapshotted
            # last resume it exactly (no DONE watermark: the partition is paused, not over).
            raise StopIteration
        try:
            raws = self.inner.next_batch()
        except StopIteration:
            # Undecided events at the end of the input: nothing came after to refute them.
            self.finished = True
            batch = self._decide([], utcnow(), release_held=True)
            batch.watermark = DONE
            return [batch]
        if not raws:
            return self.idle()
        self.quiet_since = None
        metrics.EVENTS_IN.inc(len(raws))
        if self.payload is not None:
            raws = [self.payload(r) for r in raws]
        return [self._decide(raws, utcnow())]

    def idle(self) -> list[PartitionBatch]:
        """Nothing read: once quiet for `idle_s`, move the clock's floor with the wall clock."""
        now = time.monotonic()
        if self.quiet_since is None:
            self.quiet_since = now
            return []
        if now - self.quiet_since < self.rules.idle_s:
            return []
        self.quiet_since = now
        clock, rules = self.clock, self.rules
        floor = utcnow().timestamp() - rules.idle_s
        if floor <= clock.time(rules.quorum):
            return []
        clock.floor = floor
        return [self._decide([], utcnow())]

    def next_awake(self) -> datetime | None:
        return self.inner.next_awake()

    def snapshot(self) -> tuple:
        return (self.inner.snapshot(), self.clock)

    def close(self) -> None:
        self.inner.close()

    def _decide(self, raws: list, now: datetime, release_held: bool = False) -> PartitionBatch:
        rules, clock = self.rules, self.clock
        quorum, ahead_s, lateness = rules.quorum, rules.max_ahead_s, rules.allowed_lateness_s
        newest, held = clock.newest, clock.held
        events, times, watermarks, rejected = [], [], [], rejected_records()
        current = clock.time(quorum)
        mark = current - lateness
        for raw, event, error in parse_batch(raws, now):
            if event is None:
                rejected.add(raw, error, now)
                continue
            at = event.event_time.timestamp()
            if at > current + ahead_s:
                held.append((raw, event))
                if len(held) < quorum:
                    continue
                # `quorum` in a row, all ahead: the data jumped; the clock follows.
                batch, held[:] = held[:], []
            else:
                if held:  # an ordinary event after them: they were wrong
                    for r, e in held:
                        rejected.records.append(future_record(r, e, current + ahead_s, now))
                    held.clear()
                batch = [(raw, event)]
            for _, e in batch:
                t = at if len(batch) == 1 else e.event_time.timestamp()
                events.append(e)
                times.append(t)
                watermarks.append(mark)
                if len(newest) < quorum:
                    newest.append(t)
                    newest.sort()
                elif t > newest[0]:
                    newest[0] = t
                    newest.sort()
                else:
                    continue  # the clock did not move
                current = clock.time(quorum)
                mark = current - lateness
        if release_held and held:
            for _, e in held:
                events.append(e)
                times.append(e.event_time.timestamp())
                watermarks.append(mark)
            held.clear()
        return PartitionBatch(self.name, events, times, watermarks, rejected.done(), mark)


__all__ = ["DONE", "FUTURE_REASON", "NEVER", "ClockRules", "ClockedSource", "PartitionBatch"]
