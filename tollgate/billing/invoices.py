"""Monthly invoices from monthly usage: one line per product a tenant was delivered.

How each price model bills a month:
- per_query: queries delivered x price.
- per_record: records delivered x price.
- subscription_monthly: the monthly fee, once, for every month in which the tenant received
  at least one message of the feed (the ledger is the evidence of an active subscription;
  a month with no delivery is not billed). Messages are shown for usage reporting only.
- one_time: the dump price, once per tenant and product ever: on the invoice of the month
  of the tenant's first delivery of it; later deliveries are free.
Amounts are exact: Decimal arithmetic, rounded half-up to the cent once per line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import polars as pl

from tollgate.catalog import Catalog

CENT = Decimal("0.01")


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


@dataclass(frozen=True)
class InvoiceDraft:
    tenant_id: str
    month: str  # YYYY-MM
    lines: tuple[LineItem, ...]

    @property
    def id(self) -> str:
        return invoice_id(self.tenant_id, self.month)

    @property
    def total_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines)


def invoice_id(tenant_id: str, month: str) -> str:
    return f"{tenant_id}:{month}"


def month_bounds(month: str) -> tuple[date, date]:
    """[first day, first day of the next month) of a 'YYYY-MM' month."""
    year, mon = (int(part) for part in month.split("-"))
    start = date(year, mon, 1)
    end = date(year + mon // 12, mon % 12 + 1, 1)
    return start, end


def cents(usd: Decimal) -> int:
    return int((usd.quantize(CENT, rounding=ROUND_HALF_UP) * 100).to_integral_value())


def price_month(
    catalog: Catalog,
    month: str,
    monthly_usage: pl.DataFrame,
    bought_before: set[tuple[str, str]],
) -> list[InvoiceDraft]:
    """Invoices for `month` from usage summed per (tenant_id, product_id) over the month
    (columns requests, units), and the (tenant, product) pairs delivered before the month
    (a one-time dump already charged then)."""
    by_tenant: dict[str, list[LineItem]] = {}
    for row in monthly_usage.sort("tenant_id", "product_id").iter_rows(named=True):
        tenant, product_id = row["tenant_id"], row["product_id"]
        try:
            product = catalog.product(product_id)
        except KeyError:
            raise BillingError(f"{tenant} used {product_id!r}, not in the catalog") from None
        price = Decimal(str(product.price.usd))
        model = product.price.model
        units = int(row["units"])
        if model == "per_query":
            line = LineItem(
                product_id, model, f"{units} queries", units, price, cents(price * units)
            )
        elif model == "per_record":
            line = LineItem(
                product_id, model, f"{units} records", units, price, cents(price * units)
            )
        elif model == "subscription_monthly":
            line = LineItem(
                product_id,
                model,
                f"monthly subscription ({units} messages)",
                1,
                price,
                cents(price),
            )
        else:  # one_time
            if (tenant, product_id) in bought_before:
                continue  # charged in the month of the first delivery, never again
            line = LineItem(
                product_id, model, f"one-time dump ({units} records)", 1, price, cents(price)
            )
        by_tenant.setdefault(tenant, []).append(line)
    return [InvoiceDraft(t, month, tuple(lines)) for t, lines in sorted(by_tenant.items())]


def monthly_totals(daily_usage: pl.DataFrame) -> pl.DataFrame:
    """Sum daily usage rows into one row per (tenant_id, product_id)."""
    return daily_usage.group_by("tenant_id", "product_id").agg(
        pl.col("requests").sum(),
        pl.col("units").sum(),
        pl.col("bytes").sum(),
        pl.col("compute_ms").sum(),
    )
