"""Invoices that follow contracts, against amounts worked out by hand in the comments.

Deliveries are rated the way the API rates them (`decide_terms` for the contract, then
`rate` at the delivery's time) and written to the ledger; invoices are then computed from
the ledger and the contract records alone.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from tollgate.billing.jobs import invoice_month
from tollgate.catalog import Catalog, load_catalog, parse_catalog
from tollgate.contracts import (
    cancel_subscription,
    create_purchase,
    create_subscription,
    decide_terms,
    tenant_contracts,
)
from tollgate.db.engine import engine_for
from tollgate.db.migrate import upgrade
from tollgate.db.models import Tenant
from tollgate.errors import NotEntitled
from tollgate.rating import rate
from tollgate.usage import Delivery, write_deliveries

NOV_1 = datetime(2026, 11, 1, tzinfo=UTC)


def at(day: int, hour: int = 12, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture
def catalog(settings) -> Catalog:
    return load_catalog(settings.catalog_path)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, settings):
    """The embedded metadata database, then PostgreSQL."""
    url = settings.metadata_db_url
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    upgrade(url)
    return engine_for(url)


def tenant(engine, tenant_id: str, tier: str, since: datetime = NOV_1) -> str:
    with Session(engine) as session:
        session.add(Tenant(id=tenant_id, name=tenant_id, tier=tier, tier_since=since))
        session.commit()
    return tenant_id


def deliver(engine, catalog, tenant_id, product_id, channel, rows, when, n=1) -> None:
    """`n` deliveries of `rows` rows each at `when`, gated and rated as the API does."""
    with Session(engine) as session:
        row = session.get(Tenant, tenant_id)
        subs, buys = tenant_contracts(session, tenant_id)
    product = catalog.product(product_id)
    terms = decide_terms(catalog, row.tier, row.tier_since, product, channel, when, subs, buys)
    rating = rate(product, channel, terms, rows, when)
    write_deliveries(
        engine,
        [
            Delivery(
                f"{tenant_id}:{uuid.uuid4().hex}",
                tenant_id,
                product_id,
                occurred_at=when,
                **rating.fields(),
            )
            for i in range(n)
        ],
    )


def lines(invoice) -> list[tuple]:
    return [
        (li.product_id, li.channel, li.price_basis, li.quantity, li.amount_cents)
        for li in invoice.lines
    ]


def only(invoices, tenant_id):
    (invoice,) = [i for i in invoices if i.tenant_id == tenant_id]
    return invoice


def test_subscription_from_the_10th_cancelled_on_the_20th(engine, catalog):
    t = tenant(engine, "initech", "premium")
    with Session(engine) as s:
        sub = create_subscription(
            s, t, "region-activity", starts_at=at(10, 0), catalog=catalog, now=at(9)
        )
        sub_id = sub.id
    # Served before the start? No: the gate refuses without an active subscription.
    with pytest.raises(NotEntitled) as refused:
        deliver(engine, catalog, t, "region-activity", "push", 10, at(9, 18))
    assert refused.value.code == "subscription_required"
    deliver(engine, catalog, t, "region-activity", "push", 500, at(12), n=4)
    deliver(engine, catalog, t, "region-activity", "query", 60, at(15))
    with Session(engine) as s:
        cancel_subscription(s, sub_id, now=at(20, 15))
    with pytest.raises(NotEntitled):
        deliver(engine, catalog, t, "region-activity", "push", 10, at(20, 16))

    invoice = only(invoice_month(engine, catalog, "2026-11"), t)
    # Active on Nov 10..20 (the 20th until 15:00 counts): 11 of 30 days.
    # $25,000 x 11 / 30 = $9,166.666... -> $9,166.67
    assert lines(invoice) == [
        ("region-activity", None, "subscription", 11, 916_667),
        ("region-activity", "push", "subscription", 2000, 0),
        ("region-activity", "query", "subscription", 60, 0),
    ]
    fee = invoice.lines[0]
    assert fee.contract_id == sub_id and "11 of 30 days" in fee.description
    assert "Nov 10-Nov 20" in fee.description
    assert invoice.total_cents == 916_667
    assert invoice_month(engine, catalog, "2026-12") == []  # ended: nothing in December


def test_a_subscription_is_charged_whether_used_or_not(engine, catalog):
    t = tenant(engine, "idle", "premium")
    with Session(engine) as s:
        create_subscription(s, t, "region-activity", starts_at=NOV_1, catalog=catalog, now=NOV_1)
    # No delivery at all: November's 30 days and December's 31 are charged in full.
    assert only(invoice_month(engine, catalog, "2026-11"), t).total_cents == 2_500_000
    assert only(invoice_month(engine, catalog, "2026-12"), t).total_cents == 2_500_000


def _with_price_change(catalog_path, effective: str, usd: float) -> Catalog:
    doc = yaml.safe_load(Path(catalog_path).read_text())
    risk = next(p for p in doc["products"] if p["id"] == "transaction-risk")
    change = {**copy.deepcopy(risk["price"]), "usd": usd, "effective_from": effective}
    risk["price_changes"] = [change]
    return parse_catalog(doc)


def test_a_month_with_a_mid_month_price_change(engine, settings):
    catalog = _with_price_change(settings.catalog_path, "2026-11-15", 2.00)
    t = tenant(engine, "globex", "standard")
    deliver(engine, catalog, t, "transaction-risk", "query", 1, at(10), n=3)
    deliver(engine, catalog, t, "transaction-risk", "query", 1, at(14, 23), n=1)
    deliver(engine, catalog, t, "transaction-risk", "query", 1, at(15, 0), n=2)
    invoice = only(invoice_month(engine, catalog, "2026-11"), t)
    # 4 queries before Nov 15 at $1.50 = $6.00; 2 from Nov 15 at $2.00 = $4.00
    assert sorted(lines(invoice)) == [
        ("transaction-risk", "query", "list", 2, 400),
        ("transaction-risk", "query", "list", 4, 600),
    ]
    assert invoice.total_cents == 1000
    # The seller edits the price afterwards: recomputing November changes nothing.
    repriced = _with_price_change(settings.catalog_path, "2026-11-01", 4.99)
    assert invoice_month(engine, repriced, "2026-11") == invoice_month(engine, catalog, "2026-11")
    assert only(invoice_month(engine, repriced, "2026-11"), t).total_cents == 1000


def test_a_trial_costs_nothing_and_ends(engine, catalog):
    t = tenant(engine, "acme", "trial", since=at(3, 9))
    deliver(engine, catalog, t, "transaction-risk", "query", 1, at(5), n=7)
    deliver(engine, catalog, t, "transaction-risk", "push", 1, at(6), n=2)
    deliver(engine, catalog, t, "customer-behavior-daily", "query", 25, at(7))
    invoice = only(invoice_month(engine, catalog, "2026-11"), t)
    # At list price this would be 7 x $1.50 + 2 x $0.0005 + 25 x $0.10 = $13.00: rated $0.
    assert lines(invoice) == [
        ("customer-behavior-daily", "query", "trial", 25, 0),
        ("transaction-risk", "push", "trial", 2, 0),
        ("transaction-risk", "query", "trial", 7, 0),
    ]
    assert invoice.total_cents == 0
    assert "on trial, not charged" in invoice.lines[2].description
    # 14 days from Nov 3 09:00: served until Nov 17 08:59, refused from 09:00 on.
    deliver(engine, catalog, t, "transaction-risk", "query", 1, at(17, 8))
    with pytest.raises(NotEntitled) as expired:
        deliver(engine, catalog, t, "transaction-risk", "query", 1, at(17, 9))
    assert expired.value.code == "trial_expired"
    assert expired.value.details["upgrade_to"] == ["standard", "premium"]
    assert "upgrade to standard or premium" in str(expired.value)


def test_push_messages_at_the_push_price(engine, catalog):
    t = tenant(engine, "pusher", "standard")
    deliver(engine, catalog, t, "transaction-risk", "push", 1200, at(8), n=3)
    deliver(engine, catalog, t, "transaction-risk", "query", 1, at(8), n=2)
    invoice = only(invoice_month(engine, catalog, "2026-11"), t)
    # 3,600 messages x $0.0005 = $1.80, not 3,600 queries x $1.50 = $5,400
    assert lines(invoice) == [
        ("transaction-risk", "push", "list", 3600, 180),
        ("transaction-risk", "query", "list", 2, 300),
    ]
    assert invoice.lines[0].description == "3,600 messages pushed x $0.0005"


def test_a_one_time_purchase_is_charged_once_however_often_it_is_queried(engine, catalog):
    t = tenant(engine, "buyer", "premium")
    with pytest.raises(NotEntitled) as refused:
        deliver(engine, catalog, t, "market-trends", "query", 100, at(9))
    assert refused.value.code == "purchase_required"
    with Session(engine) as s:
        purchase, new = create_purchase(s, t, "market-trends", catalog=catalog, now=at(10))
        assert new and purchase.updates_until == at(10) + timedelta(days=30)
    deliver(engine, catalog, t, "market-trends", "query", 100, at(11), n=40)
    deliver(engine, catalog, t, "market-trends", "export", 5000, at(12))
    deliver(engine, catalog, t, "market-trends", "query", 100, at(3, month=12), n=10)
    november = only(invoice_month(engine, catalog, "2026-11"), t)
    assert lines(november) == [
        ("market-trends", None, "purchase", 1, 5_000_000),
        ("market-trends", "export", "purchase", 5000, 0),
        ("market-trends", "query", "purchase", 4000, 0),
    ]
    assert november.total_cents == 5_000_000
    december = only(invoice_month(engine, catalog, "2026-12"), t)
    assert lines(december) == [("market-trends", "query", "purchase", 1000, 0)]


def test_an_empty_page_is_not_billed_unless_the_catalog_says_so(engine, settings, catalog):
    t = tenant(engine, "empty", "standard")
    deliver(engine, catalog, t, "transaction-risk", "query", 0, at(5), n=3)
    deliver(engine, catalog, t, "customer-behavior-daily", "query", 0, at(5))
    deliver(engine, catalog, t, "transaction-risk", "query", 4, at(5))
    invoice = only(invoice_month(engine, catalog, "2026-11"), t)
    assert lines(invoice) == [
        ("customer-behavior-daily", "query", "empty", 1, 0),
        ("transaction-risk", "query", "empty", 3, 0),
        ("transaction-risk", "query", "list", 1, 150),
    ]
    assert invoice.lines[1].description == "3 empty answers, not charged"
    doc = yaml.safe_load(Path(settings.catalog_path).read_text())
    next(p for p in doc["products"] if p["id"] == "transaction-risk")["price"]["bill_empty"] = True
    billing_empty = parse_catalog(doc)
    u = tenant(engine, "empty-billed", "standard")
    deliver(engine, billing_empty, u, "transaction-risk", "query", 0, at(6), n=2)
    assert lines(only(invoice_month(engine, billing_empty, "2026-11"), u)) == [
        ("transaction-risk", "query", "list", 2, 300)
    ]


def test_ledger_records_carry_the_price_applied(engine, catalog):
    from tollgate.db.models import UsageRecord

    t = tenant(engine, "trail", "standard")
    deliver(engine, catalog, t, "transaction-risk", "push", 10, at(5))
    with engine.connect() as conn:
        row = conn.execute(select(UsageRecord).where(UsageRecord.tenant_id == t)).one()
    assert (row.channel, row.kind, row.units) == ("push", "messages", 10)
    assert (row.unit_price_micros, row.price_basis, row.contract_id) == (500, "list", None)
