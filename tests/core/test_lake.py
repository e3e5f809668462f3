from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from tollgate.lake import Lake, utc_hour
from tollgate.manifest import SnapshotManifest


@pytest.fixture
def lake(settings) -> Lake:
    return Lake.from_settings(settings)


def test_landing_files_are_hive_partitioned_and_deterministic(lake):
    path = lake.landing_file("card_transactions", date(2026, 11, 23), 7, "w0", 42)
    rel = path.relative_to(lake.root).as_posix()
    assert rel == (
        "landing/card_transactions/event_date=2026-11-23/event_hour=07/part-w0-000000000042.parquet"
    )
    assert path == lake.landing_file("card_transactions", date(2026, 11, 23), 7, "w0", 42)


@pytest.mark.parametrize("writer", ["../x", "a/b", "", ".."])
def test_path_parts_from_outside_are_refused(lake, writer):
    with pytest.raises(ValueError):
        lake.landing_file("behavior_events", date(2026, 1, 1), 0, writer, 1)
    with pytest.raises(ValueError):
        lake.export_file(writer or "..", "exp", "csv")


def test_unknown_dataset_is_refused(lake):
    with pytest.raises(ValueError, match="unknown landing dataset"):
        lake.landing_dir("clicks")


def test_utc_hour_converts_offsets():
    ts = datetime(2026, 11, 24, 1, 30, tzinfo=timezone(timedelta(hours=3)))
    assert utc_hour(ts) == (date(2026, 11, 23), 22)


def _publish(lake: Lake, product: str, text: str) -> str:
    version = lake.next_snapshot_version(product)
    d = lake.snapshot_dir(product, version)
    d.mkdir(parents=True)
    (d / "data.parquet").write_text(text)
    manifest = SnapshotManifest(
        product_id=product,
        version=version,
        schema_version="1.0",
        row_count=0,
        checksum="sha256:-",
        source_partitions=[],
        quality={"passed": True},
        created_at=datetime(2026, 11, 24, 8, tzinfo=UTC),
        watermark_at=None,
        columns=[],
    )
    (d / "manifest.json").write_text(manifest.to_json())
    return version


def test_snapshot_versions_and_current_pointer(lake):
    assert lake.current_version("market-trends") is None
    assert lake.current_snapshot("market-trends") is None
    v1 = _publish(lake, "market-trends", "one")
    assert v1 == "v000001"
    lake.set_current("market-trends", v1)
    v2 = _publish(lake, "market-trends", "two")
    assert v2 == "v000002"
    # Publishing a version does not make it current: only the pointer swap does.
    assert lake.current_version("market-trends") == v1
    lake.set_current("market-trends", v2)
    assert lake.current_version("market-trends") == v2
    assert lake.read_manifest("market-trends", v2).version == "v000002"
    assert lake.snapshot_versions("market-trends") == [v1, v2]


def test_a_version_without_manifest_cannot_become_current(lake):
    version = lake.next_snapshot_version("market-trends")
    lake.snapshot_dir("market-trends", version).mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no manifest"):
        lake.set_current("market-trends", version)
    assert lake.current_version("market-trends") is None
    # A half-written version is not listed, and its number is not reused.
    assert lake.snapshot_versions("market-trends") == []
    assert lake.next_snapshot_version("market-trends") == "v000002"
