"""`tollgate pricing backtest`: a past month replayed against a proposed catalog, revenue
and refusals per tenant, as a table, CSV or JSON. Figures computed by hand below."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import insert
from typer.testing import CliRunner

from tollgate.cli import app
from tollgate.db.engine import make_engine
from tollgate.db.migrate import upgrade
from tollgate.db.models import Tenant
from tollgate.db.ops_models import RequestLogEntry
from tollgate.settings import Settings
from tollgate.usage import Delivery, write_deliveries

ROOT = Path(__file__).resolve().parents[2]
RISK, BEHAVIOR = "transaction-risk", "customer-behavior-daily"
OCT3 = datetime(2026, 10, 3, tzinfo=UTC)


def _d(n, tenant, product, channel, kind, units, micros, basis="list"):
    return Delivery(f"{tenant}:{n}", tenant, product, kind, units, occurred_at=OCT3,
                    channel=channel, unit_price_micros=micros, price_basis=basis)  # fmt: skip


@pytest.fixture
def run(cli_env):
    url = Settings().metadata_db_url
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(Tenant), [
            {"id": "acme", "name": "acme", "tier": "standard"},
            {"id": "hooli", "name": "hooli", "tier": "trial"},
            {"id": "initech", "name": "initech", "tier": "premium"},
        ])  # fmt: skip
    write_deliveries(
        engine,
        [
            # acme: 10 queries at $1.50 and 100 records at $0.10 = $25.00.
            *(_d(i, "acme", RISK, "query", "query", 1, 1_500_000) for i in range(10)),
            _d(10, "acme", BEHAVIOR, "query", "records", 60, 100_000),
            _d(11, "acme", BEHAVIOR, "query", "records", 40, 100_000),
            # hooli: 3 queries on trial, $0 under any price.
            *(_d(i, "hooli", RISK, "query", "query", 1, 0, "trial") for i in range(3)),
            # initech: 1,000 pushed messages at $0.0005 = $0.50, a price the proposal keeps.
            _d(0, "initech", RISK, "push", "messages", 1000, 500),
        ],
    )
    log = []
    for tenant, day, hour, n in [
        ("acme", 3, 9, 8), ("acme", 3, 10, 4), ("acme", 4, 12, 7), ("hooli", 3, 9, 12),
    ]:  # fmt: skip
        at = datetime(2026, 10, day, hour, tzinfo=UTC)
        log += [
            {
                "occurred_at": at + timedelta(seconds=i),
                "tenant_id": tenant,
                "product_id": RISK,
                "route": "/v1",
                "status": 200,
                "latency_ms": 1.0,
            }  # fmt: skip
            for i in range(n)
        ]
    with engine.begin() as conn:
        conn.execute(insert(RequestLogEntry), log)

    def invoke(*args: str):
        return CliRunner().invoke(app, ["pricing", "backtest", *args])

    return invoke


def _proposal(tmp_path: Path, change) -> Path:
    raw = yaml.safe_load((ROOT / "catalog.yaml").read_text())
    products = {p["id"]: p for p in raw["products"]}
    change(raw, products)
    path = tmp_path / "proposed.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _price_rise(raw, products) -> None:
    products[RISK]["price"]["usd"] = 2.00  # was $1.50 a query
    products[BEHAVIOR]["price"]["usd"] = 0.12  # was $0.10 a record
    raw["tiers"]["standard"]["rate_limit_per_hour"] = 5  # was 100


def test_a_price_rise_and_a_lower_limit_against_hand_computed_figures(run, tmp_path):
    proposed = _proposal(tmp_path, _price_rise)
    out = run("--catalog", str(proposed), "--month", "2026-10", "--format", "json")
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    by_tenant = {
        r["tenant_id"]: (r["current_cents"], r["proposed_cents"], r["difference_cents"],
                         r["requests"], r["refused_current"], r["refused_proposed"])
        for r in report["tenants"]
    }  # fmt: skip
    assert by_tenant == {
        # 10 x $2.00 + 100 x $0.12 = $32.00; hours of 8, 4 and 7 requests under 5 an hour
        # refuse 3 + 0 + 2.
        "acme": (2500, 3200, 700, 19, 0, 5),
        # 12 requests in an hour under the trial's 10: 2 refused, now and proposed.
        "hooli": (0, 0, 0, 12, 2, 2),
        "initech": (50, 50, 0, 0, 0, 0),
    }
    assert report["totals"]["difference_cents"] == 700
    assert report["totals"]["refused_proposed"] == 7

    table = run("--catalog", str(proposed), "--month", "2026-10")
    assert table.exit_code == 0
    assert "+$7.00" in table.output and "$32.00" in table.output
    rows = list(csv.DictReader(io.StringIO(run(
        "--catalog", str(proposed), "--month", "2026-10", "--format", "csv"
    ).output)))  # fmt: skip
    assert [(r["tenant_id"], r["proposed_cents"]) for r in rows] == [
        ("acme", "3200"),
        ("hooli", "0"),
        ("initech", "50"),
    ]


def test_a_catalog_that_does_not_load_or_cannot_be_replayed_is_refused(run, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("api_version: 2\nproducts: [")
    out = run("--catalog", str(broken), "--month", "2026-10")
    assert out.exit_code == 1 and "is not valid YAML" in out.output

    def bad_model(raw, products):
        products[RISK]["price"]["model"] = "per_minute"

    out = run("--catalog", str(_proposal(tmp_path, bad_model)), "--month", "2026-10")
    assert out.exit_code == 1
    assert "products[transaction-risk].price.model" in out.output

    def per_record(raw, products):
        products[RISK]["price"] = {"model": "per_record", "usd": 0.01}

    out = run("--catalog", str(_proposal(tmp_path, per_record)), "--month", "2026-10")
    assert out.exit_code == 1 and "not replayable" in out.output
    assert run("--catalog", str(broken), "--month", "2026-13").exit_code == 1
