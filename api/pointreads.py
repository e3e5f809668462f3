"""Primary-key reads of the live store on SQLite, without SQLAlchemy's per-call machinery.

A lookup through SQLAlchemy (pool checkout, execution context, result proxy, reset on
return) took about 0.1 ms of CPU, several times the read itself. Here each product and
shape of filter is compiled once by SQLAlchemy from the same tables and conditions; its
SQL then runs on a DB-API connection each thread keeps (sqlite3 caches the prepared
statement), and values pass through the column types' own bind and result processors,
so rows come back exactly as a SQLAlchemy read returns them. Every read is its own
statement outside any transaction: in WAL mode it sees every commit made before it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, bindparam, select

from tollgate.catalog import Product
from tollgate.livestore import LiveStore

_Processor = Callable[[Any], Any] | None


class _Prepared:
    def __init__(self, sql: str, binds: list[_Processor], columns: list[tuple[str, _Processor]]):
        self.sql, self.binds, self.columns = sql, binds, columns


class SqlitePointReads:
    def __init__(self, engine: Engine, store: LiveStore) -> None:
        self.engine, self.store = engine, store
        self._prepared: dict[tuple[str, int, bool], _Prepared] = {}
        self._local = threading.local()
        self._held: list[Any] = []  # every thread's connection, returned to the pool on close
        self._lock = threading.Lock()

    def lookup(
        self, product: Product, key: str, regions: list[str] | None, not_after: datetime | None
    ) -> dict[str, Any] | None:
        """The row of `product` with `key`, among `regions` (sorted; None: all) and event
        times up to `not_after` (None: any), as SQLAlchemy would return it."""
        shape = (product.id, -1 if regions is None else len(regions), not_after is not None)
        prepared = self._prepared.get(shape)
        if prepared is None:
            prepared = self._prepared[shape] = self._prepare(product, *shape[1:])
        values = [key, *(regions or ()), *([not_after] if not_after is not None else ())]
        binds = zip(prepared.binds, values, strict=True)
        params = [v if bind is None else bind(v) for bind, v in binds]
        conn = getattr(self._local, "conn", None) or self._connect()
        row = conn.execute(prepared.sql, params).fetchone()
        if row is None:
            return None
        return {
            name: v if result is None or v is None else result(v)
            for (name, result), v in zip(prepared.columns, row, strict=True)
        }

    def _prepare(self, product: Product, regions: int, bounded: bool) -> _Prepared:
        table = self.store.table(product.id)
        key, dialect = table.c[product.key_column], self.engine.dialect
        # Values only to compile with (rendering the regions' parameters needs some).
        stmt = select(table).where(key == bindparam("key", ""))
        bound = [key]
        if regions >= 0:
            column = table.c[product.region_column]
            # Rendered with one parameter per region: the shape fixes their number.
            stmt = stmt.where(column.in_(bindparam("regions", [""] * regions, expanding=True)))
            bound += [column] * regions
        if bounded:
            column = table.c[product.time_column]
            stmt = stmt.where(column <= bindparam("not_after", datetime.now(UTC)))
            bound.append(column)
        compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        if len(compiled.positiontup or ()) != len(bound):
            raise RuntimeError(f"unexpected parameters in {compiled.string!r}")
        binds = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in bound]
        columns = [
            (c.name, c.type.dialect_impl(dialect).result_processor(dialect, None))
            for c in table.columns
        ]
        return _Prepared(compiled.string, binds, columns)

    def _connect(self) -> Any:
        fairy = self.engine.raw_connection()  # with the engine's pragmas (WAL, busy timeout)
        with self._lock:
            self._held.append(fairy)
        self._local.conn = fairy.driver_connection
        return self._local.conn

    def close(self) -> None:
        with self._lock:
            held, self._held = self._held, []
        for fairy in held:
            fairy.close()
        self._local = threading.local()
