"""The response contract of every product route (DESIGN.md decision 6)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field


class Coverage(BaseModel):
    regions: list[str] = Field(description="Regions whose rows this answer may contain")
    time_from: str | None = Field(description="Earliest event time/date in the data")
    time_to: str | None = Field(description="Latest event time/date in the data")


class Quality(BaseModel):
    status: Literal["healthy", "degraded", "halted"]
    reason: str | None = None
    served_version: str | None = Field(default=None, description="Snapshot version served (batch)")
    failed_version: str | None = Field(default=None, description="Version the quality gate refused")


class Metadata(BaseModel):
    freshness_seconds: float | None = Field(
        description="Now minus the watermark: the age of the newest data this answer may hold"
    )
    watermark_at: str | None = Field(
        description="The data's own newest time (live: the stream's watermark; batch: the "
        "newest data time in the snapshot served)"
    )
    freshness_sla_seconds: int
    status: Literal["healthy", "stale", "degraded", "halted"] = Field(
        description="Decided when the answer is made: stale when freshness_seconds is over "
        "the SLA (or there is no data yet), degraded when the quality gate refused newer data"
    )
    status_reason: str | None = None
    coverage: Coverage
    quality: Quality
    cache: Literal["hit", "miss"]
    delay_seconds: int = Field(
        description="The tier's delay: this tenant sees data this much later than it happened"
    )
    sample_fraction: float = Field(description="The tier's share of batch rows (1: every row)")


class _Envelope(BaseModel):
    api_version: str = Field(examples=["2.1"])
    product_id: str = Field(examples=["transaction-risk"])
    data_schema_version: str = Field(examples=["1.3"])
    backward_compatible_until: date | None
    metadata: Metadata


class RecordResponse(_Envelope):
    data: dict[str, Any]


class PageResponse(_Envelope):
    data: list[dict[str, Any]]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


_EXAMPLE_META = {
    "freshness_seconds": 1.8,
    "watermark_at": "2026-11-24T08:00:00+00:00",
    "freshness_sla_seconds": 5,
    "status": "healthy",
    "status_reason": None,
    "coverage": {
        "regions": ["EU"],
        "time_from": "2026-11-24T07:59:58+00:00",
        "time_to": "2026-11-24T07:59:58+00:00",
    },
    "quality": {"status": "healthy"},
    "cache": "miss",
    "delay_seconds": 0,
    "sample_fraction": 1.0,
}
RECORD_EXAMPLE = {
    "api_version": "2.1",
    "product_id": "transaction-risk",
    "data_schema_version": "1.3",
    "backward_compatible_until": "2027-12-31",
    "metadata": _EXAMPLE_META,
    "data": {
        "transaction_id": "t-000001",
        "region": "EU",
        "fraud_score": 0.91,
        "risk_level": "critical",
    },
}
PAGE_EXAMPLE = {**RECORD_EXAMPLE, "data": [RECORD_EXAMPLE["data"]], "next_cursor": None}


def _header(description: str, required: bool = True) -> dict:
    return {"description": description, "required": required, "schema": {"type": "string"}}


# The headers of a product answer (REST, live and batch), documented on each route's 200.
ANSWER_HEADERS = {
    "X-Request-ID": _header("This request's id, as the request log and support know it"),
    "X-Delivery-ID": _header("This answer's id in the tenant's usage and invoices"),
    "X-API-Version": _header("The API's version"),
    "X-Data-Schema-Version": _header("The product schema version the data is shaped to"),
    "X-Data-Freshness": _header(
        "Whole seconds since the product's watermark, or `unknown` before the first data"
    ),
    "X-Data-Status": _header(
        "`healthy`, `stale`, `degraded` or `halted`: the product's status against its SLA"
    ),
    "X-Data-Quality": _header(
        "The quality gate's verdict on the data: `healthy`, `degraded` or `halted`"
    ),
    "X-Cache": _header("`hit` when the answer came from the tier's cache, else `miss`"),
    "X-Data-Delay": _header("Seconds the tier's view lags real time (a trial's delay), or 0"),
    "X-Data-Sample": _header("The fraction of rows the tier's view holds (1 = all)"),
    "RateLimit-Limit": _header("Requests the tier allows per hour"),
    "RateLimit-Remaining": _header("Requests left in the current window"),
    "RateLimit-Reset": _header("Seconds until the window frees a request"),
    "Deprecation": _header(
        "RFC 9745: the schema version asked for has a successor since this moment (`@epoch`)",
        required=False,
    ),
    "Sunset": _header(
        "RFC 8594: the HTTP-date after which the schema version asked for is retired",
        required=False,
    ),
    "Link": _header(
        'With Deprecation: `</v1/products/{id}>; rel="deprecation"`, the product\'s versions',
        required=False,
    ),
}
