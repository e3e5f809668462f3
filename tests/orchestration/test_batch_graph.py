"""The whole batch graph on generated data: marts match an independent computation,
snapshots are published with their manifest, and a bad batch is refused by the gate."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import expected
import polars as pl
import pytest
from landed import card_transaction, land_rows

from orchestration.lib.status import read_status
from tollgate import audit
from tollgate.catalog import load_catalog
from tollgate.db.engine import make_engine
from tollgate.events.generator import GeneratorConfig, SyntheticSource
from tollgate.events.writers import backfill_landing
from tollgate.lake import Lake

START = datetime(2026, 11, 16, tzinfo=UTC)
DAYS = [date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18)]
CONFIG = GeneratorConfig(seed=11, customers=40, events_per_second=0.02, fraud_rate=0.05)
PRODUCTS = ("customer-behavior-daily", "transaction-insights-history", "market-trends")


def _snapshot(lake: Lake, product_id: str) -> tuple[pl.DataFrame, dict]:
    directory = lake.current_snapshot(product_id)
    manifest = json.loads((directory / "manifest.json").read_text())
    return pl.read_parquet(directory / "data.parquet"), manifest


def _assert_rows_match(frame: pl.DataFrame, key: str, want: dict[str, dict]) -> None:
    got = {row[key]: row for row in frame.to_dicts()}
    assert set(got) == set(want)
    for k, expected_row in want.items():
        for column, value in expected_row.items():
            actual = got[k][column]
            if isinstance(value, float) and actual is not None:
                assert math.isclose(actual, value, rel_tol=1e-9, abs_tol=1e-12), (k, column)
            else:
                assert actual == value, (k, column, actual, value)


@pytest.fixture
def landed(settings):
    source = SyntheticSource(CONFIG)
    end = START + timedelta(days=len(DAYS))
    backfill_landing(Lake.from_settings(settings), source, START, end)
    return list(source.events(START, end=end))


def test_graph_publishes_marts_equal_to_independent_computation(settings, landed, run_partition):
    for day in DAYS:
        assert run_partition(day).success

    lake = Lake.from_settings(settings)
    catalog = load_catalog(settings.catalog_path)
    behavior, manifest = _snapshot(lake, "customer-behavior-daily")
    _assert_rows_match(behavior, "customer_day_id", expected.customer_behavior_daily(landed))
    transactions, _ = _snapshot(lake, "transaction-insights-history")
    _assert_rows_match(transactions, "transaction_id", expected.transaction_insights(landed))
    trends, _ = _snapshot(lake, "market-trends")
    _assert_rows_match(trends, "trend_id", expected.market_trends(landed))
    assert transactions["is_confirmed_fraud"].sum() > 0, "the data set should hold some fraud"

    for product_id in PRODUCTS:
        product = catalog.product(product_id)
        frame, manifest = _snapshot(lake, product_id)
        # One publish per daily run, each a new immutable version.
        assert lake.snapshot_versions(product_id) == ["v000001", "v000002", "v000003"]
        assert lake.current_version(product_id) == "v000003"
        assert frame.columns == product.column_names
        data = (lake.current_snapshot(product_id) / "data.parquet").read_bytes()
        assert manifest["checksum"] == "sha256:" + hashlib.sha256(data).hexdigest()
        assert manifest["row_count"] == frame.height > 0
        assert manifest["source_partitions"] == [d.isoformat() for d in DAYS]
        assert manifest["schema_version"] == product.schema_version.version
        assert manifest["quality"]["passed"] is True
        checks = manifest["quality"]["checks"]
        assert f"unique:{product.key_column}" in checks
        assert all(c == {"passed": True, "failing_count": 0} for c in checks.values())
        assert manifest["columns"][0] == {"name": product.key_column, "type": "string"}
        # The newest day's rows hold data up to its end: the data's time, not the publish's.
        assert manifest["watermark_at"] == "2026-11-19T00:00:00Z"
        status = read_status(settings.metadata_db_url, product_id)
        assert (status.status, status.current_version) == ("healthy", "v000003")
        # Every publish is in the audit log, newest first.
        published = audit.entries(
            make_engine(settings.metadata_db_url), action="snapshot.publish", target=None
        )
        mine = [e for e in published if e.details["product_id"] == product_id]
        assert [e.target for e in mine] == [f"{product_id}@v00000{n}" for n in (3, 2, 1)]
        assert mine[0].details["row_count"] == manifest["row_count"]
        assert mine[0].details["checksum"] == manifest["checksum"]


def _bad_transactions(day: date) -> list[dict]:
    return [
        # The same transaction landed under two event ids: a duplicate key in the mart.
        card_transaction(day, event_id="bad-1", transaction_id="tx-dup", customer_id="c-1",
                         amount_cents=100),
        card_transaction(day, event_id="bad-2", transaction_id="tx-dup", customer_id="c-1",
                         amount_cents=100),
        card_transaction(day, event_id="bad-3", transaction_id="tx-null", customer_id=None,
                         amount_cents=100),
        card_transaction(day, event_id="bad-4", transaction_id="tx-neg", customer_id="c-2",
                         amount_cents=-5),
    ]  # fmt: skip


def _dbt_key_check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    [check] = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key.path == ["warehouse", "fct_transaction_insights"]
        and e.check_name == "primary_key_fct_transaction_insights_transaction_id"
    ]
    return check


def test_bad_batch_is_refused_and_previous_version_stays_current(settings, landed, run_partition):
    lake = Lake.from_settings(settings)
    first = run_partition(DAYS[0])
    assert first.success
    assert lake.current_version("transaction-insights-history") == "v000001"
    assert _dbt_key_check(first).passed

    land_rows(lake, "card_transactions", _bad_transactions(DAYS[1]), writer="bad")
    result = run_partition(DAYS[1], raise_on_error=False)

    # dbt's key test on the sold mart sees the duplicate and the null too, and warns.
    key_check = _dbt_key_check(result)
    assert not key_check.passed
    assert key_check.severity == dg.AssetCheckSeverity.WARN

    gate = next(
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key.path == ["warehouse", "fct_transaction_insights"]
        and e.check_name == "quality_gate"
    )
    assert not gate.passed
    failing = {k: v.value for k, v in gate.metadata.items() if k.startswith("failing:")}
    assert failing["failing:unique:transaction_id"] == 2
    assert failing["failing:not_null:customer_id"] == 1
    assert failing["failing:range:amount_cents"] == 1
    assert failing["failing:not_null:transaction_id"] == 0
    samples = gate.metadata["failing_samples"].value
    assert samples["unique:transaction_id"] == ["tx-dup", "tx-dup"]
    assert samples["range:amount_cents"] == ["tx-neg"]

    # Not published: the previous version is still what readers see.
    assert lake.snapshot_versions("transaction-insights-history") == ["v000001"]
    assert lake.current_version("transaction-insights-history") == "v000001"
    status = read_status(settings.metadata_db_url, "transaction-insights-history")
    assert status.status == "degraded"
    assert status.current_version == "v000001"
    assert status.failed_version == "v000002"
    assert "unique:transaction_id failed on 2 rows" in status.reason
    assert "not_null:customer_id failed on 1 rows" in status.reason
    # The change of status is audited, with what it changed from.
    [change] = audit.entries(
        make_engine(settings.metadata_db_url),
        action="product.status",
        target="transaction-insights-history",
    )
    assert (change.details["from"], change.details["to"]) == ("healthy", "degraded")
    assert change.details["failed_version"] == "v000002"

    # Publishing on its own, without the gate in the run, still refuses the failed mart.
    alone = run_partition(
        DAYS[1],
        raise_on_error=False,
        selection=dg.AssetSelection.assets(["snapshots", "transaction-insights-history"]),
    )
    assert not alone.success
    assert lake.current_version("transaction-insights-history") == "v000001"

    # The other products' gates passed, so they moved on.
    assert lake.current_version("customer-behavior-daily") == "v000002"
    assert read_status(settings.metadata_db_url, "customer-behavior-daily").status == "healthy"
