"""When events are emitted: usage thresholds, invoices and credits, product status and
schema deprecations. Each threshold carries a dedupe key naming its period, so it fires
once per period (`tollgate.webhooks.events.emit`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, case, func, select

from tollgate.billing.invoices import InvoiceDraft, month_bounds
from tollgate.billing.ledger_reads import day_start
from tollgate.catalog import Catalog
from tollgate.db.models import Tenant, UsageRecord
from tollgate.prices import MICROS
from tollgate.usage import BILLED_STATUSES
from tollgate.webhooks.events import emit, emit_to_product_users

THRESHOLDS = (80, 100)  # percent of a limit, quota or cap


def reached(used: float, limit: float) -> list[int]:
    """The thresholds `used` of `limit` has reached."""
    return [t for t in THRESHOLDS if limit > 0 and used * 100 >= t * limit]


def rate_limit_alerts(
    engine: Engine, tenant_id: str, tier: str, used: int, limit: int, at: datetime
) -> list[str]:
    """Emit the hourly rate limit thresholds `used` requests this hour reached; the ids of
    the events new this hour."""
    hour = f"{at:%Y-%m-%dT%H}"
    fired = []
    for t in reached(used, limit):
        data = {"tier": tier, "limit": limit, "used": used, "threshold_percent": t,
                "period": "hour", "period_start": f"{hour}:00:00Z"}  # fmt: skip
        event_id = emit(engine, tenant_id, f"usage.rate_limit.{t}", data, f"rate_limit.{t}:{hour}")
        if event_id is not None:
            fired.append(event_id)
    return fired


def month_to_date(engine: Engine, start: datetime, end: datetime) -> dict[str, tuple[int, int]]:
    """Per tenant: (requests, spend in micro-dollars) in [start, end), net of reversals."""
    L = UsageRecord
    query = (
        select(
            L.tenant_id,
            func.sum(case((L.status == "reversal", -1), else_=1)),
            func.coalesce(func.sum(L.units * func.coalesce(L.unit_price_micros, 0)), 0),
        )
        .where(L.occurred_at >= start, L.occurred_at < end, L.status.in_(BILLED_STATUSES))
        .group_by(L.tenant_id)
    )
    with engine.connect() as conn:
        return {t: (int(n), int(m)) for t, n, m in conn.execute(query)}


def check_monthly_usage(engine: Engine, catalog: Catalog, now: datetime) -> list[str]:
    """Emit the monthly quota and spend cap thresholds reached this month by tenants whose
    tier sets either; the ids of the events new now."""
    tiers = {
        n: t for n, t in catalog.tiers.items() if t.monthly_request_quota or t.monthly_spend_cap_usd
    }
    if not tiers:
        return []
    month = f"{now:%Y-%m}"
    start, end = month_bounds(month)
    with engine.connect() as conn:
        tenants = dict(
            conn.execute(select(Tenant.id, Tenant.tier).where(Tenant.tier.in_(tiers))).all()
        )
    usage = month_to_date(engine, day_start(start), day_start(end))
    fired = []
    for tenant_id, tier_name in sorted(tenants.items()):
        tier = tiers[tier_name]
        requests, micros = usage.get(tenant_id, (0, 0))
        checks = []
        if tier.monthly_request_quota:
            checks.append(("quota", requests, tier.monthly_request_quota, {}))
        if tier.monthly_spend_cap_usd:
            cap_micros = int(Decimal(str(tier.monthly_spend_cap_usd)) * MICROS)
            spent = {"spend_usd": str(Decimal(micros) / MICROS),
                     "cap_usd": str(tier.monthly_spend_cap_usd)}  # fmt: skip
            checks.append(("spend_cap", micros, cap_micros, spent))
        for kind, used, limit, extra in checks:
            for t in reached(used, limit):
                data = {"tier": tier_name, "month": month, "threshold_percent": t, **extra}
                if kind == "quota":
                    data.update(requests=used, quota=limit)
                event_id = emit(engine, tenant_id, f"usage.{kind}.{t}", data, f"{kind}.{t}:{month}")
                if event_id is not None:
                    fired.append(event_id)
    return fired


def announce_invoices(
    engine: Engine, month: str, drafts: Iterable[InvoiceDraft], now: datetime
) -> list[str]:
    """Once a month is over, its invoices are issued: `invoice.issued` to each tenant, and
    `credit.granted` to those credited. A draft of the running month announces nothing."""
    _, end = month_bounds(month)
    if now < day_start(end):
        return []
    fired = []
    for d in drafts:
        totals = {"invoice_id": d.id, "month": month, "charges_cents": d.charges_cents,
                  "credits_cents": d.credits_cents, "total_cents": d.total_cents,
                  "url": f"/v1/invoices/{month}"}  # fmt: skip
        fired.append(emit(engine, d.tenant_id, "invoice.issued", totals, f"invoice:{month}"))
        if d.credits_cents:
            lines = [
                {
                    "line_no": n,
                    "product_id": line.product_id,
                    "amount_cents": line.amount_cents,
                    "description": line.description,
                }  # fmt: skip
                for n, line in enumerate(d.lines, start=1)
                if line.is_credit
            ]
            data = {**totals, "credit_lines": lines}
            fired.append(emit(engine, d.tenant_id, "credit.granted", data, f"credit:{month}"))
    return [f for f in fired if f is not None]


STATUS_EVENTS = {"degraded": "product.degraded", "halted": "product.halted"}


def announce_status(
    engine: Engine, catalog: Catalog, product_id: str, before: str, after: str, reason: str | None
) -> int:
    """A product's change of status, to every tenant that may use it; how many got it."""
    if after in STATUS_EVENTS:
        event_type = STATUS_EVENTS[after]
    elif after == "healthy" and before in STATUS_EVENTS:
        event_type = "product.recovered"
    else:
        return 0
    data = {"product_id": product_id, "status": after, "previous_status": before,
            "reason": reason}  # fmt: skip
    return emit_to_product_users(engine, catalog, product_id, event_type, data)


def check_schema_deprecations(engine: Engine, catalog: Catalog, now: datetime) -> int:
    """Each schema version deprecated by now (its successor announced), once, to every
    tenant that may use the product; how many events are new."""
    sent = 0
    for product in catalog.products:
        ordered = sorted(product.schema_versions, key=lambda v: v.key)
        for old, new in zip(ordered, ordered[1:], strict=False):
            if new.announced is None or new.announced > now.date():
                continue
            data = {"product_id": product.id, "version": old.version,
                    "current_version": ordered[-1].version,
                    "backward_compatible_until": old.backward_compatible_until,
                    "deprecated_on": new.announced}  # fmt: skip
            key = f"schema.deprecated:{product.id}:{old.version}"
            sent += emit_to_product_users(
                engine, catalog, product.id, "schema.deprecated", data, key
            )
    return sent
