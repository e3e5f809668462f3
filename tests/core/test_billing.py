"""Billing on a hand-written ledger, against totals worked out by hand in the comments.

The records here carry no rating (as records written before deliveries were rated): billing
prices them at the catalog's list price of their channel on their day. Contracts and rated
deliveries are tested in test_contract_invoices.py."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from tollgate.billing import BillingError, CostRates, price_month
from tollgate.billing.jobs import attribute_costs, invoice_month, margin_month, rollup_days
from tollgate.billing.ledger_reads import read_rated_usage
from tollgate.catalog import load_catalog
from tollgate.db.billing_models import Invoice, InvoiceLine, TenantCost, UsageDaily
from tollgate.db.engine import engine_for
from tollgate.db.migrate import upgrade
from tollgate.db.models import ExportJob
from tollgate.usage import Delivery, write_deliveries

NOV = date(2026, 11, 1)


def at(day: int, hour: int = 12, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


CHANNEL = {"query": "query", "records": "query", "messages": "push", "export": "export"}


def d(did, tenant, product, kind, units, when, nbytes=0, compute_ms=0.0) -> Delivery:
    return Delivery(
        did, tenant, product, kind, units, nbytes, compute_ms, "/v1/x", when, CHANNEL[kind]
    )


LEDGER = [
    # acme, Nov 3: 3 queries (1000 B, 20 ms each) and one export of 123 records
    *(d(f"q{i}", "acme", "transaction-risk", "query", 1, at(3), 1000, 20.0) for i in range(3)),
    d("export:e1", "acme", "customer-behavior-daily", "export", 123, at(3), 2_000_000_000, 60_000),
    # acme, later in November
    *(d(f"q{i}", "acme", "transaction-risk", "query", 1, at(20)) for i in range(3, 5)),
    d("r1", "acme", "customer-behavior-daily", "records", 7, at(21)),
    d("sse1", "acme", "region-activity", "messages", 1000, at(5)),
    d("dump1", "acme", "market-trends", "records", 500, at(10)),
    d("dump2", "acme", "market-trends", "records", 500, at(2, month=12)),
    # the last microsecond of October is not November
    d(
        "oct",
        "acme",
        "transaction-risk",
        "query",
        1,
        datetime(2026, 10, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ),
    # beta: bought market-trends in October; 3 history records over 10 GB in November
    d("b-dump", "beta", "market-trends", "records", 10, datetime(2026, 10, 15, tzinfo=UTC)),
    d("b-dump2", "beta", "market-trends", "records", 10, at(1, hour=0)),
    d("b-hist", "beta", "transaction-insights-history", "records", 3, at(12), 10_000_000_000),
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, settings):
    """The ledger above in the embedded database, then in PostgreSQL."""
    url = settings.metadata_db_url
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    upgrade(url)
    engine = engine_for(url)
    write_deliveries(engine, LEDGER)
    write_deliveries(engine, LEDGER[:4])  # replayed deliveries change nothing
    with engine.begin() as conn:
        conn.execute(
            insert(ExportJob),
            [
                # acme holds 3 GB all November; gamma holds 1 GB from Nov 29 and pays nothing
                dict(
                    id="e1",
                    tenant_id="acme",
                    product_id="customer-behavior-daily",
                    format="csv",
                    params={},
                    status="succeeded",
                    rows_done=123,
                    bytes=3_000_000_000,
                    created_at=at(1, 0),
                    finished_at=at(1, 1),
                    expires_at=at(1, 0, month=12),
                ),
                dict(
                    id="g1",
                    tenant_id="gamma",
                    product_id="market-trends",
                    format="parquet",
                    params={},
                    status="succeeded",
                    rows_done=1,
                    bytes=1_000_000_000,
                    created_at=at(29),
                    finished_at=at(29),
                    expires_at=None,
                ),
            ],
        )
    return engine


def test_november_invoices_match_hand_computed_totals(engine, settings):
    catalog = load_catalog(settings.catalog_path)
    invoices = {inv.tenant_id: inv for inv in invoice_month(engine, catalog, "2026-11")}
    acme = {(li.product_id, li.channel): li for li in invoices["acme"].lines}
    risk = acme[("transaction-risk", "query")]
    assert (risk.quantity, risk.amount_cents, risk.price_basis) == (5, 750, "list")
    assert acme[("customer-behavior-daily", "query")].amount_cents == 70  # 7 x $0.10
    assert acme[("customer-behavior-daily", "export")].amount_cents == 1230  # 123 x $0.10
    # Delivered without a subscription or a purchase (the gate refuses that now): usage
    # never stands in for a contract, so neither fee is charged; the quantities still show.
    assert acme[("region-activity", "push")].quantity == 1000
    assert acme[("region-activity", "push")].amount_cents == 0
    assert acme[("market-trends", "query")].amount_cents == 0
    assert invoices["acme"].total_cents == 750 + 1300
    # beta: 3 history records x $0.25 (and its dump delivery, at $0 without a purchase)
    assert [(li.product_id, li.amount_cents) for li in invoices["beta"].lines] == [
        ("market-trends", 0),
        ("transaction-insights-history", 75),
    ]
    assert set(invoices) == {"acme", "beta"}
    with engine.connect() as conn:
        stored = dict(conn.execute(select(Invoice.tenant_id, Invoice.total_cents)).all())
        lines = conn.execute(select(InvoiceLine.amount_cents)).scalars().all()
    assert stored == {"acme": 2050, "beta": 75} and sum(lines) == 2125


def test_usage_alone_never_charges_a_subscription_or_a_one_time_fee(engine, settings):
    catalog = load_catalog(settings.catalog_path)
    october = {inv.tenant_id: inv.total_cents for inv in invoice_month(engine, catalog, "2026-10")}
    assert october == {"acme": 150, "beta": 0}
    assert [i.total_cents for i in invoice_month(engine, catalog, "2026-12")] == [0]


def test_invoices_are_reproducible_and_rerun_replaces_them(engine, settings):
    catalog = load_catalog(settings.catalog_path)
    first = invoice_month(engine, catalog, "2026-11")
    again = invoice_month(engine, catalog, "2026-11")
    # from a rollup read beforehand (wider than the month): the same invoices
    rollup = rollup_days(engine, date(2026, 10, 1), date(2027, 1, 1))
    assert first == again == invoice_month(engine, catalog, "2026-11", daily_usage=rollup)
    with engine.connect() as conn:
        assert len(conn.execute(select(Invoice)).all()) == 2
        assert len(conn.execute(select(InvoiceLine)).all()) == 7


def test_daily_rollup(engine):
    usage = rollup_days(engine, NOV, date(2026, 12, 1))
    row = usage.filter(
        (usage["usage_date"] == date(2026, 11, 3)) & (usage["product_id"] == "transaction-risk")
    ).row(0, named=True)
    assert (row["requests"], row["units"], row["bytes"], row["compute_ms"]) == (3, 3, 3000, 60.0)
    assert usage["requests"].sum() == 11  # every November record once, none of Oct or Dec
    rollup_days(engine, NOV, date(2026, 12, 1))
    with engine.connect() as conn:
        assert len(conn.execute(select(UsageDaily)).all()) == usage.height


def test_costs_and_margins_against_hand_computed_figures(engine, settings):
    rates = CostRates.from_settings(settings)
    rollup = rollup_days(engine, NOV, date(2026, 12, 1))
    for n in range(30):
        day = NOV + timedelta(days=n)
        from_rollup = attribute_costs(engine, rates, day, daily_usage=rollup)
        assert attribute_costs(engine, rates, day) == from_rollup
    invoice_month(engine, load_catalog(settings.catalog_path), "2026-11")
    with Session(engine) as session:
        acme3 = session.scalars(
            select(TenantCost).where(
                TenantCost.tenant_id == "acme", TenantCost.cost_date == date(2026, 11, 3)
            )
        ).one()
    # 60.06 s x 0.00005 + 2.000003 GB x 0.09 + 4 calls x 0.0001 + 3 GB x 0.023 / 30 days
    assert acme3.compute_usd == Decimal("0.003003")
    assert acme3.transfer_usd == Decimal("0.18000027")
    assert acme3.api_calls_usd == Decimal("0.0004")
    assert acme3.storage_usd == Decimal("0.0023")
    assert acme3.cost_usd == Decimal("0.18570327")
    margins = {m.tenant_id: m for m in margin_month(engine, rates, "2026-11")}
    # beta: $0.75 of revenue against 10 GB x 0.09 + 2 calls = $0.9002 of cost
    assert margins["beta"].cost_usd == Decimal("0.9002")
    assert margins["beta"].margin_usd == Decimal("-0.1502")
    assert margins["beta"].is_flagged
    assert not margins["acme"].is_flagged
    # gamma pays nothing but holds 1 GB for two days: flagged, no ratio
    assert margins["gamma"].cost_usd == Decimal("0.00153334")
    assert margins["gamma"].is_flagged and margins["gamma"].cost_ratio is None


def test_usage_of_a_product_missing_from_the_catalog_is_an_error(engine, settings):
    write_deliveries(engine, [d("ghost", "acme", "retired-product", "query", 1, at(4))])
    usage = read_rated_usage(engine, NOV, date(2026, 12, 1))
    with pytest.raises(BillingError, match="retired-product"):
        price_month(load_catalog(settings.catalog_path), "2026-11", usage)
