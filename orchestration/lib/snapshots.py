"""Publishing a batch product: a new immutable snapshot version, then the CURRENT swap.

The version directory is written aside under a dot-name and renamed into place whole, so
a reader listing versions never sees a half-written one; `Lake.set_current` then makes it
the version readers get. The manifest is `tollgate.manifest.SnapshotManifest`, which the API
and exports read.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from tollgate.catalog import Product
from tollgate.lake import SNAPSHOT_DATA_FILE, SNAPSHOT_MANIFEST_FILE, Lake
from tollgate.manifest import ManifestColumn, SnapshotManifest, newest_data_time

CHUNK = 1 << 20


def file_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def build_manifest(
    product: Product,
    version: str,
    data_file: Path,
    source_partitions: list[str],
    quality: dict,
    created_at: datetime,
    built_at: datetime | None = None,
) -> SnapshotManifest:
    """The manifest the API and exports read beside every snapshot's data.parquet; its
    watermark is the newest value of the product's time column in the data written."""
    metadata = pq.ParquetFile(data_file).metadata
    return SnapshotManifest(
        product_id=product.id,
        version=version,
        schema_version=product.schema_version.version,
        row_count=metadata.num_rows,
        checksum=file_checksum(data_file),
        source_partitions=sorted(source_partitions),
        quality=quality,
        created_at=created_at,
        watermark_at=newest_data_time(
            newest_value(data_file, metadata, product.time_column), built_at or created_at
        ),
        columns=[ManifestColumn(name=c.name, type=c.type) for c in product.columns],
    )


def newest_value(data_file: Path, metadata: pq.FileMetaData, column: str) -> object:
    """The largest value of `column` in the file, from its row groups' statistics (no rows
    read); from the column itself when a row group has none. None for no rows."""
    index = metadata.schema.to_arrow_schema().get_field_index(column)
    stats = [metadata.row_group(g).column(index).statistics for g in range(metadata.num_row_groups)]
    if all(s is not None and s.has_min_max for s in stats):
        return max((s.max for s in stats), default=None)
    return pc.max(pq.read_table(data_file, columns=[column]).column(0)).as_py()


def publish_snapshot(
    lake: Lake,
    product: Product,
    write_data: Callable[[Path], None],
    source_partitions: list[str],
    quality: dict,
    now: datetime | None = None,
    built_at: datetime | None = None,
) -> SnapshotManifest:
    """Write the next version of `product` and make it current; return its manifest.

    `write_data(path)` writes the Parquet rows (columns in catalog order) to `path`;
    `built_at` is when the mart was built (no row can be newer), `now` by default.
    """
    version = lake.next_snapshot_version(product.id)
    final_dir = lake.snapshot_dir(product.id, version)
    staging = final_dir.with_name(f".{version}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        data_file = staging / SNAPSHOT_DATA_FILE
        write_data(data_file)
        created = now or datetime.now(UTC)
        manifest = build_manifest(
            product, version, data_file, source_partitions, quality, created, built_at
        )
        (staging / SNAPSHOT_MANIFEST_FILE).write_text(manifest.to_json())
        _fsync_dir_files(staging)
        # rename fails if the version exists: two publishers never share a version.
        os.rename(staging, final_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    lake.set_current(product.id, version)
    return manifest


def _fsync_dir_files(directory: Path) -> None:
    for path in directory.iterdir():
        with open(path, "rb") as f:
            os.fsync(f.fileno())
