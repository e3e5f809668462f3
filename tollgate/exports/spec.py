"""What an export holds: a product's published snapshot, narrowed by dates, filters,
residency, the tier's delay and sample, and columns, read back one row group at a time."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from tollgate.catalog import Product
from tollgate.lake import SNAPSHOT_DATA_FILE, Lake
from tollgate.sampling import sample_buckets, sample_condition
from tollgate.schema_versions import NotHeld, VersionShape

ExportFormat = Literal["csv", "parquet", "jsonl"]
FORMATS: tuple[str, ...] = ("csv", "parquet", "jsonl")
FilterValue = str | int | float | bool | date | datetime
BATCH_ROWS = 65_536


class ExportError(ValueError):
    """The export request does not fit the product (unknown column, bad value, format)."""


@dataclass(frozen=True)
class ExportSpec:
    """What to export: a product's snapshot file, narrowed by dates, filters and columns."""

    product: Product
    source: Path  # the snapshot's data.parquet
    fmt: ExportFormat
    columns: Sequence[str] | None = None  # None: every catalog column, in catalog order
    date_from: date | None = None  # on the product's time column, inclusive
    date_to: date | None = None  # inclusive
    filters: Mapping[str, FilterValue | Sequence[FilterValue]] = field(default_factory=dict)
    regions: Sequence[str] | None = None  # the tenant's residency; None means every region
    # The tier's view, as the batch API applies it: rows up to this day only (a delayed
    # tier), and the tier's deterministic sample of keys.
    not_after: date | None = None
    sample_fraction: float = 1.0
    # The schema version whose columns (under its names) the file holds; None: the current.
    schema_version: str | None = None
    # The schema version the snapshot was published in (its columns' names); None: the current.
    held_version: str | None = None

    @property
    def shape(self) -> VersionShape:
        shapes = self.product.shapes()
        shape = shapes[self.schema_version or self.product.schema_version.version]
        held = shapes.get(self.held_version) if self.held_version else None
        try:
            return shape.held_in(held) if held is not None else shape
        except NotHeld as exc:
            raise ExportError(str(exc)) from None


@dataclass(frozen=True)
class ExportResult:
    path: Path
    rows: int
    bytes: int
    sha256: str


def _dataset(spec: ExportSpec) -> ds.Dataset:
    return ds.dataset(spec.source, format="parquet")


def _columns(spec: ExportSpec) -> list[str]:
    """The export's columns as its schema version names them."""
    shape = spec.shape
    wanted = list(spec.columns) if spec.columns else shape.names
    unknown = [c for c in wanted if shape.stored(c) is None]
    if unknown:
        raise ExportError(f"{spec.product.id} {shape.name} has no column {unknown[0]!r}")
    return wanted


def _stored_columns(spec: ExportSpec) -> list[str]:
    """The stored columns behind the export's columns, in the same order."""
    shape = spec.shape
    return [shape.stored(c) or c for c in _columns(spec)]


def validate_columns(spec: ExportSpec) -> list[str]:
    """The export's columns, or ExportError naming the first the product does not have."""
    return _columns(spec)


