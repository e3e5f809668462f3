"""The dbt project's unit tests (model logic on fixed rows), which production builds skip."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from orchestration.defs.resources import dbt_target, vars_args, warehouse_dbt, window_args
from tollgate.events.generator import GeneratorConfig, SyntheticSource
from tollgate.events.writers import backfill_landing
from tollgate.lake import Lake

DAY = date(2026, 11, 20)


def test_dbt_unit_tests_pass(settings):
    # Unit tests need their models' parents in the warehouse: build a small landed day too.
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    source = SyntheticSource(GeneratorConfig(seed=5, customers=10, events_per_second=0.01))
    backfill_landing(Lake.from_settings(settings), source, start, start + timedelta(days=1))
    args = ["build", *vars_args(settings), *window_args(DAY, DAY + timedelta(days=1))]
    invocation = warehouse_dbt().cli(args, target_path=dbt_target(settings)).wait()
    results = invocation.get_artifact("run_results.json")["results"]
    unit = {r["unique_id"]: r["status"] for r in results if r["unique_id"].startswith("unit_test.")}
    assert len(unit) == 5
    assert set(unit.values()) == {"pass"}, unit
