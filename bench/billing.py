"""Billing throughput: seconds to turn a month of usage ledger into rollups, invoices,
costs and margins.

Fills a fresh embedded metadata database (SQLite, migrated) with N ledger records spread
over November 2026 (10M; --quick 200k) for 500 tenants and every catalog product, rated
as the API rates them (channel, unit price, basis), plus the contracts behind them (every
tenant subscribes to region-activity from a day of the month, and buys market-trends
once). Then times the month's billing as the batch lane runs it: the daily rollups (one
scan of the ledger), then from them the invoices, the 30 daily cost attributions and the
margins. Prints one JSON line last.

    uv run python bench/billing.py [--quick] [--rows N]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tollgate.billing import CostRates
from tollgate.billing.jobs import (
    attribute_costs,
    invoice_month,
    margin_month,
    read_exports,
    rollup_days,
)
from tollgate.catalog import load_catalog
from tollgate.db.engine import engine_for
from tollgate.db.migrate import upgrade
from tollgate.settings import Settings

MONTH = "2026-11"
MONTH_START = date(2026, 11, 1)
TENANTS = 500

# Generated inside SQLite: Python would spend minutes building 10M rows.
FILL_SQL = """
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :rows)
INSERT INTO usage_ledger (delivery_id, tenant_id, product_id, kind, units, bytes, status,
                          compute_ms, route, occurred_at, recorded_at, channel,
                          unit_price_micros, price_basis, contract_id)
SELECT printf('d%010d', i),
       printf('t%04d', (i * 7919) % :tenants),
       CASE i % 6 WHEN 0 THEN 'transaction-risk' WHEN 1 THEN 'customer-journey-insights'
                  WHEN 2 THEN 'region-activity' WHEN 3 THEN 'customer-behavior-daily'
                  WHEN 4 THEN 'transaction-insights-history' ELSE 'market-trends' END,
       CASE i % 6 WHEN 0 THEN 'query' WHEN 1 THEN 'query' WHEN 2 THEN 'messages'
                  ELSE 'records' END,
       CASE WHEN i % 6 < 2 THEN 1 ELSE 1 + i % 50 END,
       200 + i % 5000, 'delivered', (i % 97) * 0.5, '/v1/bench',
       strftime('%Y-%m-%d %H:%M:%S', :epoch + i * :spacing, 'unixepoch') || '.000000',
       strftime('%Y-%m-%d %H:%M:%S', :epoch + i * :spacing, 'unixepoch') || '.000000',
       CASE i % 6 WHEN 2 THEN 'push' WHEN 4 THEN 'export' ELSE 'query' END,
       CASE i % 6 WHEN 0 THEN 1500000 WHEN 1 THEN 2500000 WHEN 3 THEN 100000
                  WHEN 4 THEN 250000 ELSE 0 END,
       CASE i % 6 WHEN 2 THEN 'subscription' WHEN 5 THEN 'purchase' ELSE 'list' END,
       CASE i % 6 WHEN 2 THEN printf('sub_t%04d', (i * 7919) % :tenants)
                  WHEN 5 THEN printf('pur_t%04d', (i * 7919) % :tenants) END
FROM n
"""
CONTRACTS_SQL = (
    """
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :tenants)
INSERT INTO tenants (id, name, tier, status, tier_since, created_at, updated_at)
SELECT printf('t%04d', i), printf('t%04d', i), 'premium', 'active', :start, :start, :start
FROM n
""",
    """
INSERT INTO subscriptions (id, tenant_id, product_id, plan, price_micros, currency,
                           starts_at, ends_at, created_at, created_by)
SELECT 'sub_' || id, id, 'region-activity', 'monthly', 25000000000, 'USD',
       strftime('%Y-%m-%d %H:%M:%S', :epoch + (CAST(substr(id, 2) AS INTEGER) % 28) * 86400,
                'unixepoch') || '.000000',
       NULL, :start, 'bench'
FROM tenants
""",
    """
INSERT INTO purchases (id, tenant_id, product_id, price_micros, currency, purchased_at,
                       updates_until, created_by)
SELECT 'pur_' || id, id, 'market-trends', 50000000000, 'USD', :start, :end, 'bench'
FROM tenants
""",
)


def fill_ledger(db_path: Path, rows: int) -> None:
    epoch = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())
    spacing = 30 * 86400 / rows  # seconds between records, so the month is covered evenly
    con = sqlite3.connect(db_path)
    bounds = {"start": "2026-11-01 00:00:00.000000", "end": "2026-12-01 00:00:00.000000"}
    try:
        con.execute("PRAGMA synchronous=OFF")
        with con:
            con.execute(
                FILL_SQL, {"rows": rows, "tenants": TENANTS, "epoch": epoch, "spacing": spacing}
            )
            for sql in CONTRACTS_SQL:
                con.execute(sql, {"tenants": TENANTS, "epoch": epoch, **bounds})
        con.execute("ANALYZE")
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="200k records, a smoke test")
    parser.add_argument("--rows", type=int, default=None)
    args = parser.parse_args()
    rows = args.rows or (200_000 if args.quick else 10_000_000)
    with tempfile.TemporaryDirectory(prefix="tollgate-bench-billing-") as tmp:
        settings = Settings(data_dir=Path(tmp), _env_file=None)
        upgrade(settings.metadata_db_url)
        started = time.perf_counter()
        fill_ledger(Path(tmp) / "metadata.db", rows)
        fill_s = time.perf_counter() - started
        engine = engine_for(settings.metadata_db_url)
        catalog = load_catalog(settings.catalog_path)
        rates = CostRates.from_settings(settings)

        steps: dict[str, float] = {}
        t0 = time.perf_counter()
        usage = rollup_days(engine, MONTH_START, date(2026, 12, 1))
        steps["rollup_s"] = time.perf_counter() - t0
        t = time.perf_counter()
        invoices = invoice_month(engine, catalog, MONTH, daily_usage=usage)
        steps["invoices_s"] = time.perf_counter() - t
        t = time.perf_counter()
        exports = read_exports(engine)
        for n in range(30):
            attribute_costs(engine, rates, MONTH_START + timedelta(days=n), usage, exports)
        steps["costs_s"] = time.perf_counter() - t
        t = time.perf_counter()
        flagged = sum(m.is_flagged for m in margin_month(engine, rates, MONTH))
        steps["margins_s"] = time.perf_counter() - t
        seconds = time.perf_counter() - t0
        engine.dispose()

    total_cents = sum(inv.total_cents for inv in invoices)
    print(
        f"filled {rows:,} ledger rows in {fill_s:.1f} s; billed in {seconds:.2f} s "
        f"({usage.height:,} daily rows, {len(invoices)} invoices, ${total_cents / 100:,.2f}, "
        f"{flagged} tenants flagged)",
        file=sys.stderr,
    )
    print(
        json.dumps(
            {
                "bench": "billing",
                "ledger_rows": rows,
                "seconds": round(seconds, 3),
                **{k: round(v, 3) for k, v in steps.items()},
                "invoices": len(invoices),
                "daily_rows": usage.height,
            }
        )
    )


if __name__ == "__main__":
    main()
