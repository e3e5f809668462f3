"""Monthly invoices that follow what each tenant bought.

An invoice has a line per contract fee and a line per group of deliveries:
- subscription: the monthly price agreed at signing, prorated by active days: the fee x
  (UTC days of the month on which the subscription was active for any part of the day) /
  (days in the month), whether the product was used or not;
- one-time purchase: its price, once, on the invoice of the month it was bought;
- deliveries: per product, channel, unit price and basis, the units delivered x the unit
  price recorded with each delivery (the price in force then: see tollgate.rating). Trial
  deliveries, deliveries a contract includes and empty answers show with their quantity
  at $0. Records written before deliveries were rated are priced at the catalog price in
  force on their day.
- SLA credits (tollgate.billing.credits): after a product's charges, a line crediting the
  deliveries made while it was stale or degraded, and one crediting a share of its charges
  when its availability fell under the catalog's threshold; total = charges - credits.
Amounts are exact: integer micro-dollars, rounded half-up to the cent once per line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

import polars as pl

from tollgate.billing.credits import AVAILABILITY_SCHEMA, CREDITED_SCHEMA, credit_lines
from tollgate.billing.lines import (
    ContractFee,
    delivery_line,
    purchase_line,
    subscription_line,
)
from tollgate.catalog import Catalog
from tollgate.prices import to_micros

CREDIT = "credit"  # the price basis of an SLA credit line


class BillingError(ValueError):
    """The ledger cannot be billed as it stands (e.g. usage of a product not in the catalog)."""


@dataclass(frozen=True)
class LineItem:
    product_id: str
    price_model: str
    description: str
    quantity: int
    unit_price_usd: Decimal
    amount_cents: int
    channel: str | None = None  # None: a contract's fee
    price_basis: str | None = None
    contract_id: str | None = None
    kind: str | None = None  # a deliveries line's ledger unit (see tollgate.billing.trace)
    evidence: dict | None = None  # a credit line's (see tollgate.billing.credits)

    @property
    def is_credit(self) -> bool:
        return self.price_basis == CREDIT


@dataclass(frozen=True)
class InvoiceDraft:
    tenant_id: str
    month: str  # YYYY-MM
    lines: tuple[LineItem, ...]

    @property
    def id(self) -> str:
        return invoice_id(self.tenant_id, self.month)

    @property
    def charges_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines if not line.is_credit)

    @property
    def credits_cents(self) -> int:
        """What SLA credits take off the charges (a positive number)."""
        return -sum(line.amount_cents for line in self.lines if line.is_credit)

    @property
    def total_cents(self) -> int:
        """Charges minus credits."""
        return self.charges_cents - self.credits_cents


def invoice_id(tenant_id: str, month: str) -> str:
    return f"{tenant_id}:{month}"


def month_bounds(month: str) -> tuple[date, date]:
    """[first day, first day of the next month) of a 'YYYY-MM' month."""
    year, mon = (int(part) for part in month.split("-"))
    start = date(year, mon, 1)
    end = date(year + mon // 12, mon % 12 + 1, 1)
    return start, end


def price_month(
    catalog: Catalog,
    month: str,
    rated_usage: pl.DataFrame,
    subscriptions: list[ContractFee] = (),  # type: ignore[assignment]
    purchases: list[ContractFee] = (),  # type: ignore[assignment]
    credited: pl.DataFrame | None = None,
    availability: pl.DataFrame | None = None,
) -> list[InvoiceDraft]:
    """Invoices for `month` from its rated usage (`read_rated_usage`' frame over the month)
    and the subscriptions and purchases that touch it, less SLA credits from the month's
    credited deliveries and availability (`tollgate.billing.credits`' frames)."""
    start, end = month_bounds(month)
    by_tenant: dict[str, list[LineItem]] = {}
    for sub in subscriptions:
        line = subscription_line(catalog, sub, start, end)
        if line is not None:
            by_tenant.setdefault(sub.tenant_id, []).append(LineItem(**line))
    for pur in purchases:
        by_tenant.setdefault(pur.tenant_id, []).append(LineItem(**purchase_line(catalog, pur)))
    for row in _month_groups(catalog, rated_usage).iter_rows(named=True):
        line = delivery_line(catalog, row)
        by_tenant.setdefault(row["tenant_id"], []).append(LineItem(**line))
    credited = pl.DataFrame(schema=CREDITED_SCHEMA) if credited is None else credited
    availability = (
        pl.DataFrame(schema=AVAILABILITY_SCHEMA) if availability is None else availability
    )
    for tenant_id, lines in by_tenant.items():
        charges: dict[str, int] = {}
        for line in lines:
            charges[line.product_id] = charges.get(line.product_id, 0) + line.amount_cents
        credits = credit_lines(catalog, tenant_id, charges, credited, availability)
        lines.extend(LineItem(**c) for c in credits)
    return [
        InvoiceDraft(t, month, tuple(sorted(lines, key=_line_order)))
        for t, lines in sorted(by_tenant.items())
    ]


def _month_groups(catalog: Catalog, rated: pl.DataFrame) -> pl.DataFrame:
    """The month's usage summed per tenant, product and rating; unrated records priced."""
    for product_id in rated["product_id"].unique().to_list():
        try:
            catalog.product(product_id)
        except KeyError:
            tenant = rated.filter(pl.col("product_id") == product_id)["tenant_id"][0]
            raise BillingError(f"{tenant} used {product_id!r}, not in the catalog") from None
    unrated = rated.filter(pl.col("unit_price_micros").is_null())
    if unrated.height:
        prices = [
            _list_micros(catalog, r["product_id"], r["channel"], r["usage_date"])
            for r in unrated.iter_rows(named=True)
        ]
        priced = unrated.with_columns(
            pl.Series("unit_price_micros", prices, dtype=pl.Int64),
            pl.col("price_basis").fill_null("list"),
        )
        rated = pl.concat([rated.filter(pl.col("unit_price_micros").is_not_null()), priced])
    keys = ["tenant_id", "product_id", "channel", "kind", "unit_price_micros", "price_basis"]
    return (
        rated.with_columns(pl.col("price_basis").fill_null("list"))
        .group_by(*keys, "contract_id")
        .agg(pl.col("units").sum())
        .sort(*keys, "contract_id", nulls_last=True)
    )


def _list_micros(catalog: Catalog, product_id: str, channel: str, day: date) -> int:
    product = catalog.product(product_id)
    price = product.price_at(datetime.combine(day, time(), UTC))
    rate = price.rate(channel, product.lane)  # type: ignore[arg-type]
    return rate.micros if rate is not None else to_micros(price.usd)


def _line_order(line: LineItem) -> tuple:
    return (
        line.product_id,
        line.is_credit,  # a product's credits after its charges, availability's last
        line.kind == "sla_availability",
        line.channel is not None,  # a product's fees before its deliveries
        line.channel or "",
        line.price_basis or "",
        -int(line.amount_cents),
        line.contract_id or "",
    )
