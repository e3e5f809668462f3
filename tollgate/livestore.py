"""The live store: one table per live product, keyed upserts, and per-product watermarks.

Tables are derived from the catalog (the product's `source` names the table, its columns
the columns, its key column the primary key), so the stream lane that writes them and the
API that reads them cannot disagree. SQLite (WAL) by default, PostgreSQL in production.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    Engine,
    Float,
    Index,
    MetaData,
    String,
    Table,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from tollgate.catalog import Catalog, Product
from tollgate.db.bulk import BulkInsert
from tollgate.db.models import UTCDateTime

WATERMARKS_TABLE = "live_watermarks"
_CREATE_LOCK_KEY = 0x7467_6C63  # "tglc": held while the live store's tables are created

_TYPES = {
    "string": lambda: String(256),
    "integer": BigInteger,
    "double": Float,
    "boolean": Boolean,
    "timestamp": UTCDateTime,
    "date": Date,
}


class LiveStore:
    """The live store's schema for one catalog."""

    def __init__(self, catalog: Catalog):
        self.metadata = MetaData()
        self.tables: dict[str, Table] = {
            p.id: _product_table(self.metadata, p) for p in catalog.live_products()
        }
        self.watermarks = Table(
            WATERMARKS_TABLE,
            self.metadata,
            Column("product_id", String(64), primary_key=True),
            # Highest event time the product has accounted for: freshness is now minus this.
            Column("watermark_at", UTCDateTime, nullable=False),
            Column("processed_at", UTCDateTime, nullable=False),
        )

    def create_all(self, engine: Engine) -> None:
        """Create the missing tables; safe when several processes start together."""
        attempts = 10
        for attempt in range(attempts):
            try:
                with engine.begin() as conn:
                    if conn.dialect.name == "postgresql":
                        # One creator at a time: two concurrent CREATE TABLEs of one name
                        # fail in PostgreSQL's catalog even with IF NOT EXISTS.
                        conn.execute(select(func.pg_advisory_xact_lock(_CREATE_LOCK_KEY)))
                    self.metadata.create_all(conn)
                return
            except OperationalError:
                # SQLite: another process created a table between our check and our CREATE.
                # Each CREATE commits on its own there, so a racing creator can get ahead
                # once per table: try again, checking afresh, until none is missing.
                if engine.dialect.name != "sqlite" or attempt == attempts - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def table(self, product_id: str) -> Table:
        return self.tables[product_id]


def upsert(conn: Connection, table: Table, rows: Sequence[dict]) -> None:
    """Insert rows, replacing any with the same primary key: replaying a batch changes nothing."""
    if not rows:
        return
    columns = tuple(rows[0])
    # Compiled once per (dialect, columns) and kept with the table: the stream lane upserts
    # every batch, and SQLAlchemy's per-value processing was most of a batch's cost.
    upserts = table.info.setdefault("upserts", {})
    write = upserts.get((conn.dialect.name, columns))
    if write is None:
        statement = _upsert_statement(conn, table, columns)
        write = upserts[(conn.dialect.name, columns)] = BulkInsert(statement, columns)
    write(conn, list(rows))


def _upsert_statement(conn: Connection, table: Table, columns: Sequence[str]):
    dialect = conn.dialect.name
    if dialect == "postgresql":
        stmt = postgresql.insert(table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table)
    else:
        raise NotImplementedError(f"live store on {dialect} is not supported")
    keys = [c.name for c in table.primary_key.columns]
    updates = {c: stmt.excluded[c] for c in columns if c not in keys}
    return stmt.on_conflict_do_update(index_elements=keys, set_=updates)


def _product_table(metadata: MetaData, product: Product) -> Table:
    columns = [
        Column(
            c.name,
            _TYPES[c.type](),
            primary_key=c.name == product.key_column,
            nullable=c.name != product.key_column,
        )
        for c in product.columns
    ]
    table = Table(product.source, metadata, *columns)
    # The API's recent-records cursor and the push feed both walk processed_at.
    if "processed_at" in product.column_names:
        Index(
            f"ix_{product.source}_processed_at", table.c.processed_at, table.c[product.key_column]
        )
    Index(f"ix_{product.source}_time", table.c[product.time_column])
    return table
