"""Reading marts out of the warehouse file, which only the batch lane opens.

DuckDB lets one process write a file; readers here open it read-only and retry briefly
when a dbt run in another process holds the lock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from tollgate.catalog import Product

LOCK_RETRIES = 20
LOCK_WAIT_SECONDS = 0.5


def open_read_only(path: Path | str) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the warehouse in UTC, waiting out a writer's lock.

    Every reader in a process opens the file with this same configuration: DuckDB refuses
    a second connection to one file with a different one."""
    for attempt in range(LOCK_RETRIES):
        try:
            conn = duckdb.connect(str(path), read_only=True)
            break
        except duckdb.IOException:
            if attempt == LOCK_RETRIES - 1:
                raise
            time.sleep(LOCK_WAIT_SECONDS)
    conn.execute("SET TimeZone = 'UTC'")
    return conn


@contextmanager
def warehouse_reader(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = open_read_only(path)
    try:
        yield conn
    finally:
        conn.close()


class MartMismatch(Exception):
    """A sold mart lacks columns its product declares in the catalog."""


def mart_relation(conn: duckdb.DuckDBPyConnection, product: Product, columns: list[str]):
    """The mart's rows in the catalog's column order (identifiers come from the catalog);
    raises MartMismatch naming the product and the columns its mart lacks."""
    relation = conn.table(product.source)
    missing = [c for c in product.column_names if c not in relation.columns]
    if missing:
        listed = ", ".join(repr(c) for c in missing)
        raise MartMismatch(
            f"{product.id}: catalog.yaml declares column {listed} but the mart "
            f"{product.source} does not have it; add it to the model or remove it from "
            "the catalog"
        )
    return relation.select(*columns)
