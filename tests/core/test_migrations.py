"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import tollgate.db
from tollgate.db.engine import make_engine
from tollgate.db.migrate import downgrade, upgrade
from tollgate.db.models import Base

# Models live in several modules sharing one Base (models.py, billing_models.py, ...):
# load them all so the comparison covers every table the code declares.
for _module in pkgutil.iter_modules(tollgate.db.__path__):
    if _module.name.endswith("models"):
        importlib.import_module(f"tollgate.db.{_module.name}")

CORE_TABLES = {
    "tenants",
    "api_keys",
    "oauth_clients",
    "usage_ledger",
    "audit_log",
    "export_jobs",
    "product_status",
}
# Every table a model declares; later issues add models and migrations together.
TABLES = set(Base.metadata.tables)


def schema_drift(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_models_declare_the_core_tables():
    assert CORE_TABLES <= TABLES


def check_round_trip(url: str) -> None:
    upgrade(url)
    assert tables(url) == TABLES
    assert schema_drift(url) == []
    upgrade(url)  # at head already: a no-op, as `tollgate demo` relies on
    downgrade(url, "base")
    assert tables(url) == set()
    upgrade(url)
    assert tables(url) == TABLES
    assert schema_drift(url) == []


def test_sqlite_round_trip(settings):
    check_round_trip(settings.metadata_db_url)


@pytest.mark.postgres
def test_postgres_round_trip(postgres_url):
    check_round_trip(postgres_url)


def test_drift_is_detected(settings):
    """The comparison above can fail: a column the migrations lack shows up as drift."""
    from sqlalchemy import Column, MetaData, String, Table

    url = settings.metadata_db_url
    upgrade(url)
    extended = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(extended)
    Table("tenants", extended, Column("billing_email", String(200)), extend_existing=True)
    engine = make_engine(url)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), extended)
    engine.dispose()
    assert [d[0] for d in diffs] == ["add_column"]
    assert diffs[0][2] == "tenants" and diffs[0][3].name == "billing_email"
