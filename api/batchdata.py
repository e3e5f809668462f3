"""Queries over published batch snapshots, through an in-process DuckDB connection.

Only the snapshot's Parquet file is read (never the warehouse file, which belongs to
dbt/Dagster). Identifiers come from the catalog and are checked before they reach SQL;
every value is a bound parameter.
"""

from __future__ import annotations

import threading
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from api.errors import ApiError
from tollgate.catalog import Product
from tollgate.lake import SNAPSHOT_DATA_FILE, Lake
from tollgate.sampling import sample_buckets, sample_condition
from tollgate.schema_versions import ServedColumn, VersionShape

MAX_PAGE_SIZE = 1000
Scalar = str | int | float | bool | None
_OPS = {"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_TYPES: dict[str, TypeAdapter] = {
    "string": TypeAdapter(str),
    "integer": TypeAdapter(int),
    "double": TypeAdapter(float),
    "boolean": TypeAdapter(bool),
    "timestamp": TypeAdapter(datetime),
    "date": TypeAdapter(date),
}


class Filter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    column: str = Field(examples=["region"])
    op: Literal["eq", "ne", "lt", "le", "gt", "ge", "in"] = "eq"
    value: Scalar | list[Scalar] = Field(examples=["EU"])


class BatchQuery(BaseModel):
    """A query over the current snapshot; `sort` entries are column names, `-` for descending."""

    model_config = ConfigDict(extra="forbid")
    columns: list[str] | None = Field(default=None, examples=[["customer_id", "activity_date"]])
    filters: list[Filter] = Field(default=[], max_length=20)
    sort: list[str] = Field(default=[], max_length=5, examples=[["-activity_date"]])
    region: str | None = None
    limit: int = Field(default=100, ge=1, le=MAX_PAGE_SIZE)
    cursor: str | None = None


def _quote(product: Product, name: str) -> str:
    if product.column(name) is None:
        raise ApiError(
            400,
            "unknown_column",
            f"{product.id} has no column {name!r}",
            {"column": name, "columns": product.column_names},
        )
    return f'"{name}"'


def _quote_name(name: str) -> str:
    # Catalog names (of any schema version) are lower_snake_case identifiers.
    return f'"{name}"'


def _served(product: Product, shape: VersionShape, name: str) -> ServedColumn:
    """A column the asked-for schema version serves (400 naming its columns if none)."""
    column = shape.column(name)
    if column is None:
        raise ApiError(
            400,
            "unknown_column",
            f"{product.id} {shape.name} has no column {name!r}",
            {"column": name, "columns": shape.names, "data_schema_version": shape.name},
        )
    return column


def _typed(product: Product, column: str, value: Scalar) -> Any:
    """`value` as the type of the stored `column`."""
    try:
        return _TYPES[product.column(column).type].validate_python(value)
    except ValidationError:
        kind = product.column(column).type
        raise ApiError(
            400,
            "invalid_filter",
            f"{value!r} is not a valid {kind} for {column}",
            {"column": column},
        ) from None


class BatchReader:
    def __init__(self, lake: Lake):
        self.lake = lake
        self._db = duckdb.connect(":memory:")
        self._lock = threading.Lock()
        self._summaries: dict[tuple[str, str], dict] = {}

    def data_file(self, product_id: str, version: str) -> Path:
        return self.lake.snapshot_dir(product_id, version) / SNAPSHOT_DATA_FILE

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            return self._db.cursor()

    def summary(self, product: Product, version: str) -> dict:
        """Manifest plus the snapshot's time range; versions are immutable, so cached."""
        cached = self._summaries.get((product.id, version))
        if cached is None:
            manifest = self.lake.read_manifest(product.id, version)
            tc = _quote(product, product.time_column)
            lo, hi = (
                self._cursor()
                .execute(
                    f"select min({tc}), max({tc}) from read_parquet($path)",  # noqa: S608
                    {"path": str(self.data_file(product.id, version))},
                )
                .fetchone()
            )
            cached = {"manifest": manifest, "time_from": lo, "time_to": hi}
            self._summaries[(product.id, version)] = cached
        return cached

    def query(
        self,
        product: Product,
        version: str,
        q: BatchQuery,
        shape: VersionShape,
        *,
        regions: list[str] | None,
        sample_fraction: float,
        not_after: date | None,
        offset: int,
    ) -> tuple[list[dict[str, Any]], bool]:
        """One page of rows and whether more follow, in the schema version `shape`: its
        columns under its names, and filters and sorts on its names."""
        columns = [
            f"{_quote_name(_served(product, shape, c).stored)} as {_quote_name(c)}"
            for c in (q.columns or shape.names)
        ]
        where, params = ["true"], {"path": str(self.data_file(product.id, version))}
        for i, f in enumerate(q.filters):
            served = _served(product, shape, f.column)
            col, typed_as = _quote_name(served.stored), served.newest
            if f.op == "in":
                values = f.value if isinstance(f.value, list) else [f.value]
                params[f"v{i}"] = [_typed(product, typed_as, v) for v in values]
                where.append(f"list_contains($v{i}, {col})")
            else:
                if isinstance(f.value, list):
                    raise ApiError(400, "invalid_filter", f"op {f.op!r} takes one value")
                params[f"v{i}"] = _typed(product, typed_as, f.value)
                where.append(f"{col} {_OPS[f.op]} $v{i}")
        if regions is not None and product.region_column:
            params["regions"] = regions
            where.append(f"list_contains($regions, {_quote(product, product.region_column)})")
        if sample_fraction < 1.0:
            # Deterministic per key: a trial tenant sees the same sample on every page.
            params["sample"] = sample_buckets(sample_fraction)
            where.append(sample_condition(_quote(product, product.key_column), "$sample"))
        if not_after is not None:
            params["not_after"] = not_after
            where.append(f"cast({_quote(product, product.time_column)} as date) <= $not_after")
        # One leading '-' means descending; "--x" names no column (lstrip would accept it).
        order = [
            f"{_quote_name(_served(product, shape, s[1:]).stored)} desc"
            if s.startswith("-")
            else f"{_quote_name(_served(product, shape, s).stored)} asc"
            for s in q.sort
        ]
        order.append(f"{_quote(product, product.key_column)} asc")
        params["limit"], params["offset"] = q.limit + 1, offset
        sql = (
            f"select {', '.join(columns)} from read_parquet($path) where {' and '.join(where)} "  # noqa: S608
            f"order by {', '.join(order)} limit $limit offset $offset"
        )
        cur = self._cursor()
        try:
            result = cur.execute(sql, params)
            names = [d[0] for d in result.description]
            rows = [dict(zip(names, r, strict=True)) for r in result.fetchall()]
        except duckdb.ConversionException:
            raise ApiError(
                400, "invalid_filter", "a filter value does not match its column"
            ) from None
        finally:
            cur.close()
        return rows[: q.limit], len(rows) > q.limit
