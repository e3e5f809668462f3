"""Reads of the live store: lookups, recent pages, the change feed and watermarks.

Queries are SQLAlchemy Core over the tables `tollgate.livestore.LiveStore` derives from the
catalog, so every value is a bound parameter and every identifier comes from the catalog.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, and_, bindparam, or_, select

from api.pointreads import SqlitePointReads
from tollgate.catalog import Product
from tollgate.livestore import LiveStore
from tollgate.status import live_watermark

Position = tuple[datetime, str]  # (processed_at, key): a total order over a product's rows


_DATES = (datetime, date)


def to_json_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, _DATES) else v for k, v in row.items()}


def order_column(product: Product) -> str:
    return "processed_at" if product.column("processed_at") else product.time_column


class LiveReader:
    def __init__(self, engine: Engine, store: LiveStore):
        self.engine, self.store = engine, store
        # Lookup statements, built once per product and shape of filter: SQLAlchemy then
        # reuses their cache key and compiled form instead of rebuilding both per request.
        self._lookups: dict[tuple[str, bool, bool], Any] = {}
        self._point_reads = (
            SqlitePointReads(engine, store) if engine.dialect.name == "sqlite" else None
        )

    def watermark(self, product_id: str) -> datetime | None:
        return live_watermark(self.engine, self.store, product_id)

    def _scoped(
        self, product: Product, stmt, regions: Collection[str] | None, not_after: datetime | None
    ):
        table = self.store.table(product.id)
        if regions is not None and product.region_column:
            stmt = stmt.where(table.c[product.region_column].in_(sorted(regions)))
        if not_after is not None:
            stmt = stmt.where(table.c[product.time_column] <= not_after)
        return stmt

    def lookup(
        self,
        product: Product,
        key: str,
        regions: Collection[str] | None,
        not_after: datetime | None,
    ) -> dict[str, Any] | None:
        scoped = sorted(regions) if regions is not None and product.region_column else None
        if self._point_reads is not None:
            return self._point_reads.lookup(product, key, scoped, not_after)
        shape = (product.id, scoped is not None, not_after is not None)
        stmt = self._lookups.get(shape)
        if stmt is None:
            stmt = self._lookups[shape] = _lookup_statement(self.store, product, *shape[1:])
        params: dict[str, Any] = {"key": key}
        if scoped is not None:
            params["regions"] = scoped
        if not_after is not None:
            params["not_after"] = not_after
        with self.engine.connect() as conn:
            row = conn.execute(stmt, params).mappings().first()
        return dict(row) if row else None

    def close(self) -> None:
        if self._point_reads is not None:
            self._point_reads.close()

    def recent(
        self,
        product: Product,
        regions: Collection[str] | None,
        not_after: datetime | None,
        since: datetime | None,
        until: datetime | None,
        before: Position | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], Position | None]:
        """Newest first; `before` continues a previous page. Returns rows and the next position."""
        table = self.store.table(product.id)
        order, key = table.c[order_column(product)], table.c[product.key_column]
        stmt = self._scoped(product, select(table), regions, not_after)
        if since is not None:
            stmt = stmt.where(table.c[product.time_column] >= since)
        if until is not None:
            stmt = stmt.where(table.c[product.time_column] < until)
        if before is not None:
            stmt = stmt.where(or_(order < before[0], and_(order == before[0], key < before[1])))
        stmt = stmt.order_by(order.desc(), key.desc()).limit(limit + 1)
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(stmt).mappings()]
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1] if more else None
        return rows, ((last[order.name], last[key.name]) if last else None)

    def changes_after(
        self, product: Product, after: Position | None, limit: int
    ) -> list[dict[str, Any]]:
        """Rows written after `after`, oldest first: the feed the push watcher tails."""
        table = self.store.table(product.id)
        order, key = table.c[order_column(product)], table.c[product.key_column]
        stmt = select(table)
        if after is not None:
            stmt = stmt.where(or_(order > after[0], and_(order == after[0], key > after[1])))
        stmt = stmt.order_by(order, key).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]

    def latest_position(self, product: Product) -> Position | None:
        table = self.store.table(product.id)
        order, key = table.c[order_column(product)], table.c[product.key_column]
        with self.engine.connect() as conn:
            row = conn.execute(
                select(order, key).order_by(order.desc(), key.desc()).limit(1)
            ).first()
        return (row[0], row[1]) if row else None


def _lookup_statement(store: LiveStore, product: Product, scoped: bool, bounded: bool):
    table = store.table(product.id)
    stmt = select(table).where(table.c[product.key_column] == bindparam("key"))
    if scoped:
        stmt = stmt.where(table.c[product.region_column].in_(bindparam("regions", expanding=True)))
    if bounded:
        stmt = stmt.where(table.c[product.time_column] <= bindparam("not_after"))
    return stmt
