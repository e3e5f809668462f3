"""Live products' watermarks in the live store, for the freshness checks' history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from tollgate.catalog import Catalog
from tollgate.db.engine import engine_for
from tollgate.livestore import LiveStore


def read_watermarks(live_store_url: str, catalog: Catalog) -> dict[str, datetime]:
    store = LiveStore(catalog)
    engine = engine_for(live_store_url)
    store.create_all(engine)
    with engine.connect() as conn:
        rows = conn.execute(select(store.watermarks.c.product_id, store.watermarks.c.watermark_at))
        return {product_id: at for product_id, at in rows}
