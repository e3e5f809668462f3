"""The deliveries behind an invoice line: the ledger records it was summed from.

A deliveries line groups a tenant's month by product, channel, unit, unit price, price basis
and contract (`tollgate.billing.invoices`); the stored line keeps all of those, so its
records are found again by the same keys, newest trail columns included. Records written
before deliveries were rated carry no price and are not traced. A delivery credit line's
deliveries are the ones its product's credit policy credited (`tollgate.billing.credits`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, and_, false, func, or_, select

from tollgate.billing.credits import DELIVERY_CREDIT, degraded_condition, stale_condition
from tollgate.billing.invoices import LineItem, invoice_id, month_bounds
from tollgate.billing.ledger_reads import day_start
from tollgate.billing.queries import tenant_invoices
from tollgate.catalog import Catalog
from tollgate.db.models import UsageRecord
from tollgate.prices import MICROS
from tollgate.usage import BILLED_STATUSES

_L = UsageRecord
TRACE_COLUMNS = (
    "delivery_id",
    "occurred_at",
    "product_id",
    "channel",
    "kind",
    "units",
    "bytes",
    "unit_price_micros",
    "price_basis",
    "contract_id",
    "status",
    "route",
    "schema_version",
    "snapshot_version",
    "watermark_at",
    "freshness_seconds",
    "quality_status",
)


@dataclass(frozen=True)
class LineTrace:
    """One page of a line's deliveries, with the totals over all of them."""

    invoice_id: str
    line_no: int
    line: LineItem
    deliveries_total: int
    units_total: int
    deliveries: list[dict]
    # (occurred_at, delivery_id) of the last record on the page, when more follow.
    next_after: tuple[datetime, str] | None


def find_line(engine: Engine, tenant_id: str, month: str, line_no: int) -> LineItem | None:
    """Line `line_no` (1-based, as invoices number them) of a tenant's stored invoice."""
    stored = tenant_invoices(engine, tenant_id, month)
    if not stored or not 1 <= line_no <= len(stored[0].draft.lines):
        return None
    return stored[0].draft.lines[line_no - 1]


def _matches(tenant_id: str, month: str, line: LineItem) -> list:
    start, end = month_bounds(month)
    micros = int(Decimal(line.unit_price_usd) * MICROS)
    basis = func.coalesce(_L.price_basis, "list")
    contract = _L.contract_id.is_(None) if line.contract_id is None else (
        _L.contract_id == line.contract_id
    )  # fmt: skip
    return [
        _L.tenant_id == tenant_id,
        _L.occurred_at >= day_start(start),
        _L.occurred_at < day_start(end),
        _L.product_id == line.product_id,
        _L.channel == line.channel,
        _L.kind == line.kind,
        _L.unit_price_micros == micros,
        basis == (line.price_basis or "list"),
        contract,
        _L.status.in_(BILLED_STATUSES),
    ]


def _credited(catalog: Catalog, tenant_id: str, month: str, line: LineItem) -> list:
    start, end = month_bounds(month)
    policy = catalog.credit_policy(line.product_id)
    conditions = [stale_condition(catalog)] if policy.stale else []
    conditions += [degraded_condition()] if policy.degraded else []
    return [
        _L.tenant_id == tenant_id,
        _L.occurred_at >= day_start(start),
        _L.occurred_at < day_start(end),
        _L.product_id == line.product_id,
        _L.status.in_(BILLED_STATUSES),
        _L.unit_price_micros > 0,
        or_(*conditions) if conditions else false(),
    ]


def trace_line(
    engine: Engine,
    tenant_id: str,
    month: str,
    line_no: int,
    limit: int = 100,
    after: tuple[datetime, str] | None = None,
    catalog: Catalog | None = None,
) -> LineTrace | None:
    """The deliveries behind one invoice line of `tenant_id`'s own invoice, oldest first,
    `limit` per page from after `after`; None when the tenant has no such line. A fee line
    (a subscription's days, a purchase) and an availability credit have no deliveries
    behind them; a delivery credit's are found with `catalog`'s credit policy."""
    line = find_line(engine, tenant_id, month, line_no)
    if line is None:
        return None
    if line.kind == DELIVERY_CREDIT and catalog is not None:
        where = _credited(catalog, tenant_id, month, line)
    elif line.channel is None or line.kind is None:
        return LineTrace(invoice_id(tenant_id, month), line_no, line, 0, 0, [], None)
    else:
        where = _matches(tenant_id, month, line)
    page = select(*(getattr(_L, c) for c in TRACE_COLUMNS)).where(*where)
    if after is not None:
        at, delivery_id = after
        page = page.where(
            or_(_L.occurred_at > at, and_(_L.occurred_at == at, _L.delivery_id > delivery_id))
        )
    page = page.order_by(_L.occurred_at, _L.delivery_id).limit(limit + 1)
    with engine.connect() as conn:
        total, units = conn.execute(
            select(func.count(), func.coalesce(func.sum(_L.units), 0)).where(*where)
        ).one()
        rows = [dict(r._mapping) for r in conn.execute(page)]
    more = len(rows) > limit
    rows = rows[:limit]
    last = (rows[-1]["occurred_at"], rows[-1]["delivery_id"]) if more else None
    return LineTrace(
        invoice_id(tenant_id, month), line_no, line, int(total), int(units), rows, last
    )
