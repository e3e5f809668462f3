"""dbt through dagster-dbt's public API: windows built without re-parsing, nothing private."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from dagster_dbt import DagsterDbtCliRuntimeError

from orchestration.defs.resources import BUILD, dbt_target, vars_args, warehouse_dbt, window_args
from tollgate.events.generator import GeneratorConfig, SyntheticSource
from tollgate.events.writers import backfill_landing
from tollgate.lake import Lake
from tollgate.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DAY = date(2026, 11, 20)
# Modules dagster-dbt and Dagster do not export: an upgrade may change them without notice.
PRIVATE = re.compile(
    r"^\s*(from|import)\s+(dagster_dbt\.(asset_utils|core|utils|compat|dbt_project_manager)"
    r"|dagster\._|bytewax\._)",
    re.MULTILINE,
)


def test_no_code_imports_a_non_public_module():
    offenders = []
    for folder in ("tollgate", "streaming", "orchestration", "api", "bench", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            if PRIVATE.search(path.read_text()) and path != Path(__file__):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_the_dbt_executable_reports_its_version_offline():
    # dagster-dbt runs `<executable> --version` before each command; dbt's own asks PyPI.
    code = (
        "import sys; sys.argv = ['tollgate-dbt', '--version']; "
        "from orchestration.lib.dbt_cli import main; main(); "
        "print(sorted(m for m in ('requests', 'dbt') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert re.search(r"installed: \d+\.\d+\.\d+", out)
    assert out.strip().endswith("[]")


@pytest.fixture
def landed(settings: Settings) -> Settings:
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    source = SyntheticSource(GeneratorConfig(seed=3, customers=20, events_per_second=0.02))
    backfill_landing(Lake.from_settings(settings), source, start, start + timedelta(days=2))
    return settings


def _build(settings: Settings, start: date, days: int = 1, raise_on_error: bool = True):
    args = [*BUILD, *vars_args(settings), *window_args(start, start + timedelta(days=days))]
    invocation = warehouse_dbt().cli(
        args, target_path=dbt_target(settings), raise_on_error=raise_on_error
    )
    return [event.raw_event for event in invocation.stream_raw_events()], invocation


def _days(settings: Settings) -> list[date]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        rows = conn.sql("select distinct activity_date from fct_customer_behavior_daily")
        return sorted(r[0] for r in rows.fetchall())


def test_each_window_builds_its_days_and_reuses_the_parse(landed):
    first, _ = _build(landed, DAY)
    assert _days(landed) == [DAY]
    second, _ = _build(landed, DAY + timedelta(days=1))
    assert _days(landed) == [DAY, DAY + timedelta(days=1)]

    def names(events: list[dict]) -> set[str]:
        return {e["info"]["name"] for e in events}

    # The second window's parse is the first one's, checked: no full re-parse.
    assert "UnableToPartialParse" not in names(second)
    assert "PartialParsingEnabled" in names(second) or "PartialParsingNotEnabled" not in names(
        second
    )


def test_a_failed_build_raises_with_dbts_error(landed):
    with pytest.raises(DagsterDbtCliRuntimeError, match="event-time-start"):
        _build(landed, DAY, days=0)
