from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tollgate.catalog import load_catalog
from tollgate.db.engine import make_engine
from tollgate.livestore import LiveStore, upsert


def _risk_row(txn: str, score: float, at: datetime) -> dict:
    return {
        "transaction_id": txn,
        "customer_id": "c-1",
        "region": "EU",
        "event_at": at,
        "processed_at": at + timedelta(milliseconds=5),
        "amount_cents": 1250,
        "merchant_category": "grocery",
        "fraud_score": score,
        "risk_level": "low" if score < 0.5 else "high",
        "risk_reasons": "",
    }


def _exercise(url: str, settings) -> None:
    store = LiveStore(load_catalog(settings.catalog_path))
    engine = make_engine(url)
    store.create_all(engine)
    table = store.table("transaction-risk")
    at = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    rows = [_risk_row("t1", 0.1, at), _risk_row("t2", 0.9, at)]
    with engine.begin() as conn:
        upsert(conn, table, rows)
        upsert(conn, table, rows)  # a replayed batch
        upsert(conn, table, [_risk_row("t1", 0.7, at)])
        # Rows of other columns (a statement of their own): only those columns change.
        upsert(conn, table, [{"transaction_id": "t2", "risk_level": "critical"}])
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(table)) == 2
        score = conn.scalar(select(table.c.fraud_score).where(table.c.transaction_id == "t1"))
        event_at = conn.scalar(select(table.c.event_at).where(table.c.transaction_id == "t1"))
        t2 = conn.execute(select(table).where(table.c.transaction_id == "t2")).mappings().one()
    assert score == pytest.approx(0.7)
    assert t2["risk_level"] == "critical" and t2["fraud_score"] == pytest.approx(0.9)
    assert event_at == at and event_at.tzinfo is not None
    engine.dispose()


def test_tables_follow_the_catalog(settings):
    catalog = load_catalog(settings.catalog_path)
    store = LiveStore(catalog)
    assert set(store.tables) == {p.id for p in catalog.live_products()}
    for product in catalog.live_products():
        table = store.table(product.id)
        assert table.name == product.source
        assert [c.name for c in table.columns] == product.column_names
        assert [c.name for c in table.primary_key.columns] == [product.key_column]


def test_upsert_is_idempotent_on_sqlite(settings):
    _exercise(settings.live_store_url, settings)


@pytest.mark.postgres
def test_upsert_is_idempotent_on_postgresql(postgres_url, settings):
    _exercise(postgres_url, settings)
