"""The GX gate built from catalog rules, one rule at a time."""

from __future__ import annotations

import pandas as pd
import pytest

from orchestration.lib.quality import evaluate, expectations_for, rule_columns
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


def test_suite_has_one_expectation_per_rule():
    assert [name for name, _ in expectations_for(PRODUCT)] == [
        "not_null:widget_id",
        "not_null:day",
        "unique:widget_id",
        "range:score",
        "accepted_values:level",
        "min_rows",
    ]


def test_clean_rows_pass():
    verdict = evaluate(PRODUCT, pd.DataFrame(GOOD))
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
def test_each_rule_reports_failing_count_and_sample_keys(column, values, rule, count, sample):
    verdict = evaluate(PRODUCT, pd.DataFrame({**GOOD, column: values}))
    assert not verdict.passed
    [failed] = verdict.failed
    assert (failed.rule, failed.failing_count, failed.sample) == (rule, count, sample)
    assert verdict.reason() == f"{rule} failed on {count} rows"
    assert verdict.as_dict()["checks"][rule]["passed"] is False


def test_too_few_rows_fails_min_rows():
    verdict = evaluate(PRODUCT, pd.DataFrame({k: v[:1] for k, v in GOOD.items()}))
    assert [r.rule for r in verdict.failed] == ["min_rows"]


def test_gate_reads_only_the_key_and_rule_columns():
    unruled = PRODUCT.model_copy(
        update={"columns": [*PRODUCT.columns, PRODUCT.columns[2].model_copy(update={"name": "n"})]}
    )
    assert rule_columns(unruled) == ["widget_id", "day", "score", "level"]
    # Verdicts on the pruned frame equal verdicts on the whole one.
    frame = pd.DataFrame({**GOOD, "n": [1.0, 2.0, 3.0]})
    frame.loc[1, "score"] = 7.0
    whole, pruned = evaluate(unruled, frame), evaluate(unruled, frame[rule_columns(unruled)])
    assert whole.as_dict() == pruned.as_dict()
    assert whole.failed[0].rule == "range:score"
