"""GET /v1/invoices: the caller's own invoices, computed from the ledger by billing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apiworld import auth

from tollgate.billing import invoice_month
from tollgate.catalog import load_catalog
from tollgate.db.engine import make_engine
from tollgate.usage import Delivery, write_deliveries

OCT = datetime(2026, 10, 5, 12, tzinfo=UTC)


def _d(n: int, tenant: str, product: str, kind: str, units: int, at: datetime = OCT):
    return Delivery(f"{tenant}:inv:{n}", tenant, product, kind, units, 0, 0.0, "", at)


def test_invoices_list_and_month(client, world, api_settings):
    tenant_id, key = world.tenant("standard")
    other_id, other_key = world.tenant("standard")
    engine = make_engine(api_settings.metadata_db_url)
    write_deliveries(
        engine,
        [_d(i, tenant_id, "transaction-risk", "query", 1) for i in range(3)]  # 3 x $1.50
        + [_d(10, tenant_id, "customer-behavior-daily", "records", 7)]  # 7 x $0.10
        + [_d(11, tenant_id, "transaction-risk", "query", 1, OCT + timedelta(days=40))],
    )
    invoice_month(engine, load_catalog(api_settings.catalog_path), "2026-10")
    r = client.get("/v1/invoices", headers=auth(key))
    assert r.status_code == 200
    (inv,) = r.json()["invoices"]
    assert (inv["id"], inv["month"], inv["total_cents"]) == (f"{tenant_id}:2026-10", "2026-10", 520)
    assert [(x["product_id"], x["quantity"], x["amount_cents"]) for x in inv["lines"]] == [
        ("customer-behavior-daily", 7, 70),
        ("transaction-risk", 3, 450),
    ]
    one = client.get("/v1/invoices/2026-10", headers=auth(key))
    assert one.status_code == 200 and one.json() == inv
    assert client.get("/v1/invoices/2026-11", headers=auth(key)).status_code == 404
    assert client.get("/v1/invoices/2026-13", headers=auth(key)).status_code == 422
    # Another tenant sees none of it.
    assert client.get("/v1/invoices", headers=auth(other_key)).json() == {
        "tenant_id": other_id,
        "invoices": [],
    }
    assert client.get("/v1/invoices/2026-10", headers=auth(other_key)).status_code == 404
