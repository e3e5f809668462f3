"""The warehouse as a SQLAlchemy database, for Great Expectations' SQL datasource.

`duckdb+readonly:///<warehouse path>` is duckdb-engine's dialect on a read-only connection
opened like every other warehouse reader (`open_read_only`), without transactions: a
read-only connection has nothing to commit or roll back, and GX reads a query's rows only
after handing its connection back to the pool. Drivers that buffer rows on the client
(psycopg2, sqlite3) survive that; a DuckDB connection holds one streamed result, which the
rollback on release would discard, leaving GX with no rows and every expectation failing.
"""

from __future__ import annotations

from pathlib import Path

import duckdb_engine
from sqlalchemy.dialects import registry

from orchestration.lib.warehouse import open_read_only

DRIVER = "readonly"
registry.register(f"duckdb.{DRIVER}", __name__, "ReadOnlyWarehouseDialect")


def warehouse_url(path: Path) -> str:
    return f"duckdb+{DRIVER}:///{Path(path).resolve()}"


class ReadOnlyWarehouseDialect(duckdb_engine.Dialect):
    driver = DRIVER
    supports_statement_cache = True

    def connect(self, *cargs, **cparams) -> duckdb_engine.ConnectionWrapper:
        return duckdb_engine.ConnectionWrapper(open_read_only(cparams["database"]))

    def do_begin(self, dbapi_connection) -> None:
        """Each statement stands alone (DuckDB's autocommit); reads need no transaction."""

    def do_commit(self, dbapi_connection) -> None:
        """Nothing was written."""

    def do_rollback(self, dbapi_connection) -> None:
        """Nothing to undo; a rollback would drop the result GX has yet to fetch."""
