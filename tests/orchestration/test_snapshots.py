"""Publishing snapshots: whole versions only, CURRENT moves only on success."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration.lib.snapshots import publish_snapshot
from tollgate.catalog import get_catalog
from tollgate.lake import Lake

PRODUCT = get_catalog().product("market-trends")
NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def _writer(rows: int, newest: date = date(2026, 11, 21)):
    def write(path):
        columns = {c: pa.nulls(rows, pa.string()) for c in PRODUCT.column_names}
        columns[PRODUCT.time_column] = pa.array([newest] * rows, pa.date32())
        pq.write_table(pa.table(columns), path)

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

    assert (first.version, second.version) == ("v000001", "v000002")
    assert lake.current_version(PRODUCT.id) == "v000002"
    manifest = lake.read_manifest(PRODUCT.id, "v000001")
    assert manifest == first
    assert manifest.row_count == 3
    assert manifest.source_partitions == ["2026-11-20", "2026-11-21"]
    assert manifest.created_at == NOW
    assert manifest.schema_version == PRODUCT.schema_version.version
    data = (lake.snapshot_dir(PRODUCT.id, "v000001") / "data.parquet").read_bytes()
    assert manifest.checksum == "sha256:" + hashlib.sha256(data).hexdigest()
    assert [c.name for c in manifest.columns] == PRODUCT.column_names
    raw = json.loads((lake.snapshot_dir(PRODUCT.id, "v000001") / "manifest.json").read_text())
    assert raw["created_at"] == "2026-11-24T08:00:00Z"
    assert set(raw) == {
        "product_id",
        "version",
        "schema_version",
        "row_count",
        "checksum",
        "source_partitions",
        "quality",
        "created_at",
        "watermark_at",
        "columns",
    }


def test_the_watermark_is_the_newest_data_time_not_the_publish_time(settings):
    """A backfill of old days publishes old data: its manifest says how old, so the API's
    freshness is the data's age, not the seconds since publishing."""
    lake = Lake.from_settings(settings)
    quality = {"passed": True, "checks": {}}
    old = publish_snapshot(lake, PRODUCT, _writer(2, date(2013, 5, 1)), [], quality, now=NOW)
    # A day's row holds data up to the end of that day...
    assert old.watermark_at == datetime(2013, 5, 2, tzinfo=UTC)
    # ...or up to when the mart was built, for a day that was not over then.
    built = datetime(2026, 11, 24, 7, 30, tzinfo=UTC)
    today = publish_snapshot(
        lake, PRODUCT, _writer(2, date(2026, 11, 24)), [], quality, now=NOW, built_at=built
    )
    assert today.watermark_at == built
    assert lake.read_manifest(PRODUCT.id, today.version).watermark_at == built
    empty = publish_snapshot(lake, PRODUCT, _writer(0), [], quality, now=NOW)
    assert empty.watermark_at is None


def test_the_watermark_is_read_from_row_group_statistics_or_else_the_column(settings):
    """Several row groups: the newest day is in the last one. Without statistics the
    manifest reads the column and says the same."""
    lake = Lake.from_settings(settings)
    quality = {"passed": True, "checks": {}}

    def days(**options):
        def write(path):
            columns = {c: pa.nulls(4, pa.string()) for c in PRODUCT.column_names}
            newest = [date(2026, 11, d) for d in (3, 1, 20, 2)]
            columns[PRODUCT.time_column] = pa.array(newest, pa.date32())
            pq.write_table(pa.table(columns), path, row_group_size=1, **options)

        return write

    with_stats = publish_snapshot(lake, PRODUCT, days(), [], quality, now=NOW)
    without = publish_snapshot(lake, PRODUCT, days(write_statistics=False), [], quality, now=NOW)
    assert with_stats.watermark_at == without.watermark_at == datetime(2026, 11, 21, tzinfo=UTC)


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
