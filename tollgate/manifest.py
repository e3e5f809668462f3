"""The snapshot manifest: what a published batch version holds, written beside its data.

Publishing writes it (orchestration); the API and exports read it. Both sides use this one
class, so a field one side reads and the other never writes cannot happen.

`watermark_at` is the newest data time in the snapshot, not when it was published: a
backfill of old days publishes old data, and its freshness says so.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_serializer, field_validator


class ManifestColumn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    type: str


class SnapshotManifest(BaseModel):
    """One published version of a batch product."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    product_id: str
    version: str
    schema_version: str
    row_count: int
    checksum: str
    source_partitions: list[str]
    quality: dict
    created_at: datetime
    # Newest data time in the snapshot (None: no rows); freshness is now minus this.
    watermark_at: datetime | None
    columns: list[ManifestColumn]

    @field_validator("created_at", "watermark_at")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        if v is None:
            return None
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)

    @field_serializer("created_at", "watermark_at")
    def _iso_z(self, v: datetime | None) -> str | None:
        return v.isoformat().replace("+00:00", "Z") if v is not None else None

    @classmethod
    def read(cls, path: Path) -> SnapshotManifest:
        return cls.model_validate_json(path.read_text())

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"


def data_time(value: date | datetime) -> datetime:
    """The instant a row's time value stands for: a timestamp is itself; a day's row holds
    data up to the end of that day (UTC)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.combine(value + timedelta(days=1), time.min, UTC)


def newest_data_time(newest: date | datetime | None, built_at: datetime) -> datetime | None:
    """The watermark of data whose newest time value is `newest`, built at `built_at`.

    A day not over yet when it was built holds data up to the build at most, not up to its
    end; nor can any row be newer than the build that read it.
    """
    if newest is None:
        return None
    return min(data_time(newest), built_at.astimezone(UTC))
