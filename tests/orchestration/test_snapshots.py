"""Publishing snapshots: whole versions only, CURRENT moves only on success."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration.lib.snapshots import publish_snapshot
from tollgate.catalog import get_catalog
from tollgate.lake import Lake

PRODUCT = get_catalog().product("market-trends")
NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def _writer(rows: int):
    def write(path):
        table = pa.table({c: [None] * rows for c in PRODUCT.column_names})
        pq.write_table(table, path)

    return write


def test_publish_writes_manifest_and_moves_current(settings):
    lake = Lake.from_settings(settings)
    first = publish_snapshot(
        lake,
        PRODUCT,
        _writer(3),
        ["2026-11-21", "2026-11-20"],
        {"passed": True, "checks": {}},
        now=NOW,
    )
    second = publish_snapshot(
        lake, PRODUCT, _writer(5), ["2026-11-22"], {"passed": True, "checks": {}}, now=NOW
    )

    assert (first["version"], second["version"]) == ("v000001", "v000002")
    assert lake.current_version(PRODUCT.id) == "v000002"
    manifest = lake.read_manifest(PRODUCT.id, "v000001")
    assert manifest == first
    assert manifest["row_count"] == 3
    assert manifest["source_partitions"] == ["2026-11-20", "2026-11-21"]
    assert manifest["created_at"] == "2026-11-24T08:00:00Z"
    assert manifest["schema_version"] == PRODUCT.schema_version.version
    data = (lake.snapshot_dir(PRODUCT.id, "v000001") / "data.parquet").read_bytes()
    assert manifest["checksum"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert [c["name"] for c in manifest["columns"]] == PRODUCT.column_names
    assert set(json.loads(json.dumps(manifest))) == {
        "product_id",
        "version",
        "schema_version",
        "row_count",
        "checksum",
        "source_partitions",
        "quality",
        "created_at",
        "columns",
    }


def test_failed_write_leaves_no_version_and_current_unchanged(settings):
    lake = Lake.from_settings(settings)
    publish_snapshot(lake, PRODUCT, _writer(2), ["2026-11-20"], {"passed": True, "checks": {}})

    def broken(path):
        path.write_bytes(b"half a file")
        raise OSError("disk full")

    with pytest.raises(OSError):
        publish_snapshot(lake, PRODUCT, broken, ["2026-11-21"], {"passed": True, "checks": {}})
    assert lake.snapshot_versions(PRODUCT.id) == ["v000001"]
    assert lake.current_version(PRODUCT.id) == "v000001"
    assert [
        p.name for p in lake.snapshot_root(PRODUCT.id).iterdir() if p.name.startswith(".")
    ] == []
