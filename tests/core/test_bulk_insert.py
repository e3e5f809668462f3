"""`BulkInsert` on SQLite stores exactly what SQLAlchemy's own insert stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import BigInteger, Boolean, Column, Float, MetaData, String, Table, insert
from sqlalchemy.dialects import sqlite

from tollgate.db.bulk import BulkInsert
from tollgate.db.engine import make_engine
from tollgate.db.models import UTCDateTime

metadata = MetaData()


def _table(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("id", String(32), primary_key=True),
        Column("units", BigInteger),
        Column("at", UTCDateTime()),
        Column("maybe_at", UTCDateTime(), nullable=True),
        Column("ratio", Float, nullable=True),
        Column("ok", Boolean, nullable=True),
    )


THROUGH_SQLALCHEMY, THROUGH_BULK = _table("through_sqlalchemy"), _table("through_bulk")
COLUMNS = ["id", "units", "at", "maybe_at", "ratio", "ok"]
ROWS = [
    # Whole seconds (no fraction), microseconds, another zone, None and every scalar type.
    {"id": "a", "units": 1, "at": datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
     "maybe_at": None, "ratio": None, "ok": None},
    {"id": "b", "units": 2**40, "at": datetime(2026, 11, 30, 12, 0, 1, 5, tzinfo=UTC),
     "maybe_at": datetime(1999, 1, 2, 3, 4, 5, 999_999, tzinfo=UTC), "ratio": 0.1, "ok": True},
    {"id": "c", "units": -3, "at": datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2))),
     "maybe_at": datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC), "ratio": -2.5, "ok": False},
]  # fmt: skip


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'bulk.db'}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _stored(engine, table: Table) -> list[tuple]:
    """The rows as SQLite holds them (text, integers, reals), not as SQLAlchemy reads them,
    in the order they were inserted."""
    with engine.connect() as conn:
        return conn.exec_driver_sql(f"SELECT * FROM {table.name} ORDER BY rowid").fetchall()


def test_stores_exactly_what_sqlalchemy_stores(engine):
    with engine.begin() as conn:
        conn.execute(insert(THROUGH_SQLALCHEMY), ROWS)
        BulkInsert(insert(THROUGH_BULK), COLUMNS)(conn, ROWS)
    assert _stored(engine, THROUGH_BULK) == _stored(engine, THROUGH_SQLALCHEMY)
    assert len(_stored(engine, THROUGH_BULK)) == 3
    with engine.connect() as conn:  # and reads back as the values written
        read = conn.execute(THROUGH_BULK.select().order_by(THROUGH_BULK.c.id)).mappings().all()
    assert [r["at"] for r in read][:2] == [ROWS[0]["at"], ROWS[1]["at"]]
    assert read[1]["maybe_at"] == ROWS[1]["maybe_at"] and read[2]["ok"] is False


def test_an_upsert_compiles_once_and_applies_its_conflict_clause(engine):
    stmt = sqlite.insert(THROUGH_BULK)
    grow = stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={"units": stmt.excluded.units},
        where=stmt.excluded.units > THROUGH_BULK.c.units,
    )
    bulk = BulkInsert(grow, COLUMNS)
    with engine.begin() as conn:
        bulk(conn, ROWS)
        bulk(conn, [{**ROWS[0], "units": 10}, {**ROWS[1], "units": 0}])
    units = {row[0]: row[1] for row in _stored(engine, THROUGH_BULK)}
    assert units == {"a": 10, "b": 2**40, "c": -3}  # grown, kept, untouched


def test_runs_inside_the_callers_transaction(engine):
    bulk = BulkInsert(insert(THROUGH_BULK), COLUMNS)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        bulk(conn, ROWS)
        raise RuntimeError("the caller's change failed")
    assert _stored(engine, THROUGH_BULK) == []


def test_a_naive_datetime_is_refused_as_sqlalchemy_refuses_it(engine):
    naive = {**ROWS[0], "at": datetime(2026, 11, 30, 12, 0)}
    with pytest.raises(ValueError, match="naive"), engine.begin() as conn:
        BulkInsert(insert(THROUGH_BULK), COLUMNS)(conn, [naive])


def test_a_row_missing_a_column_is_refused_not_stored_as_null(engine):
    partial = {k: v for k, v in ROWS[1].items() if k != "ratio"}
    with pytest.raises(KeyError, match="ratio"), engine.begin() as conn:
        BulkInsert(insert(THROUGH_BULK), COLUMNS)(conn, [ROWS[0], partial])
    assert _stored(engine, THROUGH_BULK) == []


def test_a_time_shared_by_rows_is_stored_as_each_rows_own(engine):
    # One object in every row's `at` (processed once), and one in two rows of three.
    at = datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2)))
    rows = [
        {**row, "at": at, "maybe_at": at if i < 2 else row["maybe_at"]}
        for i, row in enumerate(ROWS)
    ]
    with engine.begin() as conn:
        conn.execute(insert(THROUGH_SQLALCHEMY), rows)
        BulkInsert(insert(THROUGH_BULK), COLUMNS)(conn, rows)
    stored = _stored(engine, THROUGH_BULK)
    assert stored == _stored(engine, THROUGH_SQLALCHEMY)
    assert stored[2][3] != stored[0][3] == stored[1][3]  # the third row's maybe_at is its own


def test_a_single_column_insert_is_processed_too(engine):
    # One column: its values still pass through the column type, as SQLAlchemy's do.
    tables = [Table(n, metadata, Column("at", UTCDateTime())) for n in ("one_sa", "one_bulk")]
    metadata.create_all(engine, tables=tables)
    rows = [{"at": datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2)))}]
    with engine.begin() as conn:
        conn.execute(insert(tables[0]), rows)
        BulkInsert(insert(tables[1]), ["at"])(conn, rows)
    assert _stored(engine, tables[1]) == _stored(engine, tables[0])
