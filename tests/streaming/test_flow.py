"""The live-products flow in process: validation, dedupe, lateness, windows, recovery."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import cache

import pytest
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import TestingSource, run_main
from streamkit import (
    T0,
    lake_contents,
    landed,
    live_rows,
    payment,
    purchase,
    quarantined,
    raw,
    run_collect,
    store_contents,
    view,
)

from streaming.customers import Timing
from streaming.flows.build import FlowOptions, build_flow
from tollgate.clock import utcnow
from tollgate.events import Reason, event_to_json


def _mangle(**changes) -> bytes:
    d = json.loads(event_to_json(payment(at=T0)))
    for path, value in changes.items():
        node, *rest = path.split("__")
        target = d if not rest else d[node]
        key = rest[0] if rest else node
        if value is ...:
            del target[key]
        else:
            target[key] = value
    return json.dumps(d).encode()


MALFORMED = [
    (b"{not json", Reason.BAD_JSON),
    (b"\xff\xfe\x00garbage", Reason.BAD_JSON),
    (b"[1, 2, 3]", Reason.NOT_AN_OBJECT),
    (_mangle(customer_id=...), Reason.MISSING_FIELD),
    (_mangle(event_type=...), Reason.MISSING_FIELD),
    (_mangle(payload__amount_cents="12.50"), Reason.WRONG_TYPE),
    (_mangle(event_type="refund"), Reason.UNKNOWN_EVENT_TYPE),
    (_mangle(region="Mars"), Reason.UNKNOWN_REGION),
    (_mangle(payload__amount_cents=10**12), Reason.ABSURD_VALUE),
    (_mangle(event_time=(utcnow() + timedelta(days=2)).isoformat()), Reason.FUTURE_EVENT_TIME),
    (_mangle(event_time="1970-01-01T00:00:00Z"), Reason.ANCIENT_EVENT_TIME),
    (_mangle(coupon="FREE"), Reason.UNKNOWN_FIELD),
]


def test_every_kind_of_malformed_input_is_quarantined_with_its_reason(settings):
    good = payment(at=T0)
    out = run_collect(settings, [m for m, _ in MALFORMED] + raw(good))
    records = quarantined(out)
    assert sorted(r["reason"] for r in records) == sorted(r.value for _, r in MALFORMED)
    by_reason = {r["reason"]: r for r in records}
    assert by_reason["bad_json"]["raw"] in ("{not json", "//4AZ2FyYmFnZQ==")
    assert [e.event_id for e in landed(out)] == [good.event_id]
    assert len(live_rows(out, "transaction-risk")) == 1


def test_duplicates_are_landed_and_scored_once(settings):
    a, b = payment(at=T0), view(at=T0 + timedelta(seconds=5))
    out = run_collect(settings, raw(a, b, a, b, a))
    assert sorted(e.event_id for e in landed(out)) == sorted([a.event_id, b.event_id])
    assert [r["transaction_id"] for r in live_rows(out, "transaction-risk")] == [
        a.payload.transaction_id
    ]
    assert sum(r["events"] for r in live_rows(out, "region-activity")) == 2


def test_stragglers_update_a_published_minute_and_older_events_are_counted_aside(settings):
    early = view(at=T0 + timedelta(seconds=10))
    first = view(at=T0 + timedelta(minutes=3, seconds=5))
    closer = view(at=T0 + timedelta(minutes=7))  # watermark 12:06:30: 12:00-12:05 published
    # Minute 12:00 is now past the 5-minute retention (evicted before 12:01); 12:03 is not.
    late = purchase(at=T0 + timedelta(seconds=20), amount=5000)
    straggler = purchase(at=T0 + timedelta(minutes=3, seconds=30), amount=700)
    # A clock of one event (quorum 1), so that `closer` alone moves the watermark.
    options = FlowOptions(shards=4, writers=1, timing=Timing(quorum=1))
    out = run_collect(
        settings, raw(early, first, closer, late, straggler), options=options, batch_size=1
    )
    emitted = [
        r for r in live_rows(out, "region-activity") if r["minute_at"] == T0 + timedelta(minutes=3)
    ]
    # 12:03 was published with one event, then updated (same key) when the straggler came.
    assert [(r["events"], r["purchases"], r["revenue_cents"]) for r in emitted] == [
        (1, 0, 0),
        (2, 1, 700),
    ]
    rows = {r["minute_at"]: r for r in live_rows(out, "region-activity")}
    assert rows[T0]["events"] == 1 and rows[T0]["purchases"] == 0
    side = [r for r in quarantined(out) if r["reason"] == "late"]
    assert [(r["product_id"], r["event_id"]) for r in side] == [("region-activity", late.event_id)]
    # Late is not lost: the lake still gets the event.
    assert late.event_id in {e.event_id for e in landed(out)}


def test_minute_boundaries_are_exact(settings):
    last = view(at=T0 + timedelta(seconds=59, microseconds=999_000))
    first = view(at=T0 + timedelta(seconds=60))
    out = run_collect(settings, raw(view(at=T0), last, first))
    rows = {r["minute_at"]: r["events"] for r in live_rows(out, "region-activity")}
    assert rows == {T0: 2, T0 + timedelta(minutes=1): 1}


def test_journey_windows_end_on_15_minute_boundaries_and_only_confident_ones_publish(settings):
    habit = [
        e
        for i in range(6)
        for e in (
            view("c-habit", at=T0 + timedelta(minutes=2 * i)),
            purchase("c-habit", at=T0 + timedelta(minutes=2 * i, seconds=30)),
        )
    ]
    unsure = [
        view("c-unsure", at=T0 + timedelta(minutes=1)),
        purchase("c-unsure", at=T0 + timedelta(minutes=3)),
        payment("c-unsure", at=T0 + timedelta(minutes=4)),
    ]
    tick = view("c-other", at=T0 + timedelta(minutes=16))  # moves the watermark past 12:15
    out = run_collect(settings, raw(*sorted(habit + unsure, key=lambda e: e.event_time), tick))
    rows = live_rows(out, "customer-journey-insights")
    assert [r["customer_id"] for r in rows] == ["c-habit"]
    assert rows[0]["window_end_at"] == T0 + timedelta(minutes=15)
    assert rows[0]["window_start_at"] == T0 + timedelta(minutes=15) - timedelta(hours=24)
    assert rows[0]["predicted_next_action"] == "page_view" and rows[0]["confidence"] > 0.8


@cache
def _lines(n: int = 600) -> tuple[bytes, ...]:
    events = []
    for i in range(n):
        at = T0 + timedelta(seconds=3 * i)
        customer = f"c-{i % 37}"
        if i % 5 == 0:
            events.append(payment(customer, at=at, amount=1000 + 37 * i, region="US-East"))
        elif i % 7 == 0:
            events.append(purchase(customer, at=at, amount=500 + i, region="APAC"))
        else:
            events.append(view(customer, at=at, region=("EU", "APAC", "US-West")[i % 3]))
    lines = raw(*events)
    return tuple(lines[:100] + [b"oops"] + lines[100:300] + lines[250:260] + lines[300:])


def _stream() -> list:
    """The same stream on every call: bad lines, duplicates and all."""
    return list(_lines())


def _run_real(settings, items, recovery_dir=None) -> None:
    flow = build_flow(settings, TestingSource(items, batch_size=25), options=FlowOptions(4, 2))
    config = RecoveryConfig(str(recovery_dir)) if recovery_dir else None
    run_main(flow, epoch_interval=timedelta(0), recovery_config=config)


def test_recovery_on_gives_the_same_store_and_lake_as_recovery_off(settings, tmp_path):
    from tollgate.settings import Settings

    plain = Settings(
        data_dir=tmp_path / "plain", catalog_path=settings.catalog_path, _env_file=None
    )
    _run_real(plain, _stream())
    recovery = tmp_path / "recovery"
    recovery.mkdir()
    init_db_dir(recovery, 1)
    _run_real(settings, _stream(), recovery)
    expected = store_contents(plain.live_store_url)
    assert sum(len(rows) for rows in expected.values()) > 50
    assert store_contents(settings.live_store_url) == expected
    assert lake_contents(settings.lake_dir) == lake_contents(plain.lake_dir)


@pytest.mark.parametrize("abort_at", [40, 333, 580])
def test_an_aborted_run_resumes_to_the_same_store_and_lake(settings, tmp_path, abort_at):
    from tollgate.settings import Settings

    plain = Settings(
        data_dir=tmp_path / "plain", catalog_path=settings.catalog_path, _env_file=None
    )
    _run_real(plain, _stream())
    recovery = tmp_path / "recovery"
    recovery.mkdir()
    init_db_dir(recovery, 1)
    items = _stream()
    items.insert(abort_at, TestingSource.ABORT())
    flow = build_flow(settings, TestingSource(items, batch_size=25), options=FlowOptions(4, 2))
    config = RecoveryConfig(str(recovery))
    run_main(flow, epoch_interval=timedelta(0), recovery_config=config)  # stops abruptly
    assert store_contents(settings.live_store_url) != store_contents(plain.live_store_url)
    run_main(flow, epoch_interval=timedelta(0), recovery_config=config)
    assert store_contents(settings.live_store_url) == store_contents(plain.live_store_url)
    assert lake_contents(settings.lake_dir) == lake_contents(plain.lake_dir)
