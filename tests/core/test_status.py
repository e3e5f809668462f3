"""Product status as a table: watermark age against the SLA, and the quality verdict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streaming.customers import Timing
from streaming.products import journey
from tollgate.catalog import get_catalog
from tollgate.status import QualityVerdict, decide

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
RISK = get_catalog().product("transaction-risk")  # SLA 5 s
DEGRADED = QualityVerdict("degraded", "unique failed", "v000001", "v000002")
HALTED = QualityVerdict("halted", "scorer down")


@pytest.mark.parametrize(
    ("age_seconds", "quality", "status"),
    [
        (0, QualityVerdict(), "healthy"),
        (5, QualityVerdict(), "healthy"),
        (6, QualityVerdict(), "stale"),
        (420, QualityVerdict(), "stale"),  # a stream stopped minutes ago: late, not halted
        (None, QualityVerdict(), "stale"),  # nothing produced yet: not halted either
        (1, DEGRADED, "degraded"),
        (6, DEGRADED, "stale"),  # late and degraded: lateness is what the buyer notices first
        (1, HALTED, "halted"),
        (None, HALTED, "halted"),
    ],
)
def test_decide(age_seconds, quality, status):
    watermark = None if age_seconds is None else NOW - timedelta(seconds=age_seconds)
    state = decide(RISK, watermark, NOW, quality)
    assert state.status == status
    assert (state.reason is None) == (status == "healthy")
    assert state.freshness_seconds == age_seconds
    assert state.within_sla == (age_seconds is not None and age_seconds <= 5)


def test_a_naive_watermark_is_utc_and_a_future_one_is_zero_old():
    assert decide(RISK, datetime(2026, 11, 24, 7, 59, 58), NOW).freshness_seconds == 2
    assert decide(RISK, NOW + timedelta(seconds=3), NOW).freshness_seconds == 0


def test_every_products_sla_outlasts_its_own_update_cadence():
    """Read right before its next update, a healthy product is still within its SLA."""
    catalog = get_catalog()
    # Windows close once the stream's watermark, the clock less the allowed lateness, has
    # passed their end; a risk score's watermark is its own event's time.
    trail = Timing().allowed_lateness_s
    oldest_before_update = {
        "transaction-risk": 1,  # every event moves it, scored within a second
        "region-activity": 60 + trail,  # a minute is published once the watermark passes it
        "customer-journey-insights": journey.PANE_S + trail,  # a window every 15 minutes
    }
    for product in catalog.live_products():
        assert product.freshness_sla_seconds > oldest_before_update[product.id], product.id
    # Batch: each night at 01:00 the day before is built (a whole day, its end the
    # watermark), so the data is 25 h old when the next build starts, and it takes a while.
    for product in catalog.batch_products():
        assert product.freshness_sla_seconds >= 25 * 3600 + 30 * 60, product.id
