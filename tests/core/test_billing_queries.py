from datetime import UTC, date, datetime

from tollgate.billing.jobs import invoice_month, rollup_days
from tollgate.billing.queries import tenant_invoices, tenant_usage
from tollgate.catalog import load_catalog
from tollgate.db.engine import engine_for
from tollgate.db.migrate import upgrade
from tollgate.usage import Delivery, write_deliveries


def _q(did: str, tenant: str, day: int, units: int = 1) -> Delivery:
    when = datetime(2026, 11, day, 10, tzinfo=UTC)
    return Delivery(did, tenant, "transaction-risk", "query", units, 10, 1.0, "/v1/x", when)


def test_usage_joins_stored_days_with_todays_live_ledger(settings):
    upgrade(settings.metadata_db_url)
    engine = engine_for(settings.metadata_db_url)
    write_deliveries(engine, [_q("a", "acme", 22), _q("b", "acme", 23), _q("c", "beta", 23)])
    rollup_days(engine, date(2026, 11, 1), date(2026, 11, 24))
    # Today's deliveries are not rolled up yet, but the tenant sees them at once.
    write_deliveries(engine, [_q("d", "acme", 24), _q("e", "acme", 24), _q("f", "beta", 24)])
    # A delivery recorded late for a rolled-up day shows once that day is rolled up again.
    write_deliveries(engine, [_q("late", "acme", 23)])
    usage = tenant_usage(engine, "acme", date(2026, 11, 1), date(2026, 12, 1), date(2026, 11, 24))
    assert usage.select("usage_date", "requests").rows() == [
        (date(2026, 11, 22), 1),
        (date(2026, 11, 23), 1),
        (date(2026, 11, 24), 2),
    ]
    rollup_days(engine, date(2026, 11, 23), date(2026, 11, 24))
    usage = tenant_usage(engine, "acme", date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 24))
    assert usage["requests"].to_list() == [2]


def test_invoices_read_back_only_the_tenants_own(settings):
    upgrade(settings.metadata_db_url)
    engine = engine_for(settings.metadata_db_url)
    write_deliveries(engine, [_q("a", "acme", 2), _q("b", "acme", 3), _q("c", "beta", 3)])
    drafts = invoice_month(engine, load_catalog(settings.catalog_path), "2026-11")
    stored = tenant_invoices(engine, "acme")
    assert [s.draft for s in stored] == [d for d in drafts if d.tenant_id == "acme"]
    assert stored[0].draft.total_cents == 300
    assert tenant_invoices(engine, "acme", "2026-10") == []
    assert [s.draft.tenant_id for s in tenant_invoices(engine, "beta")] == ["beta"]
