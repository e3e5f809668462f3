"""SLA credits: deliveries made while a product was stale or degraded are credited in
full, and a month's availability under the catalog's thresholds credits a share of the
product's charges; invoice total = charges - credits. Figures computed by hand below."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from tollgate.billing import invoice_month
from tollgate.catalog import load_catalog
from tollgate.db.engine import make_engine
from tollgate.db.migrate import upgrade
from tollgate.db.ops_models import RequestLogEntry
from tollgate.usage import Delivery, write_deliveries

RISK, BEHAVIOR = "transaction-risk", "customer-behavior-daily"  # $1.50 a query; $0.10 a record


def _d(n, tenant, product, kind, units, micros, at, fresh, status="healthy", version=None):
    return Delivery(
        f"{tenant}:{n}",
        tenant,
        product,
        kind,
        units,
        occurred_at=at,
        unit_price_micros=micros,
        price_basis="list",
        schema_version="1.0",
        snapshot_version=version,
        watermark_at=at - timedelta(seconds=fresh),
        freshness_seconds=fresh,
        quality_status=status,
    )


def _ledger() -> list[Delivery]:
    oct3, oct4, oct5 = (datetime(2026, 10, d, tzinfo=UTC) for d in (3, 4, 5))
    h = timedelta(hours=1)
    return [
        # transaction-risk, SLA 5 s: 10 fresh queries at 09:00,
        *(_d(i, "acme", RISK, "query", 1, 1_500_000, oct3 + 9 * h, 1.0) for i in range(10)),
        # 4 in the stale hour 14:00-15:00 (12 s old: past the SLA),
        *(
            _d(
                10 + i,
                "acme",
                RISK,
                "query",
                1,
                1_500_000,
                oct3 + 14 * h + i * 600 * h / 3600,
                12.0,
            )
            for i in range(4)
        ),
        # and one just inside the SLA after it.
        _d(14, "acme", RISK, "query", 1, 1_500_000, oct3 + 15 * h, 4.999),
        # customer-behavior-daily: 2 x 25 records of a healthy snapshot,
        _d(20, "acme", BEHAVIOR, "records", 25, 100_000, oct4, 40_000.0, version="v000001"),
        _d(21, "acme", BEHAVIOR, "records", 25, 100_000, oct4, 40_000.0, version="v000001"),
        # then 3 x 10 records served while the gate held it degraded (v000002 failed).
        *(
            _d(
                22 + i,
                "acme",
                BEHAVIOR,
                "records",
                10,
                100_000,
                oct5 + (10 + i // 2) * h,
                40_000.0,
                "degraded",
                "v000001",
            )  # fmt: skip
            for i in range(3)
        ),
        # globex: 2 fresh queries.
        *(_d(i, "globex", RISK, "query", 1, 1_500_000, oct3 + 9 * h, 1.0) for i in range(2)),
    ]


def _request_log() -> list[dict]:
    start = datetime(2026, 10, 6, tzinfo=UTC)
    rows = []

    def log(tenant, product, minute, status):
        at = start + timedelta(minutes=minute, seconds=10)
        rows.append(
            {"occurred_at": at, "tenant_id": tenant, "product_id": product, "route": "/v1",
             "status": status, "latency_ms": 5.0, "freshness_seconds": None, "within_sla": None}
        )  # fmt: skip

    # acme on transaction-risk: 400 active minutes; one lost whole to 503s (down), one
    # with a 503 and a 200 (not down): availability 399/400 = 99.75%, under 99.9%.
    for minute in range(400):
        log("acme", RISK, minute, 200 if minute not in (7, 8) else 503)
    log("acme", RISK, 7, 503)
    log("acme", RISK, 8, 200)
    # acme on customer-behavior-daily: 100 minutes, none down.
    for minute in range(100):
        log("acme", BEHAVIOR, minute, 200)
    # globex on transaction-risk: 5 minutes, 1 down: 80%, under 99%.
    for minute in range(5):
        log("globex", RISK, minute, 500 if minute == 0 else 200)
    log(None, None, 0, 401)  # never identified: not anyone's availability
    return rows


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def month(request, settings):
    url = settings.metadata_db_url
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    upgrade(url)
    engine = make_engine(url)
    write_deliveries(engine, _ledger())
    with engine.begin() as conn:
        conn.execute(insert(RequestLogEntry), _request_log())
    catalog = load_catalog(settings.catalog_path)
    return {d.tenant_id: d for d in invoice_month(engine, catalog, "2026-10")}


def test_credits_for_a_stale_hour_a_degraded_snapshot_and_low_availability(month):
    acme = month["acme"]
    assert [(x.product_id, x.kind, x.amount_cents) for x in acme.lines] == [
        (BEHAVIOR, "records", 800),  # 80 records x $0.10
        (BEHAVIOR, "sla_deliveries", -300),  # the 30 records served degraded
        (RISK, "query", 2250),  # 15 queries x $1.50
        (RISK, "sla_deliveries", -600),  # the 4 queries in the stale hour
        (RISK, "sla_availability", -165),  # 10% of $22.50 - $6.00
    ]
    assert (acme.charges_cents, acme.credits_cents, acme.total_cents) == (3050, 1065, 1985)

    degraded = acme.lines[1]
    assert degraded.evidence == {
        "deliveries": 3,
        "units": 30,
        "degraded": {
            "deliveries": 3,
            "units": 30,
            "hours": [{"from": "2026-10-05T10:00Z", "to": "2026-10-05T12:00Z"}],
            "snapshot_versions": ["v000001"],
        },
    }
    assert degraded.description == (
        "SLA credit: 3 deliveries credited in full, 3 while degraded "
        "(snapshot v000001; Oct 05 10:00-12:00)"
    )
    stale = acme.lines[3]
    assert stale.evidence["stale"]["hours"] == [
        {"from": "2026-10-03T14:00Z", "to": "2026-10-03T15:00Z"}
    ]
    assert (stale.evidence["deliveries"], stale.evidence["units"]) == (4, 4)
    availability = acme.lines[4]
    assert availability.evidence == {
        "availability": 0.9975,
        "active_minutes": 400,
        "down_minutes": 1,
        "below": 0.999,
        "percent": 10,
        "charges_cents": 1650,
    }
    assert availability.description == (
        "SLA credit: availability 99.750% (1 of 400 active minutes down), under 99.9%: "
        "10% of $16.50"
    )

    globex = month["globex"]
    # 2 queries ($3.00); 4 of 5 minutes up = 80%, under 99%: 25%, $0.75.
    assert [(x.kind, x.amount_cents) for x in globex.lines] == [
        ("query", 300),
        ("sla_availability", -75),
    ]
    assert globex.total_cents == 225


def test_a_products_own_policy_and_the_thresholds(settings):
    import yaml

    from tollgate.catalog import parse_catalog
    from tollgate.credit_policy import CreditPolicy

    raw = yaml.safe_load(settings.catalog_path.read_text())
    raw["products"][0]["sla_credits"] = {"stale": True}  # transaction-risk: its own
    catalog = parse_catalog(raw)
    assert catalog.credit_policy(RISK) == CreditPolicy(stale=True)
    assert catalog.credit_policy(BEHAVIOR) == catalog.sla_credits
    assert catalog.sla_credits.stale and catalog.sla_credits.degraded
    raw["sla_credits"] = {"availability": [{"below": 1.5, "percent": 10}]}
    with pytest.raises(ValueError, match=r"sla_credits\.availability"):
        parse_catalog(raw)

    policy = CreditPolicy.model_validate(
        {"availability": [{"below": 0.999, "percent": 10}, {"below": 0.99, "percent": 25}]}
    )
    assert [policy.availability_percent(a) for a in (1.0, 0.999, 0.9985, 0.99, 0.9899)] == [
        0,
        0,
        10,
        10,
        25,
    ]
    assert not policy.credits_deliveries
