"""The billing assets materialized on a generated ledger, against totals worked out by hand.

Rates are the settings' defaults: $0.00005 per compute second, $0.09 per GB (10^9 B)
transferred, $0.0001 per API call (ledger record), no exports held (no storage cost).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import dagster as dg
import pytest
from sqlalchemy import insert, select

from orchestration.defs.billing import invoices, tenant_costs, tenant_margins, usage_daily
from orchestration.defs.resources import TollgateResource
from tollgate.db.billing_models import Invoice, InvoiceLine, TenantCost, TenantMargin, UsageDaily
from tollgate.db.contract_models import Subscription
from tollgate.db.engine import engine_for
from tollgate.db.migrate import upgrade
from tollgate.db.models import Tenant
from tollgate.usage import Delivery, write_deliveries

GB = 10**9


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 10, day, hour, tzinfo=UTC)


def d(did, tenant, product, kind, units, when, nbytes, compute_ms, **rated) -> Delivery:
    return Delivery(did, tenant, product, kind, units, nbytes, compute_ms, "/v1/x", when, **rated)


LEDGER = [
    # acme, Oct 3: 4 queries of $1.50, 1000 B and 100 ms each
    *(
        d(f"acme-q{i}", "acme", "transaction-risk", "query", 1, at(3), 1000, 100.0)
        for i in range(4)
    ),
    # acme, Oct 4: 20 records at $0.10 (500 B, 50 ms), and messages its subscription includes
    d("acme-r1", "acme", "customer-behavior-daily", "records", 20, at(4), 500, 50.0),
    d(
        "acme-sse1",
        "acme",
        "region-activity",
        "messages",
        300,
        at(4, 23),
        1500,
        0.0,
        channel="push",
        unit_price_micros=0,
        price_basis="subscription",
        contract_id="sub_acme",
    ),  # fmt: skip
    # thin, Oct 3: one $1.50 query that moved 20 GB in 1 s: cost far above 70% of revenue
    d("thin-q1", "thin", "transaction-risk", "query", 1, at(3, 0), 20 * GB, 1000.0),
    # September and November: outside the month, outside its invoices
    d(
        "acme-sep",
        "acme",
        "transaction-risk",
        "query",
        1,
        datetime(2026, 9, 30, 23, 59, tzinfo=UTC),
        0,
        0.0,
    ),
    d(
        "acme-nov",
        "acme",
        "transaction-risk",
        "query",
        1,
        datetime(2026, 11, 1, tzinfo=UTC),
        0,
        0.0,
    ),
]


@pytest.fixture
def ledger(settings):
    upgrade(settings.metadata_db_url)
    engine = engine_for(settings.metadata_db_url)
    write_deliveries(engine, LEDGER)
    with engine.begin() as conn:
        conn.execute(insert(Tenant).values(id="acme", name="Acme", tier="premium"))
        # acme subscribes to region-activity at $25,000 a month from before October on
        conn.execute(
            insert(Subscription).values(
                id="sub_acme", tenant_id="acme", product_id="region-activity", plan="monthly",
                price_micros=25_000 * 10**6, starts_at=datetime(2026, 9, 15, tzinfo=UTC),
            )
        )  # fmt: skip
    return engine


def _materialize(settings, asset, key: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [asset],
        partition_key=key,
        resources={"tollgate": TollgateResource.from_settings(settings)},
    )


def _metadata(result, name: str) -> dict:
    (event,) = result.asset_materializations_for_node(name)
    return {k: v.value for k, v in event.metadata.items()}


def test_rollups_invoices_costs_and_margins(settings, ledger):
    for day in ("2026-10-03", "2026-10-04"):
        _materialize(settings, usage_daily, day)
        _materialize(settings, tenant_costs, day)
    inv = _materialize(settings, invoices, "2026-10")
    margins = _materialize(settings, tenant_margins, "2026-10")

    with ledger.connect() as conn:
        usage = conn.execute(
            select(
                UsageDaily.usage_date, UsageDaily.tenant_id, UsageDaily.product_id,
                UsageDaily.requests, UsageDaily.units, UsageDaily.bytes,
            ).order_by(UsageDaily.usage_date, UsageDaily.tenant_id, UsageDaily.product_id)
        ).all()  # fmt: skip
        totals = dict(conn.execute(select(Invoice.tenant_id, Invoice.total_cents)).all())
        lines = conn.execute(
            select(InvoiceLine.product_id, InvoiceLine.quantity, InvoiceLine.amount_cents)
            .where(InvoiceLine.invoice_id == "acme:2026-10")
            .order_by(InvoiceLine.line_no)
        ).all()
        costs = {
            (c.cost_date.day, c.tenant_id): c.cost_usd
            for c in conn.execute(select(TenantCost)).all()
        }
        flagged = dict(conn.execute(select(TenantMargin.tenant_id, TenantMargin.is_flagged)).all())
    assert [tuple(r)[1:] for r in usage] == [
        ("acme", "transaction-risk", 4, 4, 4000),
        ("thin", "transaction-risk", 1, 1, 20 * GB),
        ("acme", "customer-behavior-daily", 1, 20, 500),
        ("acme", "region-activity", 1, 300, 1500),
    ]
    # acme: 4 x $1.50 + 20 x $0.10 + $25,000 subscription (31 of 31 days) = $25,008.00;
    # the 300 messages its subscription includes show at $0. thin: $1.50
    assert totals == {"acme": 2_500_800, "thin": 150}
    assert [tuple(r) for r in lines] == [
        ("customer-behavior-daily", 20, 200),
        ("region-activity", 31, 2_500_000),
        ("region-activity", 300, 0),
        ("transaction-risk", 4, 600),
    ]
    assert costs == {
        # 0.4 s x 0.00005 + 4000 B x 0.09/GB + 4 x 0.0001
        (3, "acme"): Decimal("0.00002") + Decimal("0.00000036") + Decimal("0.0004"),
        # 1 s x 0.00005 + 20 GB x 0.09 + 1 x 0.0001
        (3, "thin"): Decimal("0.00005") + Decimal("1.8") + Decimal("0.0001"),
        # 0.05 s x 0.00005 + 2000 B x 0.09/GB + 2 x 0.0001
        (4, "acme"): Decimal("0.0000025") + Decimal("0.00000018") + Decimal("0.0002"),
    }
    # thin: $1.80015 of cost against $1.50 of revenue (> 70%); acme: a fraction of a cent.
    assert flagged == {"acme": False, "thin": True}
    assert _metadata(margins, "tenant_margins")["flagged_tenants"] == ["thin"]
    assert _metadata(inv, "invoices")["by_tenant_usd"] == {"acme": 25008.0, "thin": 1.5}


def test_invoices_are_reproducible(settings, ledger):
    first = _metadata(_materialize(settings, invoices, "2026-10"), "invoices")
    with ledger.connect() as conn:
        before = conn.execute(select(InvoiceLine).order_by(InvoiceLine.invoice_id)).all()
    second = _metadata(_materialize(settings, invoices, "2026-10"), "invoices")
    with ledger.connect() as conn:
        after = conn.execute(select(InvoiceLine).order_by(InvoiceLine.invoice_id)).all()
    assert first == second and before == after and len(after) == 5
