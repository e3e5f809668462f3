"""What the seller's and buyer's tools share about contract records: ids, the per-tenant
lock that keeps two changes from both passing a check, and reading a tenant's contracts."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tollgate.catalog import Catalog, Product
from tollgate.clock import utcnow
from tollgate.contracts.terms import ContractRow
from tollgate.db.contract_models import Purchase, Subscription
from tollgate.db.models import Tenant
from tollgate.errors import Conflict, NotEntitled, NotFound

_SOLD = {
    "per_query": "per query",
    "per_record": "per record",
    "subscription_monthly": "by monthly subscription",
    "one_time": "as a one-time purchase",
}


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def lock_tenant(session: Session, tenant_id: str) -> Tenant:
    """The active tenant, its row locked until the caller's transaction ends.

    Writing the row first takes PostgreSQL's row lock and SQLite's write lock before any
    check reads, so two concurrent contract changes of one tenant run one after the other
    and the second sees the first (no double purchase, no overlapping subscriptions)."""
    done = session.execute(update(Tenant).where(Tenant.id == tenant_id).values(updated_at=utcnow()))
    if done.rowcount == 0:
        raise NotFound(f"no tenant {tenant_id!r}")
    tenant = session.get(Tenant, tenant_id)
    assert tenant is not None
    if tenant.status != "active":
        raise Conflict(f"tenant {tenant_id!r} is {tenant.status}; reactivate it first")
    return tenant


def sold_product(catalog: Catalog, tenant: Tenant, product_id: str, model: str) -> Product:
    """The product, checked to be sold under `model` and included in the tenant's tier."""
    try:
        product = catalog.product(product_id)
    except KeyError:
        raise NotFound(f"no product {product_id!r} in the catalog", "product_not_found") from None
    if product.price.model != model:
        code = "not_one_time" if model == "one_time" else "not_a_subscription"
        raise NotEntitled(
            f"{product_id} is sold {_SOLD[product.price.model]}, not {_SOLD[model]}",
            code,
            {"product_id": product_id, "price_model": product.price.model},
        )
    if product_id not in catalog.tiers[tenant.tier].products:
        tiers = catalog.tiers_with(product_id)
        raise NotEntitled(
            f"the {tenant.tier} tier of {tenant.id} does not include {product_id} "
            f"(tiers with it: {', '.join(tiers)})",
            "not_entitled",
            {"product_id": product_id, "tier": tenant.tier, "tiers_with_entitlement": tiers},
        )
    return product


def month_start(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def tenant_contracts(
    session: Session, tenant_id: str
) -> tuple[list[ContractRow], list[ContractRow]]:
    """(subscriptions, purchases) of a tenant as the entitlement gate reads them."""
    subs = session.execute(
        select(
            Subscription.id, Subscription.product_id, Subscription.starts_at, Subscription.ends_at
        ).where(Subscription.tenant_id == tenant_id)
    ).all()
    buys = session.execute(
        select(
            Purchase.id, Purchase.product_id, Purchase.purchased_at, Purchase.updates_until
        ).where(Purchase.tenant_id == tenant_id)
    ).all()
    return (
        [ContractRow(i, p, s, e) for i, p, s, e in subs],
        [ContractRow(i, p, at, None, until) for i, p, at, until in buys],
    )
