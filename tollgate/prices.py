"""Prices in the catalog: what a product's contract costs and what each channel costs.

A product is sold under one price model:
- per_query / per_record: pay per delivery, at the channel prices below;
- subscription_monthly: a monthly fee (`usd`), under a subscription the seller records;
- one_time: a purchase (`usd`), charged once, granting the snapshot versions published up
  to `includes_updates_days` after it.

Each channel a buyer can use says what it costs, per unit:
- query (REST answers): per query, or per record returned;
- push (Server-Sent Events, live products): per message, or included in a subscription;
- export (bulk files, batch products): per record.
A channel left out takes the model's default (a per_query product's queries cost `usd`
each; a per_record product's queries and exports cost `usd` per record; a subscription or
a purchase includes every channel of its lane); a channel neither stated nor implied is
not sold. Money is exact: every price is a whole number of micro-dollars.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tollgate.memo import PerObject

PriceModel = Literal["per_query", "per_record", "subscription_monthly", "one_time"]
Channel = Literal["query", "push", "export"]
Unit = Literal["query", "record", "message"]
CHANNELS: tuple[Channel, ...] = ("query", "push", "export")
LANE_CHANNELS: dict[str, tuple[Channel, ...]] = {
    "live": ("query", "push"),
    "batch": ("query", "export"),
}
# The units a channel may be priced in.
CHANNEL_UNITS: dict[Channel, tuple[Unit, ...]] = {
    "query": ("query", "record"),
    "push": ("message",),
    "export": ("record",),
}
MICROS = 1_000_000
INCLUDED = "included"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelPrice(_Strict):
    per: Unit
    usd: float = Field(ge=0)


class Price(_Strict):
    model: PriceModel
    usd: float = Field(gt=0)
    # Only in `price_changes`: from 00:00 UTC of this day, this price is in force.
    effective_from: date | None = None
    query: ChannelPrice | Literal["included"] | None = None
    push: ChannelPrice | Literal["included"] | None = None
    export: ChannelPrice | Literal["included"] | None = None
    # An answer with no rows (an empty page) is rated $0 unless this is true.
    bill_empty: bool = False
    # one_time: the purchase grants snapshot versions published up to this many days after it.
    includes_updates_days: int | None = Field(default=None, ge=0)

    def rate(self, channel: Channel, lane: str) -> ChannelRate | None:
        """What one unit of `channel` costs under this price, or None: the channel is not sold."""
        if channel not in LANE_CHANNELS[lane]:
            return None
        return _RATES.get(self, channel)

    def _rate(self, channel: Channel) -> ChannelRate | None:
        stated = getattr(self, channel)
        if stated == INCLUDED:
            return ChannelRate(channel, _included_unit(channel), 0, included=True)
        if isinstance(stated, ChannelPrice):
            return ChannelRate(channel, stated.per, to_micros(stated.usd))
        return _default_rate(self, channel)


@dataclass(frozen=True)
class ChannelRate:
    """The price of one unit delivered on a channel, in micro-dollars (0 when included)."""

    channel: Channel
    unit: Unit
    micros: int
    included: bool = False

    @property
    def usd(self) -> Decimal:
        return Decimal(self.micros) / MICROS


# Worked out once per price object and channel: every metered answer asks (twice).
_RATES = PerObject(Price._rate)


def _default_rate(price: Price, channel: Channel) -> ChannelRate | None:
    if price.model in ("subscription_monthly", "one_time"):
        return ChannelRate(channel, _included_unit(channel), 0, included=True)
    micros = to_micros(price.usd)
    if price.model == "per_query" and channel == "query":
        return ChannelRate("query", "query", micros)
    if price.model == "per_record" and channel in ("query", "export"):
        return ChannelRate(channel, "record", micros)
    return None


def _included_unit(channel: Channel) -> Unit:
    # Counted for usage reporting only: included deliveries are rated $0.
    return {"query": "record", "push": "message", "export": "record"}[channel]


@lru_cache(maxsize=4096)  # a pure function of a few catalog amounts, asked on every answer
def to_micros(usd: float | Decimal) -> int:
    """Exact micro-dollars of a catalog amount; ValueError if it has finer than 6 decimals."""
    value = Decimal(str(usd)) * MICROS
    if value != value.to_integral_value():
        raise ValueError(f"{usd} has more than 6 decimal places")
    return int(value)


def check_price(price: Price, lane: str) -> tuple[str, str] | None:
    """The first fault of a price for a product of `lane`, as (field, reason), or None."""
    for name in ("usd", *CHANNELS):
        value = getattr(price, name)
        amount = value.usd if isinstance(value, ChannelPrice) else value
        if isinstance(amount, float | int) and not isinstance(amount, bool):
            try:
                to_micros(amount)
            except ValueError as exc:
                return (name if name == "usd" else f"{name}.usd"), str(exc)
    for channel in CHANNELS:
        stated = getattr(price, channel)
        if stated is None:
            continue
        if channel not in LANE_CHANNELS[lane]:
            return channel, f"a {lane} product has no {channel} channel"
        if isinstance(stated, ChannelPrice) and stated.per not in CHANNEL_UNITS[channel]:
            allowed = ", ".join(CHANNEL_UNITS[channel])
            return f"{channel}.per", f"{stated.per!r} is not one of {allowed}"
        if stated == INCLUDED and price.model not in ("subscription_monthly", "one_time"):
            return channel, f"only a subscription or a purchase includes a channel ({price.model})"
    if price.model == "one_time":
        if lane != "batch":
            return "model", "one_time products are batch products (a purchase grants snapshots)"
        if price.includes_updates_days is None:
            return "includes_updates_days", "required for one_time: which snapshots it grants"
    elif price.includes_updates_days is not None:
        return "includes_updates_days", "only a one_time purchase grants snapshot versions"
    query = price.rate("query", lane)
    if price.bill_empty and (query is None or query.unit != "query"):
        return "bill_empty", "only a query channel priced per query can bill empty answers"
    return None


def price_history_fault(price: Price, changes: list[Price], lane: str) -> str | None:
    """The first fault of a product's price and its later changes, as 'field: reason'
    (the field under the product), or None. A change keeps the model and takes effect on a
    day after the one before."""
    if price.effective_from is not None:
        return "price.effective_from: the first price has no start date"
    previous = None
    for n, entry in enumerate([price, *changes]):
        field = "price" if n == 0 else f"price_changes[{n - 1}]"
        fault = check_price(entry, lane)
        if fault is not None:
            return f"{field}.{fault[0]}: {fault[1]}"
        if n == 0:
            continue
        if entry.model != price.model:
            return (
                f"{field}.model: must stay {price.model} (a price change keeps the contract; "
                "sell another product for another model)"
            )
        if entry.effective_from is None:
            return f"{field}.effective_from: required for a price change"
        if previous is not None and entry.effective_from <= previous:
            return f"{field}.effective_from: must be after {previous.isoformat()}"
        previous = entry.effective_from
    return None
