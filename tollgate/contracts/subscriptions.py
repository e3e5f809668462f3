"""Subscriptions: the seller records which tenant subscribes to which product, from when,
at what price; invoices charge the days they are active, used or not.

Each change is one audited unit of work (`tollgate.audit.audited`): it commits with its
audit row, or rolls back whole and leaves a failure row naming the reason.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tollgate.audit import audited
from tollgate.catalog import Catalog, get_catalog
from tollgate.clock import utcnow
from tollgate.contracts.records import lock_tenant, month_start, new_id, sold_product
from tollgate.db.contract_models import Subscription
from tollgate.errors import Conflict, InvalidRequest, NotFound
from tollgate.prices import to_micros

PLAN = "monthly"


def create_subscription(
    session: Session,
    tenant_id: str,
    product_id: str,
    *,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    price_usd: float | None = None,
    catalog: Catalog | None = None,
    actor: str = "system",
    now: datetime | None = None,
) -> Subscription:
    """Subscribe a tenant to a subscription product from `starts_at` (default now) until
    `ends_at` (default: until cancelled), at `price_usd` a month (default: the catalog's
    price in force at the start). A start may not be before the current month: months
    already invoiced are not reopened."""
    catalog = catalog or get_catalog()
    now = now or utcnow()
    sub_id = new_id("sub")
    with audited(session, actor, "subscription.create", sub_id, tenant_id) as details:
        tenant = lock_tenant(session, tenant_id)
        product = sold_product(catalog, tenant, product_id, "subscription_monthly")
        starts = starts_at or now
        if starts < month_start(now):
            raise InvalidRequest(
                f"a subscription cannot start before this month ({month_start(now):%Y-%m}): "
                "past months are invoiced"
            )
        if ends_at is not None and ends_at <= starts:
            raise InvalidRequest(f"the end {ends_at:%Y-%m-%d %H:%M} is not after the start")
        clash = _overlapping(session, tenant_id, product_id, starts, ends_at)
        if clash is not None:
            until = f"{clash.ends_at:%Y-%m-%d}" if clash.ends_at else "until cancelled"
            raise Conflict(
                f"{tenant_id} already subscribes to {product_id} from "
                f"{clash.starts_at:%Y-%m-%d} {until} ({clash.id}); the dates overlap",
                "subscription_overlaps",
            )
        usd = price_usd if price_usd is not None else product.price_at(starts).usd
        if usd <= 0:
            raise InvalidRequest(f"the monthly price must be positive, got {usd}")
        sub = Subscription(
            id=sub_id,
            tenant_id=tenant_id,
            product_id=product_id,
            plan=PLAN,
            price_micros=_micros(usd),
            starts_at=starts,
            ends_at=ends_at,
            created_at=now,
            created_by=actor,
        )
        session.add(sub)
        details.update(
            product_id=product_id,
            plan=PLAN,
            price_usd=usd,
            starts_at=starts.isoformat(),
            ends_at=ends_at.isoformat() if ends_at else None,
        )
    return sub


def cancel_subscription(
    session: Session,
    subscription_id: str,
    *,
    at: datetime | None = None,
    actor: str = "system",
    now: datetime | None = None,
) -> Subscription:
    """End a subscription at `at` (default now; never in the past, so no served day goes
    unpaid). A subscription that has not started yet ends before it ever starts."""
    now = now or utcnow()
    tenant_id = session.scalar(
        select(Subscription.tenant_id).where(Subscription.id == subscription_id)
    )
    session.rollback()  # end that read: the change starts by locking the tenant
    with audited(session, actor, "subscription.cancel", subscription_id, tenant_id) as details:
        if tenant_id is None:
            raise NotFound(f"no subscription {subscription_id!r}")
        lock_tenant(session, tenant_id)
        sub = session.get(Subscription, subscription_id, populate_existing=True)
        assert sub is not None
        if sub.cancelled_at is not None:
            raise Conflict(
                f"subscription {subscription_id} was already cancelled on "
                f"{sub.cancelled_at:%Y-%m-%d %H:%M} (ends {sub.ends_at:%Y-%m-%d %H:%M})",
                "already_cancelled",
            )
        if sub.ends_at is not None and sub.ends_at <= now:
            raise Conflict(
                f"subscription {subscription_id} already ended on {sub.ends_at:%Y-%m-%d %H:%M}",
                "already_ended",
            )
        effective = at or now
        if effective < now:
            raise InvalidRequest("a cancellation cannot take effect in the past")
        if sub.ends_at is not None and effective >= sub.ends_at:
            raise InvalidRequest(f"the subscription already ends on {sub.ends_at:%Y-%m-%d %H:%M}")
        sub.ends_at = max(effective, sub.starts_at)
        sub.cancelled_at = now
        details.update(product_id=sub.product_id, ends_at=sub.ends_at.isoformat())
    return sub


def list_subscriptions(session: Session, tenant_id: str | None = None) -> list[Subscription]:
    query = select(Subscription).order_by(Subscription.tenant_id, Subscription.starts_at)
    if tenant_id is not None:
        query = query.where(Subscription.tenant_id == tenant_id)
    return list(session.scalars(query))


def subscription_status(sub: Subscription, now: datetime) -> str:
    """scheduled | active | cancelled | ended, as of `now`."""
    if now < sub.starts_at and (sub.ends_at is None or sub.ends_at > sub.starts_at):
        return "scheduled"
    if sub.ends_at is None or now < sub.ends_at:
        return "active"
    return "cancelled" if sub.cancelled_at is not None else "ended"


def _overlapping(
    session: Session, tenant_id: str, product_id: str, starts: datetime, ends: datetime | None
) -> Subscription | None:
    query = select(Subscription).where(
        Subscription.tenant_id == tenant_id,
        Subscription.product_id == product_id,
        or_(Subscription.ends_at.is_(None), Subscription.ends_at > starts),
        Subscription.ends_at.is_(None) | (Subscription.ends_at > Subscription.starts_at),
    )
    if ends is not None:
        query = query.where(Subscription.starts_at < ends)
    return session.scalars(query.limit(1)).first()


def _micros(usd: float) -> int:
    try:
        return to_micros(usd)
    except ValueError as exc:
        raise InvalidRequest(f"price: {exc}") from None
