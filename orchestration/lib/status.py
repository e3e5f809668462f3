"""Product status in the metadata DB: the gate's verdict, which the API reports to buyers."""

from __future__ import annotations

from functools import cache

from tollgate import audit
from tollgate.catalog import get_catalog
from tollgate.clock import utcnow
from tollgate.db.engine import engine_for, session_factory
from tollgate.db.migrate import upgrade
from tollgate.db.models import ProductStatus
from tollgate.webhooks.alerts import announce_status

_UNCHANGED = object()


@cache
def _migrated(url: str) -> None:
    # Once per process per database: the batch lane may be the first to touch it.
    upgrade(url)


def record_status(
    metadata_db_url: str,
    product_id: str,
    status: str,
    reason: str | None = None,
    current_version: object = _UNCHANGED,
    failed_version: str | None = None,
) -> None:
    """Upsert a product's status; `current_version` is kept unless given. A change of
    status is audited (`product.status`), with what it changed from, and announced to the
    tenants that may use the product (webhooks product.degraded / halted / recovered)."""
    _migrated(metadata_db_url)
    with session_factory(metadata_db_url)() as session, session.begin():
        row = session.get(ProductStatus, product_id) or ProductStatus(product_id=product_id)
        before = row.status or "healthy"
        if before != status:
            audit.record(
                session,
                None,
                "dagster",
                "product.status",
                product_id,
                details={"from": before, "to": status, "reason": reason,
                         "failed_version": failed_version},
            )  # fmt: skip
        row.status = status
        row.reason = reason
        row.failed_version = failed_version
        if current_version is not _UNCHANGED:
            row.current_version = current_version
        row.checked_at = utcnow()
        session.add(row)
    if before != status:
        announce_status(
            engine_for(metadata_db_url), get_catalog(), product_id, before, status, reason
        )


def read_status(metadata_db_url: str, product_id: str) -> ProductStatus | None:
    _migrated(metadata_db_url)
    with session_factory(metadata_db_url)() as session:
        return session.get(ProductStatus, product_id)
