"""Request and response models of the export routes, with their OpenAPI examples."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.deps import IsoDate

FilterValue = str | int | float | bool


class ExportRequest(BaseModel):
    product_id: str = Field(max_length=64, examples=["customer-behavior-daily"])
    format: Literal["csv", "parquet", "jsonl"] = "csv"
    date_from: IsoDate | None = Field(default=None, description="Inclusive, on the time column")
    date_to: IsoDate | None = Field(default=None, description="Inclusive")
    filters: dict[str, FilterValue | list[FilterValue]] = Field(
        default_factory=dict, max_length=10, description="column -> value or list of values"
    )
    columns: list[str] | None = Field(default=None, max_length=100)
    region: str | None = Field(default=None, min_length=1, max_length=32)


class ExportData(BaseModel):
    """What the export holds: the snapshot, how fresh its data is, and the tenant's view."""

    snapshot_version: str
    watermark_at: datetime | None = Field(description="Newest data time in the snapshot")
    freshness_seconds: float | None = Field(description="Now minus watermark_at")
    freshness_sla_seconds: int
    status: Literal["healthy", "stale", "degraded", "halted"]
    status_reason: str | None = None
    regions: list[str] = Field(description="Regions whose rows the file may hold")
    delay_seconds: int = Field(description="The tier's delay: rows up to this long ago only")
    sample_fraction: float = Field(description="The tier's share of rows (1: every row)")


class ExportStatus(BaseModel):
    id: str = Field(examples=["exp_3f2a9c0d1e7b4a5c6d8e"])
    product_id: str
    format: str
    status: Literal["queued", "running", "succeeded", "failed"]
    rows_total: int | None
    rows_done: int
    progress: float = Field(description="rows_done / rows_total, 0..1")
    bytes: int | None
    checksum_sha256: str | None
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None
    error: str | None
    download_url: str | None = Field(description="Signed link, valid until expires_at")
    data_schema_version: str = Field(
        examples=["1.0"], description="The schema version whose columns the file holds"
    )
    metadata: ExportData


EXAMPLE = {
    "id": "exp_3f2a9c0d1e7b4a5c6d8e",
    "product_id": "customer-behavior-daily",
    "format": "parquet",
    "status": "succeeded",
    "rows_total": 120000,
    "rows_done": 120000,
    "progress": 1.0,
    "bytes": 2483011,
    "checksum_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "created_at": "2026-11-24T08:00:00Z",
    "finished_at": "2026-11-24T08:00:04Z",
    "expires_at": "2026-12-01T08:00:04Z",
    "error": None,
    "download_url": "/v1/exports/exp_3f2a9c0d1e7b4a5c6d8e/download"
    "?expires=1796112004&signature=ab12",
    "data_schema_version": "1.0",
    "metadata": {
        "snapshot_version": "v000012",
        "watermark_at": "2026-11-24T00:00:00Z",
        "freshness_seconds": 28804.2,
        "freshness_sla_seconds": 93600,
        "status": "healthy",
        "status_reason": None,
        "regions": ["US-West", "US-East", "EU", "APAC"],
        "delay_seconds": 0,
        "sample_fraction": 1.0,
    },
}
STATUS_DOC = {"content": {"application/json": {"example": EXAMPLE}}}
