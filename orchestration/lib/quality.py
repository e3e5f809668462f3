"""The quality gate: Great Expectations 1.x suites built from a product's catalog rules.

One expectation per rule (not_null, unique, ranges, accepted_values, min_rows), evaluated on
a whole mart; the verdict carries, per rule, how many rows failed and a few sample keys, so
a refused version says why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pandas as pd

# Quality runs inside pipelines: no usage reporting from GX to the outside.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import great_expectations as gx  # noqa: E402
import great_expectations.expectations as gxe  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402

from tollgate.catalog import Product  # noqa: E402

SAMPLE_SIZE = 5


@dataclass(frozen=True)
class RuleResult:
    rule: str
    passed: bool
    failing_count: int
    sample: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"passed": self.passed, "failing_count": self.failing_count, "sample": self.sample}


@dataclass(frozen=True)
class QualityVerdict:
    product_id: str
    row_count: int
    rules: list[RuleResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rules)

    @property
    def failed(self) -> list[RuleResult]:
        return [r for r in self.rules if not r.passed]

    def reason(self) -> str:
        """One line a buyer or an operator can read: which rules failed, on how many rows."""
        return "; ".join(f"{r.rule} failed on {r.failing_count} rows" for r in self.failed)

    def as_dict(self) -> dict:
        return {"passed": self.passed, "checks": {r.rule: r.as_dict() for r in self.rules}}


def expectations_for(product: Product) -> list[tuple[str, gxe.Expectation]]:
    """(rule name, expectation) for every quality rule the catalog declares for `product`."""
    q = product.quality
    rules: list[tuple[str, gxe.Expectation]] = []
    for col in q.not_null:
        rules.append((f"not_null:{col}", gxe.ExpectColumnValuesToNotBeNull(column=col)))
    for col in q.unique:
        rules.append((f"unique:{col}", gxe.ExpectColumnValuesToBeUnique(column=col)))
    for col, (low, high) in q.ranges.items():
        rules.append(
            (
                f"range:{col}",
                gxe.ExpectColumnValuesToBeBetween(column=col, min_value=low, max_value=high),
            )
        )
    for col, values in q.accepted_values.items():
        rules.append(
            (
                f"accepted_values:{col}",
                gxe.ExpectColumnValuesToBeInSet(column=col, value_set=values),
            )
        )
    if q.min_rows:
        rules.append(("min_rows", gxe.ExpectTableRowCountToBeBetween(min_value=q.min_rows)))
    return rules


def rule_columns(product: Product) -> list[str]:
    """The columns the gate reads: the key (for failing samples) and those a rule names,
    in the catalog's order; a mart's other columns never leave the warehouse for the gate."""
    q = product.quality
    named = {product.key_column, *q.not_null, *q.unique, *q.ranges, *q.accepted_values}
    return [c for c in product.column_names if c in named]


def evaluate(product: Product, frame: pd.DataFrame) -> QualityVerdict:
    """Validate a mart's rows against the product's suite."""
    rules = expectations_for(product)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas(product.id)
        .add_dataframe_asset(product.source)
        .add_batch_definition_whole_dataframe("whole_mart")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    for name, expectation in rules:
        expectation.meta = {"rule": name}
    suite = gx.ExpectationSuite(name=product.id, expectations=[e for _, e in rules])
    result = batch.validate(
        suite,
        result_format={
            "result_format": "COMPLETE",
            "unexpected_index_column_names": [product.key_column],
            "partial_unexpected_count": SAMPLE_SIZE,
        },
    )
    outcomes = [
        _rule_result(r.expectation_config.meta["rule"], r.success, r.result, product.key_column)
        for r in result.results
    ]
    return QualityVerdict(product_id=product.id, row_count=len(frame), rules=outcomes)


def _rule_result(name: str, success: bool, detail: dict, key_column: str) -> RuleResult:
    if name == "min_rows":
        return RuleResult(name, bool(success), 0 if success else 1, [])
    samples = [_plain(row.get(key_column)) for row in (detail.get("unexpected_index_list") or [])][
        :SAMPLE_SIZE
    ]
    return RuleResult(name, bool(success), int(detail.get("unexpected_count") or 0), samples)


def _plain(value: object) -> object:
    """JSON-friendly sample keys (GX hands back numpy scalars, and NaN for nulls)."""
    if hasattr(value, "item"):
        value = value.item()
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value if isinstance(value, (str, int, float, bool)) else str(value)
