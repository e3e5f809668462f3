"""One-time purchases: a tenant buys a one-time product once; the invoice of the month it
was bought charges it, and it grants the snapshot versions published up to `updates_until`
(the purchase plus the catalog's `includes_updates_days`, fixed when bought).

Buying again while a purchase's update window is open is refused (`already_purchased`); a
buyer's retry with the same Idempotency-Key gets the first purchase back, never a second.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tollgate.audit import audited
from tollgate.catalog import Catalog, get_catalog
from tollgate.clock import utcnow
from tollgate.contracts.records import lock_tenant, new_id, sold_product
from tollgate.db.contract_models import Purchase
from tollgate.errors import Conflict
from tollgate.prices import to_micros


def create_purchase(
    session: Session,
    tenant_id: str,
    product_id: str,
    *,
    idempotency_key: str | None = None,
    catalog: Catalog | None = None,
    actor: str = "system",
    now: datetime | None = None,
) -> tuple[Purchase, bool]:
    """(the purchase, whether it is new). With an `idempotency_key` already used by this
    tenant for the same product, the earlier purchase comes back unchanged."""
    catalog = catalog or get_catalog()
    now = now or utcnow()
    pur_id = new_id("pur")
    replay: Purchase | None = None
    with audited(session, actor, "purchase.create", pur_id, tenant_id) as details:
        tenant = lock_tenant(session, tenant_id)
        if idempotency_key is not None:
            replay = session.scalars(
                select(Purchase).where(
                    Purchase.tenant_id == tenant_id, Purchase.idempotency_key == idempotency_key
                )
            ).first()
            if replay is not None and replay.product_id != product_id:
                raise Conflict(
                    f"Idempotency-Key {idempotency_key!r} was used for a purchase of "
                    f"{replay.product_id}",
                    "idempotency_key_reused",
                )
        if replay is None:
            product = sold_product(catalog, tenant, product_id, "one_time")
            open_window = session.scalars(
                select(Purchase).where(
                    Purchase.tenant_id == tenant_id,
                    Purchase.product_id == product_id,
                    Purchase.updates_until > now,
                )
            ).first()
            if open_window is not None:
                raise Conflict(
                    f"{tenant_id} bought {product_id} on {open_window.purchased_at:%Y-%m-%d} "
                    f"({open_window.id}); its updates run until "
                    f"{open_window.updates_until:%Y-%m-%d}",
                    "already_purchased",
                )
            price = product.price_at(now)
            purchase = Purchase(
                id=pur_id,
                tenant_id=tenant_id,
                product_id=product_id,
                price_micros=to_micros(price.usd),
                purchased_at=now,
                updates_until=now + timedelta(days=price.includes_updates_days or 0),
                idempotency_key=idempotency_key,
                created_by=actor,
            )
            session.add(purchase)
            details.update(
                product_id=product_id,
                price_usd=price.usd,
                updates_until=purchase.updates_until.isoformat(),
            )
        else:
            details.update(product_id=product_id, replay_of=replay.id)
    return (replay, False) if replay is not None else (purchase, True)


def list_purchases(session: Session, tenant_id: str | None = None) -> list[Purchase]:
    query = select(Purchase).order_by(Purchase.tenant_id, Purchase.purchased_at)
    if tenant_id is not None:
        query = query.where(Purchase.tenant_id == tenant_id)
    return list(session.scalars(query))
