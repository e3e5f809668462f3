"""dbt in the step's process: failures carry dbt's errors, an interrupt stops the build, and
either way the warehouse file is let go for the gates to read."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest

from orchestration.defs.dbt import window_env
from orchestration.defs.resources import WarehouseDbt, vars_args
from orchestration.lib.dbt_runner import DbtInvocationError
from tollgate.events.generator import GeneratorConfig, SyntheticSource
from tollgate.events.writers import backfill_landing
from tollgate.lake import Lake
from tollgate.settings import Settings

DAY = date(2026, 11, 20)
BUILD = ["build", "--exclude-resource-type", "unit_test"]
WINDOW = window_env(DAY, DAY + timedelta(days=1))


@pytest.fixture
def landed_day(settings: Settings) -> Settings:
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    source = SyntheticSource(GeneratorConfig(seed=3, customers=20, events_per_second=0.05))
    backfill_landing(Lake.from_settings(settings), source, start, start + timedelta(days=1))
    return settings


def tables(settings: Settings) -> set[str]:
    """The warehouse's tables, read the way the gates read it (fails while dbt holds the file)."""
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        return {
            row[0]
            for row in conn.sql("select table_name from information_schema.tables").fetchall()
        }


def test_a_failed_build_raises_dbt_errors_and_lets_go_of_the_warehouse(landed_day):
    runner = WarehouseDbt().runner(landed_day)
    runner.invoke(BUILD, vars_args(landed_day), env=WINDOW)

    with pytest.raises(DbtInvocationError, match="TOLLGATE_WINDOW_START must be an ISO date"):
        runner.invoke(
            BUILD,
            vars_args(landed_day),
            env={"TOLLGATE_WINDOW_START": "yesterday", "TOLLGATE_WINDOW_END": "2026-11-21"},
        )
    assert "fct_transaction_insights" in tables(landed_day)


def test_closing_the_stream_stops_dbt_and_lets_go_of_the_warehouse(landed_day):
    runner = WarehouseDbt().runner(landed_day)
    finished: list[str] = []

    def node_name(raw_event: dict):
        yield raw_event["data"]["node_info"]["node_name"]

    stream = runner.stream(
        BUILD,
        vars_args(landed_day),
        WINDOW,
        node_name,
    )
    finished.append(next(stream))
    # What a step does when Dagster interrupts it, or when its consumer fails.
    stream.close()

    assert finished[0].startswith("stg_landing__")
    # The marts come several nodes later: once cancelled, dbt starts no more nodes.
    built = tables(landed_day)
    assert not {"fct_customer_behavior_daily", "fct_market_trends"} & built, built

    # dbt is free for the next invocation, which builds everything.
    result = runner.invoke(BUILD, vars_args(landed_day), env=WINDOW)
    assert result.success
    assert {"fct_customer_behavior_daily", "fct_market_trends"} <= tables(landed_day)
