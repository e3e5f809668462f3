"""A product's status, decided at answer time from its data's watermark and its SLA.

Every channel (REST answers, push streams, exports) and the batch lane's checks decide
status with `decide`, so they cannot disagree, and no scheduler has to run for an answer
to say its data is late: the watermark is read when the answer is made.

- healthy   the watermark is within the product's freshness SLA and its quality gate passed
- stale     the watermark is older than the SLA, or there is none yet (the product has
            produced no data since it started); the data is still served, and says so
- degraded  the quality gate refused the newest data: the last good data is served
- halted    the quality gate stopped delivery: answers are refused (503 product_halted)

Lateness alone never halts a product: an old answer that says how old it is beats none.
The watermark is the data's own newest time: for a batch product the newest data time in
the snapshot served (`SnapshotManifest.watermark_at`), for a live product the newest event
time the stream lane has accounted for (the live store's watermark).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Engine, select

from tollgate.catalog import Product
from tollgate.lake import Lake
from tollgate.livestore import LiveStore

Status = Literal["healthy", "stale", "degraded", "halted"]
QualityStatus = Literal["healthy", "degraded", "halted"]


@dataclass(frozen=True)
class QualityVerdict:
    """What the quality gate last recorded for a product (healthy until it reports)."""

    status: QualityStatus = "healthy"
    reason: str | None = None
    current_version: str | None = None  # batch: the last version that passed
    failed_version: str | None = None  # batch: the version the gate refused


HEALTHY = QualityVerdict()


@dataclass(frozen=True)
class ProductStatus:
    """A product's status at one instant, with what it was decided from."""

    product_id: str
    status: Status
    reason: str | None
    watermark_at: datetime | None
    freshness_seconds: float | None  # now minus the watermark (None: no watermark)
    sla_seconds: int
    quality: QualityVerdict

    @property
    def within_sla(self) -> bool:
        return self.freshness_seconds is not None and self.freshness_seconds <= self.sla_seconds


def freshness_of(watermark_at: datetime | None, now: datetime) -> float | None:
    """Seconds from the watermark to `now` (never negative); None without a watermark."""
    if watermark_at is None:
        return None
    at = watermark_at if watermark_at.tzinfo else watermark_at.replace(tzinfo=UTC)
    return max(0.0, (now - at).total_seconds())


def decide(
    product: Product,
    watermark_at: datetime | None,
    now: datetime,
    quality: QualityVerdict = HEALTHY,
) -> ProductStatus:
    """The product's status at `now`: halted > stale > degraded > healthy."""
    sla = product.freshness_sla_seconds
    lag = freshness_of(watermark_at, now)
    status: Status
    if quality.status == "halted":
        status, reason = "halted", quality.reason or "the quality gate stopped delivery"
    elif lag is None:
        status, reason = "stale", "no data yet: the product has no watermark"
    elif lag > sla:
        status, reason = "stale", f"data {lag:.0f}s old, over the {sla}s freshness SLA"
    elif quality.status == "degraded":
        status, reason = "degraded", quality.reason
    else:
        status, reason = "healthy", None
    return ProductStatus(product.id, status, reason, watermark_at, lag, sla, quality)


def live_watermark(engine: Engine, store: LiveStore, product_id: str) -> datetime | None:
    """The newest event time the stream lane has accounted for in a live product."""
    wm = store.watermarks
    with engine.connect() as conn:
        return conn.execute(select(wm.c.watermark_at).where(wm.c.product_id == product_id)).scalar()


def batch_watermark(lake: Lake, product_id: str, version: str | None = None) -> datetime | None:
    """The newest data time in a batch product's snapshot (default: the current one)."""
    version = version or lake.current_version(product_id)
    if version is None:
        return None
    return lake.read_manifest(product_id, version).watermark_at