def _scalar(value: object, typ: pa.DataType, column: str) -> pa.Scalar:
    try:
        return pa.scalar(value, type=typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        raise ExportError(f"{value!r} is not a valid {typ} for {column!r}") from None


def export_filter(spec: ExportSpec, schema: pa.Schema) -> ds.Expression | None:
    """The row filter of an export, typed against the snapshot's schema."""
    terms: list[ds.Expression] = []
    for served, value in spec.filters.items():
        column = spec.shape.stored(served)
        if column is None or column not in schema.names:
            raise ExportError(f"cannot filter {spec.product.id} on unknown column {served!r}")
        typ = schema.field(column).type
        if isinstance(value, list | tuple | set):
            terms.append(
                ds.field(column).isin(pa.array([_scalar(v, typ, column) for v in value], type=typ))
            )
        else:
            terms.append(ds.field(column) == _scalar(value, typ, column))
    if spec.regions is not None:
        region = spec.product.region_column
        if region is None:
            raise ExportError(f"{spec.product.id} has no region column to restrict")
        terms.append(ds.field(region).isin(pa.array(list(spec.regions), type=pa.string())))
    time_col = spec.product.time_column
    typ = schema.field(time_col).type
    if spec.date_from is not None and spec.date_to is not None and spec.date_from > spec.date_to:
        raise ExportError(f"date_from {spec.date_from} is after date_to {spec.date_to}")
    if spec.date_from is not None:
        terms.append(ds.field(time_col) >= _bound(spec.date_from, typ))
    if spec.date_to is not None and spec.date_to < date.max:  # date.max: no upper bound
        terms.append(ds.field(time_col) < _bound(spec.date_to + timedelta(days=1), typ))
    if spec.not_after is not None:
        terms.append(ds.field(time_col) < _bound(spec.not_after + timedelta(days=1), typ))
    if spec.sample_fraction < 1.0:
        key = spec.product.key_column
        terms.append(ds.field(key).isin(_sampled_keys(spec)))
    if not terms:
        return None
    expr = terms[0]
    for term in terms[1:]:
        expr = expr & term
    return expr


def _sampled_keys(spec: ExportSpec) -> pa.Array:
    """The snapshot's keys in the tier's sample, chosen by the same condition the batch API
    uses (DuckDB's hash), so an export holds exactly the rows a query would show."""
    key = '"' + spec.product.key_column.replace('"', '""') + '"'
    sql = f"select {key} from read_parquet($path) where {sample_condition(key, '$buckets')}"  # noqa: S608 - the key comes from the catalog
    with duckdb.connect() as conn:
        params = {"path": str(spec.source), "buckets": sample_buckets(spec.sample_fraction)}
        return conn.sql(sql, params=params).to_arrow_table().column(0).combine_chunks()


def _bound(day: date, typ: pa.DataType) -> pa.Scalar:
    """A day boundary in the time column's own type (date, naive or zoned timestamp)."""
    if pa.types.is_timestamp(typ):
        start = datetime.combine(day, time.min, tzinfo=UTC if typ.tz else None)
        return pa.scalar(start, type=typ)
    return pa.scalar(day, type=typ)


def count_rows(spec: ExportSpec) -> int:
    """Rows the export would hold (for tier row caps and progress totals)."""
    dataset = _dataset(spec)
    return dataset.scanner(columns=[], filter=export_filter(spec, dataset.schema)).count_rows()


def export_batches(spec: ExportSpec, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """The export's rows, batch by batch, with only its columns.

    Reads the file one row group at a time with no read-ahead: a dataset scanner reads ahead
    of a slow writer and its memory grows with the file, this does not."""
    source = pq.ParquetFile(spec.source, pre_buffer=False)
    schema = source.schema_arrow
    names, columns = _columns(spec), _stored_columns(spec)
    missing = [c for c in columns if c not in schema.names]
    if missing:
        raise ExportError(f"the snapshot of {spec.product.id} lacks column {missing[0]!r}")
    row_filter = export_filter(spec, schema)
    needed = (
        columns
        if row_filter is None
        else [c for c in schema.names if c in set(columns) | _filter_columns(spec)]
    )
    for batch in source.iter_batches(batch_size=batch_rows, columns=needed):
        if row_filter is not None:
            batch = batch.filter(row_filter)
        yield batch.select(columns).rename_columns(names)


def projected_schema(spec: ExportSpec) -> pa.Schema:
    """The file's schema: the stored columns' types under the schema version's names."""
    schema = pq.read_schema(spec.source)
    return pa.schema(
        [
            schema.field(stored).with_name(name)
            for name, stored in zip(_columns(spec), _stored_columns(spec), strict=True)
        ]
    )


def _filter_columns(spec: ExportSpec) -> set[str]:
    cols = {spec.shape.stored(c) or c for c in spec.filters}
    if spec.regions is not None and spec.product.region_column:
        cols.add(spec.product.region_column)
    if spec.date_from is not None or spec.date_to is not None or spec.not_after is not None:
        cols.add(spec.product.time_column)
    if spec.sample_fraction < 1.0:
        cols.add(spec.product.key_column)
    return cols


def snapshot_source(lake: Lake, product_id: str, version: str | None = None) -> tuple[str, Path]:
    """(version, data file) of `version`, or of the snapshot readers currently see; exports
    pin the version so a job resumed after a restart reads the same rows."""
    version = version or lake.current_version(product_id)
    if version is None:
        raise ExportError(f"{product_id} has no published snapshot yet")
    return version, lake.snapshot_dir(product_id, version) / SNAPSHOT_DATA_FILE
