"""The GX gate built from catalog rules, one rule at a time, run on a warehouse file."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest
import sqlalchemy as sa

from orchestration.lib.quality import evaluate, expectations_for
from orchestration.lib.warehouse import MartMismatch, warehouse_reader
from orchestration.lib.warehouse_sql import warehouse_url
from tollgate.catalog import Product

PRODUCT = Product.model_validate(
    {
        "id": "widget-daily",
        "title": "Widgets",
        "lane": "batch",
        "source": "fct_widgets",
        "key_column": "widget_id",
        "time_column": "day",
        "freshness_sla_seconds": 3600,
        "price": {"model": "per_record", "usd": 0.1},
        "schema_versions": [{"version": "1.0"}],
        "columns": [
            {"name": "widget_id", "type": "string"},
            {"name": "day", "type": "date"},
            {"name": "score", "type": "double"},
            {"name": "level", "type": "string"},
        ],
        "quality": {
            "not_null": ["widget_id", "day"],
            "unique": ["widget_id"],
            "ranges": {"score": [0, 1]},
            "accepted_values": {"level": ["low", "high"]},
            "min_rows": 2,
        },
    }
)
GOOD = {
    "widget_id": ["a", "b", "c"],
    "day": ["2026-11-20"] * 3,
    "score": [0.0, 0.5, 1.0],
    "level": ["low", "high", "low"],
}


@pytest.fixture
def mart(tmp_path):
    """Build fct_widgets from columns of values in a fresh warehouse file; its path."""
    count = 0

    def build(columns: dict):
        nonlocal count
        count += 1
        path = tmp_path / f"warehouse-{count}.duckdb"
        rows = pa.table(columns)
        with duckdb.connect(str(path)) as conn:
            conn.register("rows", rows)
            conn.execute("create table fct_widgets as select * from rows")
        return path

    return build


def test_suite_has_one_expectation_per_rule():
    assert [name for name, _ in expectations_for(PRODUCT)] == [
        "not_null:widget_id",
        "not_null:day",
        "unique:widget_id",
        "range:score",
        "accepted_values:level",
        "min_rows",
    ]


def test_clean_rows_pass(mart):
    verdict = evaluate(PRODUCT, mart(GOOD))
    assert verdict.passed and verdict.row_count == 3 and verdict.reason() == ""


@pytest.mark.parametrize(
    ("column", "values", "rule", "count", "sample"),
    [
        ("day", ["2026-11-20", None, "2026-11-20"], "not_null:day", 1, ["b"]),
        ("widget_id", ["a", "a", "c"], "unique:widget_id", 2, ["a", "a"]),
        ("score", [0.5, 1.5, -0.1], "range:score", 2, ["b", "c"]),
        ("level", ["low", "medium", "low"], "accepted_values:level", 1, ["b"]),
    ],
)
def test_each_rule_reports_failing_count_and_sample_keys(mart, column, values, rule, count, sample):
    verdict = evaluate(PRODUCT, mart({**GOOD, column: values}))
    assert not verdict.passed
    [failed] = verdict.failed
    assert (failed.rule, failed.failing_count, failed.sample) == (rule, count, sample)
    assert verdict.reason() == f"{rule} failed on {count} rows"
    assert verdict.as_dict()["checks"][rule]["passed"] is False


def test_too_few_rows_fails_min_rows(mart):
    verdict = evaluate(PRODUCT, mart({k: v[:1] for k, v in GOOD.items()}))
    assert [r.rule for r in verdict.failed] == ["min_rows"]


def test_unruled_columns_do_not_change_the_verdict(mart):
    unruled = PRODUCT.model_copy(
        update={"columns": [*PRODUCT.columns, PRODUCT.columns[2].model_copy(update={"name": "n"})]}
    )
    bad = {**GOOD, "score": [0.0, 7.0, 1.0]}
    whole, ruled = (
        evaluate(unruled, mart({**bad, "n": [1.0, 2.0, 3.0]})),
        evaluate(PRODUCT, mart(bad)),
    )
    assert whole.as_dict() == ruled.as_dict()
    assert [(r.rule, r.sample) for r in whole.failed] == [("range:score", ["b"])]


def test_a_mart_without_a_catalog_column_is_refused_by_name(mart):
    with pytest.raises(MartMismatch, match="'level'"):
        evaluate(PRODUCT, mart({k: v for k, v in GOOD.items() if k != "level"}))


def test_the_gate_reads_the_warehouse_read_only_beside_other_readers(mart):
    """GX's connection is opened like every warehouse reader's (DuckDB refuses two
    configurations on one file in a process), returns rows, and cannot write."""
    path = mart(GOOD)
    with warehouse_reader(path) as reader:
        assert evaluate(PRODUCT, path).passed
        assert reader.table("fct_widgets").count("*").fetchall() == [(3,)]
    engine = sa.create_engine(warehouse_url(path))
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select widget_id from fct_widgets order by 1"))
    # Fetched after the connection went back to the pool, as GX's SQL engine does.
    assert rows.fetchall() == [("a",), ("b",), ("c",)]
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="read-only"):
        conn.execute(sa.text("create table t (i int)"))
    engine.dispose()
    # No connection outlives the gate: the next dbt build can take the file's write lock.
    with duckdb.connect(str(path)) as writer:
        writer.execute("create table t (i int)")
