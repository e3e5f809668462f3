"""An input partition's clock: quorum, future events, and what an idle partition vouches."""

from __future__ import annotations

import pickle
import time
from datetime import timedelta

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from streamkit import T0, raw, view

from streaming.partitions import ClockedSource, ClockRules
from tollgate.clock import utcnow


class _Lines(FixedPartitionedSource):
    def __init__(self, batches):
        self.batches = batches

    def list_parts(self):
        return ["p"]

    def build_part(self, step_id, for_part, resume_state):
        return _LinesPart(list(self.batches))


class _LinesPart(StatefulSourcePartition):
    def __init__(self, batches):
        self.batches = batches

    def next_batch(self):
        return self.batches.pop(0) if self.batches else []

    def snapshot(self):
        return None


def test_the_clock_is_the_third_newest_time_and_a_resumed_partition_decides_alike():
    lines = raw(*(view(at=T0 + timedelta(seconds=s)) for s in (0, 10, 20, 400, 30)))
    source = ClockedSource(_Lines([lines[:3], lines[3:]]), ClockRules())
    part = source.build_part("in", "p", None)
    first = part.next_batch()[0]
    assert first.watermark == (T0 + timedelta(seconds=0 - 30)).timestamp()
    state = pickle.loads(pickle.dumps(part.snapshot()))  # as Bytewax stores it
    again = ClockedSource(_Lines([lines[3:]]), ClockRules()).build_part("in", "p", state)
    for p in (part, again):
        second = p.next_batch()[0]
        # 400 s is past 5 minutes ahead of the clock (0 s): held, then refuted by 30 s.
        assert [r["reason"] for r in second.rejected] == ["future_timestamp"]
        assert len(second.events) == 1
        assert second.watermark == (T0 + timedelta(seconds=10 - 30)).timestamp()


def test_an_idle_partition_stops_holding_windows_open():
    source = ClockedSource(_Lines([raw(view(at=T0))]), ClockRules(quorum=1, idle_s=0.05))
    part = source.build_part("in", "p", None)
    assert part.next_batch()[0].watermark == T0.timestamp() - 30
    assert part.next_batch() == []  # quiet from now
    time.sleep(0.1)
    idle = part.next_batch()[0]
    assert idle.events == [] and idle.rejected == []
    assert abs(idle.watermark - (utcnow().timestamp() - 0.05 - 30)) < 5
