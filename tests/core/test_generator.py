"""The synthetic source: deterministic, realistic, and faulty at exactly the configured rates."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from tollgate.events.contract import InvalidEvent, Reason, event_to_json, parse_event
from tollgate.events.generator import GeneratorConfig, SyntheticSource
from tollgate.events.population import REGION_MIX

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning


def _parse_or_reason(line: bytes, now: datetime):
    try:
        return parse_event(line, now=now)
    except InvalidEvent as exc:
        return exc.reason


# -- determinism ---------------------------------------------------------------------------


def test_same_seed_and_start_give_identical_bytes():
    config = GeneratorConfig(seed=11, malformed_rate=0.02, duplicate_rate=0.02, late_rate=0.02)
    first = list(SyntheticSource(config).raw(START, count=3000))
    second = list(SyntheticSource(config).raw(START, count=3000))
    assert first == second
    assert len(first) > 3000  # the faults added lines


def test_different_seed_or_start_give_different_events():
    base = [
        event_to_json(e) for e in SyntheticSource(GeneratorConfig(seed=1)).events(START, count=500)
    ]
    other_seed = [
        event_to_json(e) for e in SyntheticSource(GeneratorConfig(seed=2)).events(START, count=500)
    ]
    later = list(
        SyntheticSource(GeneratorConfig(seed=1)).events(START + timedelta(days=1), count=500)
    )
    assert base != other_seed
    # A later run never reuses an event id of an earlier one (backfill then live feed).
    assert not {e.event_id for e in later} & {parse_event(b).event_id for b in base}


def test_the_population_does_not_depend_on_the_start():
    source = SyntheticSource(GeneratorConfig(seed=5, customers=300))
    regions: dict[str, set[str]] = defaultdict(set)
    for start in (START, START + timedelta(days=30)):
        for event in source.events(start, count=3000):
            regions[event.customer_id].add(event.region)
    assert all(len(r) == 1 for r in regions.values())


# -- the clean stream ------------------------------------------------------------------------


def test_events_are_valid_ordered_and_bounded():
    source = SyntheticSource(GeneratorConfig(seed=3, events_per_second=20))
    events = list(source.events(START, count=4000))
    assert len(events) == 4000
    times = [e.event_time for e in events]
    assert times == sorted(times) and times[0] >= START
    assert len({e.event_id for e in events}) == 4000
    for event in events:
        assert parse_event(event_to_json(event), now=times[-1]) == event
    end = START + timedelta(minutes=30)
    windowed = list(source.events(START, end=end))
    assert windowed and all(START <= e.event_time < end for e in windowed)
    # The bounded run is a prefix of the unbounded one.
    assert windowed == list(source.events(START, count=len(windowed)))


def test_config_rejects_impossible_rates():
    for bad in ({"fraud_rate": 1.0}, {"malformed_rate": -0.1}, {"events_per_second": 0},
                {"customers": 0}, {"max_lateness": timedelta(0)}):  # fmt: skip
        with pytest.raises(ValueError):
            GeneratorConfig(**bad)
    with pytest.raises(ValueError, match="timezone"):
        next(SyntheticSource().events(datetime(2026, 1, 1), count=1))


# -- wire faults -------------------------------------------------------------------------------

FAULTY = GeneratorConfig(seed=21, malformed_rate=0.05, duplicate_rate=0.04, late_rate=0.03)


@pytest.fixture(scope="module")
def wire() -> tuple[list[bytes], list]:
    source = SyntheticSource(FAULTY)
    return list(source.raw(START, count=20_000)), list(source.events(START, count=20_000))


def test_malformed_lines_all_fail_with_a_reason_at_the_configured_rate(wire):
    lines, events = wire
    now = events[-1].event_time
    outcomes = [_parse_or_reason(line, now) for line in lines]
    bad = [o for o in outcomes if isinstance(o, Reason)]
    assert len(bad) / len(lines) == pytest.approx(FAULTY.malformed_rate, abs=0.008)
    # Every malformed line is a broken copy under its own id; none shadows a real event.
    assert Counter(bad).keys() >= {
        Reason.BAD_JSON, Reason.NOT_AN_OBJECT, Reason.MISSING_FIELD, Reason.WRONG_TYPE,
        Reason.UNKNOWN_EVENT_TYPE, Reason.UNKNOWN_REGION, Reason.ABSURD_VALUE,
        Reason.FUTURE_EVENT_TIME, Reason.ANCIENT_EVENT_TIME, Reason.UNKNOWN_FIELD,
    }  # fmt: skip


def test_valid_lines_deduplicated_are_exactly_the_events(wire):
    lines, events = wire
    now = events[-1].event_time
    valid = [
        o for o in (_parse_or_reason(line, now) for line in lines) if not isinstance(o, Reason)
    ]
    first_seen = {}
    for event in valid:
        first_seen.setdefault(event.event_id, event)
    assert sorted(first_seen.values(), key=lambda e: (e.event_time, e.event_id)) == sorted(
        events, key=lambda e: (e.event_time, e.event_id)
    )


def test_duplicates_repeat_the_same_bytes_at_the_configured_rate(wire):
    lines, events = wire
    by_id: dict[str, list[bytes]] = defaultdict(list)
    for line in lines:
        outcome = _parse_or_reason(line, events[-1].event_time)
        if not isinstance(outcome, Reason):
            by_id[outcome.event_id].append(line)
    repeated = [copies for copies in by_id.values() if len(copies) > 1]
    assert len(repeated) / len(events) == pytest.approx(FAULTY.duplicate_rate, abs=0.008)
    assert all(len(set(copies)) == 1 for copies in repeated)


def test_late_events_arrive_after_later_event_times(wire):
    lines, events = wire
    seen, late, newest = set(), 0, None
    max_lateness = FAULTY.max_lateness
    for line in lines:
        outcome = _parse_or_reason(line, events[-1].event_time)
        if isinstance(outcome, Reason) or outcome.event_id in seen:
            continue
        seen.add(outcome.event_id)
        if newest is not None and outcome.event_time < newest:
            late += 1
            assert newest - outcome.event_time <= max_lateness + timedelta(minutes=1)
        newest = max(newest or outcome.event_time, outcome.event_time)
    assert late / len(events) == pytest.approx(FAULTY.late_rate, abs=0.008)


def test_a_clean_config_puts_no_faults_on_the_wire():
    source = SyntheticSource(GeneratorConfig(seed=4))
    assert list(source.raw(START, count=2000)) == [
        event_to_json(e) for e in source.events(START, count=2000)
    ]


# -- realism ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world() -> list:
    config = GeneratorConfig(seed=8, customers=1500, fraud_rate=0.05)
    return list(SyntheticSource(config).events(START, count=60_000))


def test_customers_have_stable_home_regions_in_the_configured_mix(world):
    regions: dict[str, set[str]] = defaultdict(set)
    for event in world:
        regions[event.customer_id].add(event.region)
    assert all(len(r) == 1 for r in regions.values())
    # The mix holds over the population; who is active at an hour follows local time.
    customers = SyntheticSource(GeneratorConfig(seed=8, customers=4000)).population.customers
    mix = Counter(c.home_region for c in customers)
    for region, share in REGION_MIX.items():
        assert mix[region] / len(customers) == pytest.approx(share, abs=0.03)


def test_funnel_narrows_from_views_to_purchases(world):
    kinds = Counter(e.event_type for e in world)
    assert kinds["page_view"] > kinds["add_to_cart"] > kinds["checkout"] > kinds["purchase"] > 0
    sessions: dict[str, list] = defaultdict(list)
    for event in world:
        sessions[event.session_id].append(event)
    order = ["search", "page_view", "add_to_cart", "checkout", "purchase"]
    for session in sessions.values():
        assert (
            len(
                {
                    (e.customer_id, e.device_id)
                    for e in session
                    if e.event_type != "card_transaction"
                }
            )
            <= 1
        )
        steps = [order.index(e.event_type) for e in session if e.event_type in order]
        assert steps == sorted(steps)
    multi = sum(len(s) >= 3 for s in sessions.values())
    assert multi / len(sessions) > 0.3


def test_card_payments_match_purchases_and_are_long_tailed(world):
    purchases = {e.session_id: e for e in world if e.event_type == "purchase"}
    transactions = [e for e in world if e.event_type == "card_transaction"]
    legit = [t for t in transactions if not t.labels.is_fraud]
    paid = [t for t in legit if t.session_id in purchases]
    assert len(paid) >= 0.9 * len(purchases)
    for t in paid:
        assert t.payload.amount_cents == purchases[t.session_id].payload.amount_cents
    amounts = [t.payload.amount_cents for t in legit]
    median = statistics.median(amounts)
    assert statistics.fmean(amounts) > 1.2 * median
    assert sorted(amounts)[int(0.99 * len(amounts))] > 5 * median
    home = sum(t.payload.ip_region == t.payload.card_region == t.region for t in legit)
    assert home / len(legit) > 0.95


def test_fraud_is_labelled_at_the_configured_share_with_each_pattern(world):
    transactions = [e for e in world if e.event_type == "card_transaction"]
    assert all(t.labels is not None for t in transactions)
    fraud = [t for t in transactions if t.labels.is_fraud]
    assert len(fraud) / len(transactions) == pytest.approx(0.05, abs=0.015)
    patterns = Counter(t.labels.pattern for t in fraud)
    assert set(patterns) == {"burst", "geo_mismatch", "amount_spike", "new_device"}
    for t in fraud:
        if t.labels.pattern == "geo_mismatch":
            assert t.payload.ip_region != t.payload.card_region
    # Bursts: several payments of one card within minutes.
    bursts: dict[str, list] = defaultdict(list)
    for t in fraud:
        if t.labels.pattern == "burst":
            bursts[t.session_id].append(t.event_time)
    # (a burst still under way when the run stops is cut short)
    cutoff = world[-1].event_time - timedelta(minutes=10)
    assert all(len(times) >= 3 for times in bursts.values() if min(times) < cutoff)
    assert all(max(times) - min(times) < timedelta(minutes=10) for times in bursts.values())
    # Spikes sit far above what the customer usually spends.
    usual = defaultdict(list)
    for t in transactions:
        if not t.labels.is_fraud:
            usual[t.customer_id].append(t.payload.amount_cents)
    spikes = [t for t in fraud if t.labels.pattern == "amount_spike" and usual[t.customer_id]]
    assert spikes
    above = sum(
        t.payload.amount_cents > 3 * statistics.median(usual[t.customer_id]) for t in spikes
    )
    assert above / len(spikes) > 0.8


def test_activity_follows_daily_cycles_and_keeps_the_mean_rate():
    config = GeneratorConfig(seed=9, events_per_second=0.1)
    week = list(SyntheticSource(config).events(START, end=START + timedelta(days=7)))
    rate = len(week) / timedelta(days=7).total_seconds()
    assert rate == pytest.approx(config.events_per_second, rel=0.1)
    by_hour = Counter(e.event_time.hour for e in week)
    assert max(by_hour.values()) > 2 * min(by_hour.values())
    # Weekends are busier than midweek (START is a Monday: day 5 is Saturday, 1 Tuesday).
    by_day = Counter((e.event_time - START).days for e in week)
    assert by_day[5] > 1.08 * by_day[1]


def test_the_rate_is_steady_from_the_first_second():
    # Sessions already under way at `start` are part of the world, so no ramp-up.
    source = SyntheticSource(GeneratorConfig(seed=10, events_per_second=50))
    events = list(source.events(START, end=START + timedelta(minutes=12)))
    first = sum(e.event_time < START + timedelta(minutes=2) for e in events)
    later = sum(e.event_time >= START + timedelta(minutes=10) for e in events)
    assert first == pytest.approx(later, rel=0.2)
