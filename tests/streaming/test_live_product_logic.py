"""The product logic as plain functions: risk signals, journey windows, region minutes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from streamkit import T0, minutes, payment

from streaming.products import journey as jr
from streaming.products.region import Minute, add_counts, add_fact, minute_of, region_row
from streaming.products.risk import RiskProfile, note_browsing, note_device, score_transaction


def _history(profile: RiskProfile, n: int = 6, amount: int = 2500) -> None:
    for i in range(n):
        at = T0 - timedelta(days=2) + timedelta(hours=3 * i)
        note_device(profile, "d-1", at.timestamp() - 7200)
        score_transaction(profile, payment(at=at, amount=amount + 100 * (i % 3)))


def test_an_ordinary_payment_is_low_risk():
    profile = RiskProfile()
    _history(profile)
    score = score_transaction(profile, payment(at=T0, amount=2600))
    assert score.risk_level == "low" and score.fraud_score < 0.3 and score.risk_reasons == ()


@pytest.mark.parametrize(
    ("kwargs", "reasons", "flagged"),
    [
        ({"amount": 2500 * 30}, ("amount_spike",), True),
        ({"ip_region": "APAC"}, ("geo_mismatch",), False),
        ({"device": "d-new"}, ("new_device",), True),
        ({"ip_region": "APAC", "device": "d-new"}, ("geo_mismatch", "new_device"), True),
    ],
)
def test_signals_name_their_reasons_and_only_strong_evidence_is_flagged(kwargs, reasons, flagged):
    profile = RiskProfile()
    _history(profile)
    score = score_transaction(profile, payment(at=T0, **kwargs))
    assert score.risk_reasons == reasons
    assert score.flagged is flagged
    assert 0.0 <= score.fraud_score <= 1.0


def test_a_burst_on_a_known_device_is_named_but_not_flagged_alone():
    profile = RiskProfile()
    _history(profile)
    scores = [
        score_transaction(profile, payment(at=T0 + timedelta(seconds=20 * i))) for i in range(5)
    ]
    assert [s.risk_reasons for s in scores[:3]] == [(), (), ()]
    assert scores[-1].risk_reasons == ("velocity",) and not scores[-1].flagged
    assert scores[-1].fraud_score > scores[0].fraud_score


def test_a_new_device_the_customer_shopped_with_first_is_not_suspicious():
    profile = RiskProfile()
    _history(profile)
    tx = payment(at=T0, device="d-phone")
    note_browsing(profile, "d-phone", tx.session_id, (T0 - timedelta(minutes=3)).timestamp())
    assert score_transaction(profile, tx).risk_reasons == ()


def test_the_profile_stays_bounded():
    profile = RiskProfile()
    for i in range(200):
        score_transaction(profile, payment(at=T0 + minutes(i), device=f"d-{i}"))
    assert len(profile.devices) <= 16 and len(profile.recent_at) <= 6


def _journey(actions: list[str], start=T0) -> jr.Journey:
    j = jr.Journey()
    for i, action in enumerate(actions):
        at = (start + timedelta(seconds=30 * i)).timestamp()
        jr.add_event(j, "EU", action, at, 1000 if action == "purchase" else 0, False)
    return j


def test_a_confident_habit_is_published_with_its_window():
    j = _journey(["page_view", "purchase"] * 6)
    end = jr.pane_of(T0.timestamp()) + 1
    row = jr.insight(j, "c-1", end)
    # After the latest purchase, page_view followed purchase 5 times out of 5 (+1 prior).
    assert row["predicted_next_action"] == "page_view"
    assert row["confidence"] == pytest.approx(5 / 6, abs=1e-4)
    assert row["window_end_at"] - row["window_start_at"] == timedelta(hours=24)
    assert row["events_in_window"] == 12 and 0 < row["value_score"] <= 1


def test_an_unsure_prediction_is_not_published():
    j = _journey(["page_view", "search", "page_view", "purchase", "page_view", "search"])
    assert jr.insight(j, "c-1", jr.pane_of(T0.timestamp()) + 1) is None


def test_the_window_covers_exactly_24_hours_of_panes():
    j = _journey(["page_view", "purchase"] * 6)
    first = jr.pane_of(T0.timestamp())
    assert jr.insight(j, "c-1", first + jr.PANES_PER_WINDOW) is not None
    assert jr.insight(j, "c-1", first + jr.PANES_PER_WINDOW + 1) is None
    jr.forget_before(j, first + jr.PANES_PER_WINDOW + 1)
    assert j.panes == {}


def test_region_minute_counts_and_conversion():
    m = Minute()
    for session in ("s1", "s2", "s2", "s3", "s4"):
        add_fact(m, "page_view", 0, session)
    add_fact(m, "purchase", 1999, "s2")
    add_fact(m, "card_transaction", 0, "s-pay")
    row = region_row("EU", minute_of(T0.timestamp()), m)
    assert row == {
        "region_minute_id": "EU@2026-11-20T12:00",
        "region": "EU",
        "minute_at": T0,
        "events": 7,
        "purchases": 1,
        "revenue_cents": 1999,
        "conversion_rate": 0.25,
    }
    assert minute_of((T0 + timedelta(seconds=59.999)).timestamp()) == minute_of(T0.timestamp())
    assert minute_of((T0 + timedelta(seconds=60)).timestamp()) == minute_of(T0.timestamp()) + 1


def test_a_minute_counted_in_parts_adds_up_to_the_whole():
    # Shards count their own events of a minute; the region step adds the parts up.
    facts = [
        ("page_view", 0, "s1"),
        ("purchase", 1999, "s1"),
        ("page_view", 0, "s2"),
        ("page_view", 0, "s1"),
        ("purchase", 500, "s3"),
        ("card_transaction", 0, "s-pay"),
    ]
    whole, first, second = Minute(), Minute(), Minute()
    for fact in facts:
        add_fact(whole, *fact)
    for fact in facts[:3]:
        add_fact(first, *fact)
    for fact in facts[3:]:
        add_fact(second, *fact)
    add_counts(first, second)
    assert first == whole
    assert region_row("EU", 1, first) == region_row("EU", 1, whole)
