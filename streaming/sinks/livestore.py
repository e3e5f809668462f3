"""The live store sink: keyed upserts of product rows plus a watermark per product."""

from __future__ import annotations

from datetime import datetime

from bytewax.outputs import DynamicSink, StatelessSinkPartition
from sqlalchemy import Connection, Engine, false, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from streaming import metrics
from tollgate.catalog import Catalog
from tollgate.clock import utcnow
from tollgate.db.engine import make_engine
from tollgate.livestore import LiveStore, upsert

LiveBatch = tuple[str, list[dict], datetime]  # (product_id, rows, watermark_at)


class LiveStoreSink(DynamicSink[LiveBatch]):
    """Writes product rows to the live store.

    Delivery: at-least-once, effectively exactly-once. Rows are upserted by the product's
    key, so rows replayed after a crash overwrite themselves with the same values (only
    processed_at moves). The watermark of a product only ever moves forward. Each batch is
    one transaction: readers see all of it or none of it.
    """

    def __init__(self, url: str, catalog: Catalog):
        self.url = url
        self.store = LiveStore(catalog)

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _LivePartition:
        return _LivePartition(make_engine(self.url), self.store)


class _LivePartition(StatelessSinkPartition[LiveBatch]):
    def __init__(self, engine: Engine, store: LiveStore):
        self.engine = engine
        self.store = store

    def write_batch(self, items: list[LiveBatch]) -> None:
        with self.engine.begin() as conn:
            # processed_at is stamped only once this writer holds the store's write lock, so
            # stamps follow commit order across workers: the push watcher tails rows by
            # processed_at and would skip a row committed after a later-stamped one.
            _lock_store(conn, self.store)
            now = utcnow()
            rows_by_product: dict[str, dict] = {}
            marks: dict[str, datetime] = {}
            for product_id, rows, watermark in items:
                key = self.store.table(product_id).primary_key.columns[0].name
                keyed = rows_by_product.setdefault(product_id, {})
                # One statement may not touch a key twice (PostgreSQL): the later row wins.
                for row in rows:
                    keyed[row[key]] = {**row, "processed_at": now}
                if product_id not in marks or watermark > marks[product_id]:
                    marks[product_id] = watermark
            for product_id, keyed in rows_by_product.items():
                upsert(conn, self.store.table(product_id), list(keyed.values()))
            self._advance_watermarks(conn, marks, now)
        for product_id, watermark in marks.items():
            metrics.WATERMARK_LAG.labels(product_id).set((now - watermark).total_seconds())

    def _advance_watermarks(self, conn, marks: dict[str, datetime], now: datetime) -> None:
        if not marks:
            return
        table = self.store.watermarks
        dialect = conn.dialect.name
        stmt = (postgresql if dialect == "postgresql" else sqlite).insert(table)
        newest = func.greatest if dialect == "postgresql" else func.max
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.product_id],
            set_={
                "watermark_at": newest(table.c.watermark_at, stmt.excluded.watermark_at),
                "processed_at": stmt.excluded.processed_at,
            },
        )
        rows = [
            {"product_id": p, "watermark_at": w, "processed_at": now}
            for p, w in sorted(marks.items())
        ]
        conn.execute(stmt, rows)

    def close(self) -> None:
        self.engine.dispose()


_PG_LOCK_KEY = 0x7467_6C76  # "tglv": the live store's writers' advisory lock


def _lock_store(conn: Connection, store: LiveStore) -> None:
    """Hold the live store's write lock until this transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
    else:
        # SQLite takes its one write lock at a transaction's first write; this one changes
        # nothing but takes it now.
        wm = store.watermarks
        conn.execute(update(wm).where(false()).values(product_id=wm.c.product_id))
