"""A customer shard's snapshot restores it exactly: the restored shard holds the same state
and decides every later event as the original does."""

from __future__ import annotations

import numpy as np
from streamkit import T0

from streaming.customers import CustomerShard, Timing
from tollgate.events.generator import GeneratorConfig, SyntheticSource

PARTITION = "p0"


def _batches(events: list, size: int = 100) -> list[list[tuple]]:
    out = []
    for i in range(0, len(events), size):
        chunk = events[i : i + size]
        times = [e.event_time.timestamp() for e in chunk]
        mark = times[0] - 30.0
        out.append([(PARTITION, chunk, times, [mark] * len(chunk), times[-1] - 30.0)])
    return out


def _assert_same_state(a: CustomerShard, b: CustomerShard) -> None:
    sa, sb = a.s, b.s
    assert sa.customers == sb.customers  # profiles (with their deques) and journey panes
    assert (sa.partitions, sa.watermark, sa.next_boundary) == (
        sb.partitions,
        sb.watermark,
        sb.next_boundary,
    )
    assert (sa.active, sa.expiry) == (sb.active, sb.expiry)
    assert sa.seen.recent == sb.seen.recent
    assert sa.seen.recent_by_bucket == sb.seen.recent_by_bucket
    assert np.array_equal(sa.seen.sealed, sb.seen.sealed)
    assert np.array_equal(sa.seen.sealed_bucket, sb.seen.sealed_bucket)
    assert (sa.seen.horizon_s, sa.seen.sealed_before) == (sb.seen.horizon_s, sb.seen.sealed_before)


def _outputs(produced: list) -> list:
    return [(p.land, p.regions, p.live) for p in produced]


def test_a_restored_shard_has_the_same_state_and_decides_the_same():
    # Slow event time (about 2 hours over 4,000 events): windows close, hours are sealed.
    config = GeneratorConfig(seed=11, customers=150, events_per_second=0.5)
    batches = _batches(list(SyntheticSource(config).events(T0, count=4000)))
    timing = Timing()
    original = CustomerShard(timing, [PARTITION], None)
    half = len(batches) // 2
    for batch in batches[:half]:
        original.on_batch(batch)
    assert len(original.s.seen.sealed) and original.s.seen.recent  # both kinds of dedupe ids
    assert any(c.journey.panes and c.profile.recent_at for c in original.s.customers.values())

    restored = CustomerShard(timing, [PARTITION], original.snapshot())
    _assert_same_state(original, restored)
    for batch in batches[half:] + batches[:3]:  # the later events, then re-deliveries
        produced_a, _ = original.on_batch(batch)
        produced_b, _ = restored.on_batch(batch)
        assert _outputs(produced_a) == _outputs(produced_b)
    _assert_same_state(original, restored)
    again = CustomerShard(timing, [PARTITION], restored.snapshot())
    _assert_same_state(original, again)
