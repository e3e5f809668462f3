"""GET /v1/invoices/{month}/lines/{line}/deliveries and `tollgate invoices trace`: each
invoice line traced to the ledger records behind it, with what each one delivered."""

from __future__ import annotations

import time
from datetime import timedelta

from apiworld import auth, behavior_row, risk_row
from sqlalchemy import func, select
from typer.testing import CliRunner

from tollgate.billing import invoice_month
from tollgate.cli import app as cli
from tollgate.clock import utcnow
from tollgate.db.engine import make_engine
from tollgate.db.models import UsageRecord

RISK, BEHAVIOR = "transaction-risk", "customer-behavior-daily"


def _wait_for_ledger(engine, n: int) -> None:
    """Until the API's ledger writer has put `n` records in the database."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(select(func.count()).select_from(UsageRecord)).scalar() >= n:
                return
        time.sleep(0.05)
    raise AssertionError(f"the ledger never held {n} records")


def _rows(numbers) -> list[dict]:
    """Behaviour rows of today: the snapshot is as fresh as its build (2 hours), well within
    the product's 26-hour SLA."""
    today = utcnow().date()
    return [
        {**behavior_row(i), "activity_date": today, "customer_day_id": f"c-{i:04d}@{today}"}
        for i in numbers
    ]


def test_invoice_lines_trace_to_their_deliveries(client, world, api_settings, monkeypatch):
    watermark = utcnow() - timedelta(seconds=30)
    world.live_rows(RISK, [risk_row(i) for i in range(3)])
    world.watermark(RISK, watermark)
    v1 = world.snapshot(BEHAVIOR, _rows(range(10)))
    tenant_id, key = world.tenant("standard")
    other_id, other_key = world.tenant("standard")
    month = f"{utcnow():%Y-%m}"

    # Three lookups at $1.50, the last while the quality gate had marked the product degraded.
    assert client.get(f"/v1/live/{RISK}/tx-00000", headers=auth(key)).status_code == 200
    assert client.get(f"/v1/live/{RISK}/tx-00001", headers=auth(key)).status_code == 200
    world.product_status(RISK, "degraded", "null fraud scores")
    assert client.get(f"/v1/live/{RISK}/tx-00002", headers=auth(key)).status_code == 200
    # Batch pages at $0.10 a record: 4 rows from the first snapshot, then 3 and 2 from the next.
    assert client.get(f"/v1/batch/{BEHAVIOR}?limit=4", headers=auth(key)).status_code == 200
    v2 = world.snapshot(BEHAVIOR, _rows(range(10, 20)))
    for limit in (3, 2):
        r = client.get(f"/v1/batch/{BEHAVIOR}?limit={limit}", headers=auth(key))
        assert r.status_code == 200
    # The other tenant's one lookup gives it an invoice of its own.
    assert client.get(f"/v1/live/{RISK}/tx-00000", headers=auth(other_key)).status_code == 200
    engine = make_engine(api_settings.metadata_db_url)
    _wait_for_ledger(engine, 7)
    invoice_month(engine, world.catalog, month)

    invoice = client.get(f"/v1/invoices/{month}", headers=auth(key)).json()
    lines = [
        (x["line_no"], x["product_id"], x["quantity"], x["amount_cents"]) for x in invoice["lines"]
    ]
    assert lines == [
        (1, BEHAVIOR, 9, 90),  # 4 + 3 + 2 records x $0.10
        (2, RISK, 3, 450),  # 3 queries x $1.50
        # The watermark was 30 s old, past the 5 s SLA: all 3 credited in full, the third
        # as degraded.
        (3, RISK, 1, -450),
    ]
    assert (invoice["charges_cents"], invoice["credits_cents"], invoice["total_cents"]) == (
        540,
        450,
        90,
    )
    credit = invoice["lines"][2]
    assert (credit["price_basis"], credit["kind"]) == ("credit", "sla_deliveries")
    assert (
        credit["evidence"]["stale"]["deliveries"],
        credit["evidence"]["degraded"]["deliveries"],
    ) == (2, 1)

    base = f"/v1/invoices/{month}/lines"
    first = client.get(f"{base}/2/deliveries?limit=2", headers=auth(key))
    assert first.status_code == 200
    page = first.json()
    assert (page["invoice_id"], page["deliveries_total"], page["units_total"]) == (
        f"{tenant_id}:{month}",
        3,
        3,
    )
    assert page["line"]["description"] == "3 queries x $1.50"
    second = {"limit": 2, "cursor": page["next_cursor"]}
    rest = client.get(f"{base}/2/deliveries", params=second, headers=auth(key)).json()
    assert rest["next_cursor"] is None
    risk = page["deliveries"] + rest["deliveries"]
    assert [d["quality_status"] for d in risk] == ["healthy", "healthy", "degraded"]
    assert {
        (d["schema_version"], d["snapshot_version"], d["units"], d["unit_price_usd"]) for d in risk
    } == {("1.3", None, 1, "1.5")}
    assert {d["watermark_at"] for d in risk} == {watermark.isoformat().replace("+00:00", "Z")}
    for d in risk:  # freshness: the delivery's time minus the watermark, measured then
        at = d["occurred_at"]
        lag = (utcnow().fromisoformat(at.replace("Z", "+00:00")) - watermark).total_seconds()
        assert 30 <= d["freshness_seconds"] <= lag + 0.001  # rounded to the millisecond
    assert len({d["delivery_id"] for d in risk}) == 3

    batch = client.get(f"{base}/1/deliveries", headers=auth(key)).json()
    assert [(d["units"], d["snapshot_version"]) for d in batch["deliveries"]] == [
        (4, v1),
        (3, v2),
        (2, v2),
    ]
    assert (batch["deliveries_total"], batch["units_total"]) == (3, 9)
    assert {d["schema_version"] for d in batch["deliveries"]} == {"1.0"}

    # The credit line lists the deliveries it credited.
    credited = client.get(f"{base}/3/deliveries", headers=auth(key)).json()
    assert [d["delivery_id"] for d in credited["deliveries"]] == [d["delivery_id"] for d in risk]
    assert (credited["deliveries_total"], credited["units_total"]) == (3, 3)

    # Own tenant only: the other tenant has lines 1 and 2 of its own (a query and its
    # credit), but no line 3.
    assert client.get(f"{base}/3/deliveries", headers=auth(other_key)).status_code == 404
    theirs = client.get(f"{base}/1/deliveries", headers=auth(other_key)).json()
    assert (theirs["invoice_id"], theirs["deliveries_total"]) == (f"{other_id}:{month}", 1)
    assert client.get(f"{base}/4/deliveries", headers=auth(key)).json()["error"]["code"] == (
        "invoice_line_not_found"
    )
    old = client.get("/v1/invoices/2020-01/lines/1/deliveries", headers=auth(key))
    assert old.status_code == 404
    bad = client.get(f"{base}/2/deliveries?cursor=bm90LWpzb24", headers=auth(key))
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_cursor")

    # The seller's view of the same line.
    monkeypatch.setenv("TOLLGATE_DATA_DIR", str(api_settings.data_dir))
    monkeypatch.setenv("TOLLGATE_CATALOG_PATH", str(api_settings.catalog_path))
    out = CliRunner().invoke(cli, ["invoices", "trace", tenant_id, month, "2"])
    assert out.exit_code == 0, out.output
    assert "3 deliveries, 3 units" in out.output
    assert all(d["delivery_id"] in out.output for d in risk)
    assert out.output.count("degraded") == 1
    missing = CliRunner().invoke(cli, ["invoices", "trace", tenant_id, month, "9"])
    assert missing.exit_code == 1 and "has no line 9" in missing.output
