"""Live products' freshness: how old each product's watermark in the live store is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from tollgate.catalog import Catalog, Product
from tollgate.db.engine import engine_for
from tollgate.livestore import LiveStore

# Past this many SLAs behind, the stream is not late but stopped.
HALTED_AFTER_SLAS = 10


@dataclass(frozen=True)
class LiveFreshness:
    status: str  # healthy | degraded | halted
    lag_seconds: float | None
    reason: str | None


def classify(product: Product, watermark_at: datetime | None, now: datetime) -> LiveFreshness:
    sla = product.freshness_sla_seconds
    if watermark_at is None:
        return LiveFreshness("halted", None, "no watermark: the stream lane has not produced it")
    lag = max(0.0, (now - watermark_at.astimezone(UTC)).total_seconds())
    if lag <= sla:
        return LiveFreshness("healthy", lag, None)
    if lag <= HALTED_AFTER_SLAS * sla:
        return LiveFreshness("degraded", lag, f"watermark {lag:.0f}s old, SLA is {sla}s")
    return LiveFreshness(
        "halted", lag, f"watermark {lag:.0f}s old, over {HALTED_AFTER_SLAS}x the {sla}s SLA"
    )


def read_watermarks(live_store_url: str, catalog: Catalog) -> dict[str, datetime]:
    store = LiveStore(catalog)
    engine = engine_for(live_store_url)
    store.create_all(engine)
    with engine.connect() as conn:
        rows = conn.execute(select(store.watermarks.c.product_id, store.watermarks.c.watermark_at))
        return {product_id: at for product_id, at in rows}
