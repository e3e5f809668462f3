"""One bad clock cannot drag the watermark: future events are quarantined, none made late."""

from __future__ import annotations

from datetime import timedelta

from streamkit import T0, landed, live_rows, quarantined, raw, run_collect, view

from tollgate.clock import utcnow


def _replay(n: int) -> list:
    """`n` events a second apart, as a replay of older data delivers them."""
    return [view(f"c-{i % 50}", at=T0 + timedelta(seconds=i)) for i in range(n)]


def test_an_event_stamped_now_inside_a_replay_is_quarantined_and_makes_nothing_late(settings):
    events = _replay(1200)
    now = view("c-now", at=utcnow())
    out = run_collect(settings, raw(*events[:600], now, *events[600:]))
    records = quarantined(out)
    assert [(r["reason"], now.event_id in r["raw"]) for r in records] == [
        ("future_timestamp", True)
    ]
    assert len(landed(out)) == 1200
    assert sum(r["events"] for r in live_rows(out, "region-activity")) == 1200
    marks = [mark for pid, _, mark in out["live"] if pid == "region-activity"]
    assert max(marks) <= T0 + timedelta(seconds=1200)


def test_one_event_minutes_ahead_counts_in_its_minute_but_does_not_move_the_watermark(settings):
    events = _replay(1200)
    ahead = view("c-ahead", at=T0 + timedelta(seconds=600, minutes=4))
    out = run_collect(settings, raw(*events[:600], ahead, *events[600:]), batch_size=10)
    assert quarantined(out) == []  # nothing late, nothing refused
    assert len(landed(out)) == 1201
    assert sum(r["events"] for r in live_rows(out, "region-activity")) == 1201
    # While the replay is under way, no watermark runs ahead of the good events.
    marks = [mark for pid, _, mark in out["live"] if pid == "region-activity"]
    assert sorted(marks)[-2] <= T0 + timedelta(seconds=1200)


def test_a_gap_in_the_data_moves_the_clock_once_enough_events_agree(settings):
    before = _replay(100)
    after = [view(f"c-{i}", at=T0 + timedelta(hours=2, seconds=i)) for i in range(100)]
    straggler = view("c-x", at=T0 + timedelta(seconds=5))
    out = run_collect(settings, raw(*before, *after, straggler))
    assert len(landed(out)) == 201
    assert [r["reason"] for r in quarantined(out)] == ["late", "late"]  # journey and region
