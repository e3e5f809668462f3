"""A snapshot version's files as Delta Sharing serves them: one Parquet file per region and
day, for each tier view (`full`, or `sample-<buckets>` for a sampled tier) in each schema
version served (`full_v1.3`: that version's columns, under its names).

A tenant's view is then a choice of files: its regions are the files of those regions, a
trial's delay the days up to its cut-off, a sampled tier the sampled files. Nothing is left
for the client to filter. The rows of a file are exactly those a REST batch query of the
same view returns for that region and day: the same snapshot, the same sample condition
(`tollgate.sampling.sample_condition`) through the same DuckDB.

Versions are immutable, so a view's files are written once, on first use, into a staging
directory renamed into place whole (with `index.json` listing each file and its stats).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict

from tollgate.catalog import Product
from tollgate.lake import SNAPSHOT_DATA_FILE, Lake
from tollgate.sampling import sample_buckets, sample_condition
from tollgate.schema_versions import VersionShape

INDEX_FILE = "index.json"
FULL_VIEW = "full"
# Catalog column types as DuckDB writes them for Delta readers (Spark wants `long`
# integers and UTC-adjusted timestamps).
DUCKDB_TYPES = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
    "date": "DATE",
}


class SharedFile(BaseModel):
    """One file of a view: the rows of one region (None: no region) on one day."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    part: str
    region: str | None
    day: date | None
    rows: int
    bytes: int
    min_values: dict[str, Any]
    max_values: dict[str, Any]
    null_count: dict[str, int]


class SharedView(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    product_id: str
    version: str
    view: str
    files: list[SharedFile]

    def file(self, part: str) -> SharedFile | None:
        return next((f for f in self.files if f.part == part), None)


def view_name(sample_fraction: float, schema_version: str) -> str:
    """The view a tier reads in a schema version: the full snapshot, or its sample (named by
    its buckets)."""
    rows = FULL_VIEW if sample_fraction >= 1.0 else f"sample-{sample_buckets(sample_fraction)}"
    return f"{rows}_v{schema_version}"


def parse_view(view: str) -> tuple[int | None, str]:
    """(sample buckets or None for the full view, schema version) of a view name;
    ValueError if it names none."""
    rows, sep, schema_version = view.partition("_v")
    if not sep or not schema_version:
        raise ValueError(f"no view {view!r}")
    if rows == FULL_VIEW:
        return None, schema_version
    prefix, _, buckets = rows.partition("-")
    if prefix != "sample" or not buckets.isdigit():
        raise ValueError(f"no view {view!r}")
    return int(buckets), schema_version


class SharedSnapshots:
    """Each view's files, written on first use and then read from `index.json` (cached)."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self._views: dict[tuple[str, str, str], SharedView] = {}
        self._lock = threading.Lock()
        self._writing: dict[tuple[str, str, str], threading.Lock] = {}

    def view(
        self, product: Product, version: str, view: str, shape: VersionShape | None = None
    ) -> SharedView:
        """A view's files, written first (in `shape`) if they are not yet; without a shape,
        FileNotFoundError for a view not written."""
        key = (product.id, version, view)
        cached = self._views.get(key)
        if cached is not None:
            return cached
        with self._lock:
            writing = self._writing.setdefault(key, threading.Lock())
        with writing:  # one writer per view in this process; others wait and read it
            index = self.lake.sharing_dir(product.id, version, view) / INDEX_FILE
            if not index.exists():
                if shape is None:
                    raise FileNotFoundError(index)
                write_view(self.lake, product, shape, version, view)
            shared = SharedView.model_validate_json(index.read_text())
        self._views[key] = shared
        return shared

    def path(self, product_id: str, version: str, view: str, part: str) -> Path:
        return self.lake.sharing_dir(product_id, version, view) / f"{part}.parquet"


def write_view(lake: Lake, product: Product, shape: VersionShape, version: str, view: str) -> None:
    """Write a view's files and index aside, then rename the directory into place (another
    process that won the race keeps its copy: both hold the same rows)."""
    source = lake.snapshot_dir(product.id, version) / SNAPSHOT_DATA_FILE
    if not source.exists():
        raise FileNotFoundError(f"{product.id} {version} has no data file")
    final = lake.sharing_dir(product.id, version, view)
    staging = final.with_name(f".{view}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    staging.mkdir(parents=True)
    try:
        files = _write_files(product, shape, source, parse_view(view)[0], staging)
        shared = SharedView(product_id=product.id, version=version, view=view, files=files)
        (staging / INDEX_FILE).write_text(shared.model_dump_json())
        for path in staging.iterdir():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        try:
            os.rename(staging, final)
        except OSError:
            if not (final / INDEX_FILE).exists():
                raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(staging)


def _write_files(
    product: Product, shape: VersionShape, source: Path, buckets: int | None, target: Path
) -> list[SharedFile]:
    # The shape's columns, read under the snapshot's names and served under its own, typed
    # as the catalog types them; identifiers come from the catalog, checked at load.
    names = [f'"{c.name}"' for c in shape.columns]
    typed = ", ".join(
        f'cast("{c.stored}" as {DUCKDB_TYPES[product.column(c.newest).type]}) as "{c.name}"'
        for c in shape.columns
    )
    region = f'"{product.region_column}"' if product.region_column else "null::varchar"
    where, params = "true", {"path": str(source)}
    if buckets is not None:
        # On the snapshot's own columns, as REST batch queries sample them.
        where = sample_condition(f'"{product.key_column}"', "$sample")
        params["sample"] = buckets
    day = f'cast("{product.time_column}" as date)'
    rows = (
        f"select {typed}, {region} as __region, {day} as __day, "  # noqa: S608
        f'"{product.key_column}" as __key '
        f"from (select * from read_parquet($path) where {where})"
    )
    stats = ", ".join(f"min({n}), max({n}), count(*) - count({n})" for n in names)
    db = duckdb.connect(":memory:")
    try:
        db.execute("set TimeZone = 'UTC'")
        groups = db.execute(
            f"select __region, __day, count(*), {stats} from ({rows}) "  # noqa: S608
            "group by all order by __day nulls last, __region nulls last",
            params,
        ).fetchall()
        files = []
        for n, (g_region, g_day, count, *values) in enumerate(groups, start=1):
            part = f"part-{n:05d}"
            table = db.sql(
                f"select {', '.join(names)} from ({rows}) "  # noqa: S608
                "where __region is not distinct from $region and __day is not distinct from $day "
                "order by __key",
                params={**params, "region": g_region, "day": g_day},
            ).to_arrow_table()
            path = target / f"{part}.parquet"
            pq.write_table(table, path)
            files.append(
                SharedFile(
                    part=part,
                    region=g_region,
                    day=g_day,
                    rows=count,
                    bytes=path.stat().st_size,
                    min_values=_named(shape, values[0::3]),
                    max_values=_named(shape, values[1::3]),
                    null_count=dict(zip(shape.names, values[2::3], strict=True)),
                )
            )
        return files
    finally:
        db.close()


def _named(shape: VersionShape, values: list[Any]) -> dict[str, Any]:
    """Per-column stats in JSON form (Delta's per-file statistics), nulls left out."""
    out = {}
    for name, value in zip(shape.names, values, strict=True):
        if value is not None:
            out[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return out
