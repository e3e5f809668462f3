"""Rating: the price of one delivery, decided when it happens and recorded with it.

The ledger keeps what was delivered (channel, units) with the unit price applied and why
(`price_basis`), so an invoice is a sum of recorded amounts: editing the catalog later, or
moving a tenant to another tier, never re-prices a past delivery.

- list: the channel's price in force at the delivery (`Product.price_at`);
- trial: $0, whatever the channel costs (the quantity still shows on the invoice);
- subscription / purchase: $0 for a channel the contract includes, else its price;
- empty: an answer with no rows is one query at $0, unless the price says `bill_empty`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tollgate.catalog import Product
from tollgate.contracts.terms import Terms
from tollgate.prices import Channel

# The ledger's `kind`: the unit its `units` count.
KIND_OF_UNIT = {"query": "query", "record": "records", "message": "messages"}


@dataclass(frozen=True)
class Rating:
    channel: Channel
    kind: str
    units: int
    unit_price_micros: int
    price_basis: str
    contract_id: str | None

    def fields(self) -> dict:
        return {
            "channel": self.channel,
            "kind": self.kind,
            "units": self.units,
            "unit_price_micros": self.unit_price_micros,
            "price_basis": self.price_basis,
            "contract_id": self.contract_id,
        }


class NotSold(ValueError):
    """The product's price does not sell the channel (the gate refuses it earlier)."""


def rate(product: Product, channel: Channel, terms: Terms, rows: int, at: datetime) -> Rating:
    """The rating of a delivery of `rows` rows (records, or pushed messages) at `at`."""
    price = product.price_at(at)
    rate_ = price.rate(channel, product.lane)
    if rate_ is None:
        raise NotSold(f"{product.id} is not sold over {channel}")
    if channel == "query" and rows == 0 and not price.bill_empty:
        return Rating(channel, "query", 1, 0, "empty", terms.contract_id)
    units = 1 if rate_.unit == "query" else rows
    kind = "export" if channel == "export" else KIND_OF_UNIT[rate_.unit]
    micros = 0 if terms.basis == "trial" else rate_.micros
    return Rating(channel, kind, units, micros, terms.basis, terms.contract_id)
