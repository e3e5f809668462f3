"""SLA report on a generated request log, against figures computed by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest
from sqlalchemy import insert

from orchestration.defs.resources import TollgateResource
from orchestration.defs.sla import sla_daily
from tollgate.db.engine import make_engine
from tollgate.db.migrate import upgrade
from tollgate.db.ops_models import RequestLogEntry
from tollgate.sla import KPIS, breaches, read_request_log, sla_report

DAY = date(2026, 11, 20)
NOON = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def row(tenant, minute, status, latency_ms, within_sla, day_offset=0):
    return {
        "occurred_at": NOON + timedelta(days=day_offset, minutes=minute, seconds=1),
        "tenant_id": tenant,
        "product_id": "transaction-risk",
        "route": "/v1/live/{product_id}/{key}",
        "status": status,
        "latency_ms": float(latency_ms),
        "freshness_seconds": None if within_sla is None else 1.0,
        "within_sla": within_sla,
    }


def generated_log() -> list[dict]:
    # good: 100 answers over 5 minutes, latencies 1..100 ms, all fresh.
    good = [row("good", i // 20, 200, i + 1, True) for i in range(100)]
    # bad: latencies 100..4000 ms (in request order). Minute 0: ten 503s (a down minute).
    # Minutes 1-3: one 500, one 404, 25 fresh and 3 stale deliveries.
    outcomes = [(503, None)] * 10 + [(500, None), (404, None)] + [(200, True)] * 25
    outcomes += [(200, False)] * 3
    bad = [
        row("bad", 0 if i < 10 else 1 + (i - 10) // 10, status, 100 * (i + 1), fresh)
        for i, (status, fresh) in enumerate(outcomes)
    ]
    # Neither the day before nor unidentified callers count.
    others = [row("good", 0, 500, 9000, None, day_offset=-1), row(None, 0, 401, 9000, None)]
    return good + bad + others


@pytest.fixture
def metadata_url(settings) -> str:
    upgrade(settings.metadata_db_url)
    engine = make_engine(settings.metadata_db_url)
    with engine.begin() as conn:
        conn.execute(insert(RequestLogEntry), generated_log())
    engine.dispose()
    return settings.metadata_db_url


def test_report_matches_hand_computed_figures(metadata_url):
    report = {r["tenant_id"]: r for r in sla_report(read_request_log(metadata_url, DAY)).to_dicts()}
    assert set(report) == {"good", "bad"}
    good, bad = report["good"], report["bad"]
    # Nearest rank: the ceil(0.95 * 100) = 95th of 1..100 ms.
    assert good == {
        "tenant_id": "good",
        "requests": 100,
        "p95_latency_ms": 95.0,
        "freshness_compliance": 1.0,
        "availability": 1.0,
        "error_rate": 0.0,
    }
    assert bad["requests"] == 40
    assert bad["p95_latency_ms"] == 3800.0  # the 38th of 100..4000 ms
    assert bad["freshness_compliance"] == pytest.approx(25 / 28)
    assert bad["availability"] == pytest.approx(3 / 4)  # minute 0 of 4 active minutes was down
    assert bad["error_rate"] == pytest.approx(11 / 40)  # ten 503s and one 500; the 404 is not ours


def test_breaches_name_each_missed_kpi(metadata_url):
    missed = breaches(sla_report(read_request_log(metadata_url, DAY)))
    assert {(b["tenant_id"], b["figure"]) for b in missed} == {
        ("bad", "p95_latency_ms"),
        ("bad", "freshness_compliance"),
        ("bad", "availability"),
        ("bad", "error_rate"),
    }
    latency = next(b for b in missed if b["figure"] == "p95_latency_ms")
    assert latency["value"] == 3800.0 and latency["target"] == KPIS.p95_latency_ms


def test_an_empty_day_reports_no_tenants(metadata_url):
    assert sla_report(read_request_log(metadata_url, DAY - timedelta(days=5))).is_empty()


def test_the_daily_asset_records_breaches_and_fails_its_check(metadata_url, settings):
    result = dg.materialize(
        [sla_daily],
        resources={"tollgate": TollgateResource.from_settings(settings)},
        partition_key=DAY.isoformat(),
    )
    assert result.success
    metadata = result.asset_materializations_for_node("operations__sla_daily")[0].metadata
    assert metadata["tenants"].value == 2 and metadata["requests"].value == 140
    assert metadata["breach_count"].value == 4
    assert {b["tenant_id"] for b in metadata["breaches"].value} == {"bad"}
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "kpis_met" and not check.passed
