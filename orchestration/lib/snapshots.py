"""Publishing a batch product: a new immutable snapshot version, then the CURRENT swap.

The version directory is written aside under a dot-name and renamed into place whole, so
a reader listing versions never sees a half-written one; `Lake.set_current` then makes it
the version readers get. Manifest keys are a contract with the API (see `build_manifest`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq

from tollgate.catalog import Product
from tollgate.lake import SNAPSHOT_DATA_FILE, SNAPSHOT_MANIFEST_FILE, Lake

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
) -> dict:
    """The manifest the API reads beside every snapshot's data.parquet."""
    return {
        "product_id": product.id,
        "version": version,
        "schema_version": product.schema_version.version,
        "row_count": pq.ParquetFile(data_file).metadata.num_rows,
        "checksum": file_checksum(data_file),
        "source_partitions": sorted(source_partitions),
        "quality": quality,
        "created_at": created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "columns": [{"name": c.name, "type": c.type} for c in product.columns],
    }


def publish_snapshot(
    lake: Lake,
    product: Product,
    write_data: Callable[[Path], None],
    source_partitions: list[str],
    quality: dict,
    now: datetime | None = None,
) -> dict:
    """Write the next version of `product` and make it current; return its manifest.

    `write_data(path)` writes the Parquet rows (columns in catalog order) to `path`.
    """
    version = lake.next_snapshot_version(product.id)
    final_dir = lake.snapshot_dir(product.id, version)
    staging = final_dir.with_name(f".{version}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        data_file = staging / SNAPSHOT_DATA_FILE
        write_data(data_file)
        manifest = build_manifest(
            product, version, data_file, source_partitions, quality, now or datetime.now(UTC)
        )
        (staging / SNAPSHOT_MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
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
