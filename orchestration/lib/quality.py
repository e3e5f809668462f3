"""The quality gate: Great Expectations 1.x suites built from a product's catalog rules.

One expectation per rule (not_null, unique, ranges, accepted_values, min_rows), evaluated on
a whole mart where it lies: GX's SQL datasource on the warehouse file, so each rule is a
query DuckDB answers and only the verdict leaves it. The verdict carries, per rule, how many
rows failed and a few sample keys, so a refused version says why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# Quality runs inside pipelines: no usage reporting from GX to the outside.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import great_expectations as gx  # noqa: E402
import great_expectations.expectations as gxe  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402

from orchestration.lib.warehouse import mart_relation, warehouse_reader  # noqa: E402
from orchestration.lib.warehouse_sql import warehouse_url  # noqa: E402
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


def evaluate(product: Product, warehouse_path: Path) -> QualityVerdict:
    """Validate the product's mart in the warehouse against its suite.

    Raises MartMismatch when the mart lacks a catalog column. Every rule is first checked
    for pass or fail alone; only the rules that failed are asked again for their failing
    count and sample keys, so a clean mart costs one pass of aggregate queries.
    """
    with warehouse_reader(warehouse_path) as conn:
        mart_relation(conn, product, product.column_names)
        row_count = conn.table(product.source).count("*").fetchall()[0][0]
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_sql(
        product.id, connection_string=warehouse_url(warehouse_path)
    )
    try:
        batch = (
            source.add_table_asset(product.source, table_name=product.source)
            .add_batch_definition_whole_table("whole_mart")
            .get_batch()
        )
        verdicts = _validate(
            batch, product, expectations_for(product), {"result_format": "BOOLEAN_ONLY"}
        )
        failed = [name for name, passed in verdicts.items() if not passed]
        details: dict[str, dict] = {}
        if failed:
            rules = [(n, e) for n, e in expectations_for(product) if n in failed]
            result_format = {
                "result_format": "SUMMARY",
                "unexpected_index_column_names": [product.key_column],
                "partial_unexpected_count": SAMPLE_SIZE,
            }
            details = _validate(batch, product, rules, result_format, detail=True)
    finally:
        # Pooled read-only connections would keep the next dbt build from locking the file.
        source.get_execution_engine().close()
        source.get_engine().dispose()
    outcomes = [
        _rule_result(name, passed, details.get(name, {}), product.key_column)
        for name, passed in verdicts.items()
    ]
    return QualityVerdict(product_id=product.id, row_count=row_count, rules=outcomes)


def _validate(batch, product: Product, rules, result_format: dict, detail: bool = False) -> dict:
    """Per rule name, whether it passed (or, with `detail`, GX's result for it)."""
    for name, expectation in rules:
        expectation.meta = {"rule": name}
    suite = gx.ExpectationSuite(name=product.id, expectations=[e for _, e in rules])
    results = {}
    for r in batch.validate(suite, result_format=result_format).results:
        name = r.expectation_config.meta["rule"]
        errors = _errors(r.exception_info or {})
        if errors:
            raise RuntimeError(f"{product.id}: rule {name} could not be evaluated: {errors[0]}")
        results[name] = r.result if detail else bool(r.success)
    return results


def _errors(info: dict) -> list[str]:
    """GX's exception messages for one result: one entry, or one per metric that failed."""
    entries = [info] if "raised_exception" in info else list(info.values())
    return [str(e.get("exception_message")) for e in entries if e.get("raised_exception")]


def _rule_result(name: str, success: bool, detail: dict, key_column: str) -> RuleResult:
    if name == "min_rows":
        return RuleResult(name, bool(success), 0 if success else 1, [])
    rows = detail.get("partial_unexpected_index_list") or []
    samples = [_plain(row.get(key_column)) for row in rows][:SAMPLE_SIZE]
    return RuleResult(name, bool(success), int(detail.get("unexpected_count") or 0), samples)


def _plain(value: object) -> object:
    """JSON-friendly sample keys (dates and decimals as strings, NaN as null)."""
    if hasattr(value, "item"):
        value = value.item()
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value if isinstance(value, (str, int, float, bool)) else str(value)
