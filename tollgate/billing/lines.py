"""Invoice lines, one function per kind of charge; each returns the line's fields.

Descriptions say how the amount was reached, so a buyer can check every line by hand.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from tollgate.catalog import Catalog
from tollgate.prices import MICROS

CENT = Decimal("0.01")
_UNIT_WORDS = {
    ("query", "query"): "queries",
    ("query", "records"): "records",
    ("push", "messages"): "messages pushed",
    ("export", "export"): "records exported",
}


@dataclass(frozen=True)
class ContractFee:
    """A subscription (active over [starts_at, ends_at)) or a purchase (at starts_at)."""

    id: str
    tenant_id: str
    product_id: str
    price_micros: int
    starts_at: datetime
    ends_at: datetime | None = None
    updates_until: datetime | None = None


def cents(usd: Decimal) -> int:
    return int((usd.quantize(CENT, rounding=ROUND_HALF_UP) * 100).to_integral_value())


def usd_text(amount: Decimal) -> str:
    """$1.50, $0.0005, $25,000.00, -$4.50 (a credit): cents always, finer digits only when
    the price has them."""
    text = f"{abs(amount):,.6f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{'-' if amount < 0 else ''}${whole}.{frac.ljust(2, '0')}"


def active_days(sub: ContractFee, start: date, end: date) -> list[date]:
    """The UTC days in [start, end) on which the subscription was active for any part of
    the day."""
    days = []
    day = start
    while day < end:
        begin = datetime.combine(day, time(), UTC)
        if sub.starts_at < begin + timedelta(days=1) and (
            sub.ends_at is None or sub.ends_at > begin
        ):
            days.append(day)
        day += timedelta(days=1)
    if sub.ends_at is not None and sub.ends_at <= sub.starts_at:
        return []  # cancelled before it started: never active
    return days


def subscription_line(catalog: Catalog, sub: ContractFee, start: date, end: date) -> dict | None:
    days = active_days(sub, start, end)
    if not days:
        return None
    in_month = calendar.monthrange(start.year, start.month)[1]
    monthly = Decimal(sub.price_micros) / MICROS
    amount = monthly * len(days) / in_month
    span = f"{days[0]:%b %d}" + (f"-{days[-1]:%b %d}" if len(days) > 1 else "")
    return {
        "product_id": sub.product_id,
        "price_model": catalog.product(sub.product_id).price.model,
        "description": (
            f"subscription {sub.id}: active {len(days)} of {in_month} days "
            f"({span}), {usd_text(monthly)}/month x "
            f"{len(days)}/{in_month}"
        ),
        "quantity": len(days),
        "unit_price_usd": (monthly / in_month).quantize(Decimal("0.000001")),
        "amount_cents": cents(amount),
        "contract_id": sub.id,
        "price_basis": "subscription",
    }


def purchase_line(catalog: Catalog, pur: ContractFee) -> dict:
    price = Decimal(pur.price_micros) / MICROS
    until = f"; snapshots published until {pur.updates_until:%Y-%m-%d}" if pur.updates_until else ""
    return {
        "product_id": pur.product_id,
        "price_model": catalog.product(pur.product_id).price.model,
        "description": f"one-time purchase {pur.id} on {pur.starts_at:%Y-%m-%d}{until}",
        "quantity": 1,
        "unit_price_usd": price,
        "amount_cents": cents(price),
        "contract_id": pur.id,
        "price_basis": "purchase",
    }


def delivery_line(catalog: Catalog, row: dict) -> dict:
    """A line for one group of deliveries: tenant, product, channel, kind, unit price,
    basis and contract, with the summed units."""
    units, micros, basis = int(row["units"]), int(row["unit_price_micros"]), row["price_basis"]
    words = _UNIT_WORDS.get((row["channel"], row["kind"]), row["kind"])
    contract = row["contract_id"]
    if basis == "empty":
        text = f"{units:,} empty answers, not charged"
    elif basis == "trial":
        text = f"{units:,} {words} on trial, not charged"
    elif micros == 0 and contract:
        text = f"{units:,} {words}, included in {basis} {contract}"
    else:
        text = f"{units:,} {words} x {usd_text(Decimal(micros) / MICROS)}"
    price = Decimal(micros) / MICROS
    return {
        "product_id": row["product_id"],
        "price_model": catalog.product(row["product_id"]).price.model,
        "description": text,
        "quantity": units,
        "unit_price_usd": price,
        "amount_cents": cents(price * units),
        "channel": row["channel"],
        "price_basis": basis,
        "contract_id": contract,
        "kind": row["kind"],
    }
