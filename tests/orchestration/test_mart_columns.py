"""A catalog column the mart lacks stops the product's build with a message naming both."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from orchestration.defs.quality import build_quality_gate
from orchestration.defs.resources import TollgateResource
from orchestration.lib.status import read_status
from orchestration.lib.warehouse import MartMismatch, mart_relation, warehouse_reader
from tollgate.catalog import get_catalog
from tollgate.db.migrate import upgrade

PRODUCT = get_catalog().product("market-trends")


@pytest.fixture
def warehouse_without_growth(settings):
    """The mart as a model that forgot the catalog's `revenue_growth_7d` would build it."""
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    kept = [c for c in PRODUCT.column_names if c != "revenue_growth_7d"]
    with duckdb.connect(str(settings.warehouse_path)) as conn:
        conn.execute(
            f"create table {PRODUCT.source} as select "  # noqa: S608 - catalog identifiers
            + ", ".join(f"null::varchar as {c}" for c in kept)
        )
    upgrade(settings.metadata_db_url)
    return settings


def test_reading_the_mart_names_the_product_and_the_missing_column(warehouse_without_growth):
    path = warehouse_without_growth.warehouse_path
    with warehouse_reader(path) as conn, pytest.raises(MartMismatch) as raised:
        mart_relation(conn, PRODUCT, ["trend_id"])
    assert "market-trends" in str(raised.value)
    assert "'revenue_growth_7d'" in str(raised.value)
    assert PRODUCT.source in str(raised.value)


def test_the_gate_refuses_the_version_and_says_which_column(warehouse_without_growth):
    gate = build_quality_gate(PRODUCT)
    resource = TollgateResource.from_settings(warehouse_without_growth)
    result = gate(dg.build_op_context(resources={"tollgate": resource}))
    assert result.passed is False
    assert "'revenue_growth_7d'" in result.description and "market-trends" in result.description
    status = read_status(warehouse_without_growth.metadata_db_url, PRODUCT.id)
    assert status.status == "degraded" and "revenue_growth_7d" in status.reason
