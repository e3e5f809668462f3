"""Which contract a delivery is made under, decided from the records of what was bought.

`decide_terms` is the one rule every channel (REST, push, export) applies before serving:
- a trial tier serves its products at $0 until `trial_days` after the tier began, then
  refuses with `trial_expired`, naming the tiers to upgrade to;
- a channel the product's price neither states nor implies is not sold (`channel_not_sold`);
- a subscription product is served only under a subscription active now
  (`subscription_required`); a one-time product only under a purchase
  (`purchase_required`), which grants the snapshots published up to its `updates_until`;
- anything else is served at the list price of the channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from tollgate.catalog import Catalog, Product
from tollgate.errors import NotEntitled
from tollgate.prices import Channel

Basis = Literal["list", "trial", "subscription", "purchase"]


@dataclass(frozen=True)
class Terms:
    """The contract a tenant is served a product under, right now."""

    basis: Basis
    contract_id: str | None = None
    # A purchase: snapshot versions published up to this time are the buyer's.
    updates_until: datetime | None = None

    def to_json(self) -> dict:
        until = self.updates_until.isoformat() if self.updates_until else None
        return {"basis": self.basis, "contract_id": self.contract_id, "updates_until": until}

    @classmethod
    def from_json(cls, raw: dict) -> Terms:
        until = raw.get("updates_until")
        return cls(
            raw["basis"], raw.get("contract_id"), datetime.fromisoformat(until) if until else None
        )


LIST = Terms("list")


@dataclass(frozen=True)
class ContractRow:
    """A subscription or purchase as the gate needs it: active over [starts_at, ends_at)."""

    id: str
    product_id: str
    starts_at: datetime
    ends_at: datetime | None
    updates_until: datetime | None = None  # purchases only


def trial_ends_at(catalog: Catalog, tier: str, tier_since: datetime) -> datetime | None:
    days = catalog.tiers[tier].trial_days
    return tier_since + timedelta(days=days) if days is not None else None


def check_trial(
    catalog: Catalog, tier: str, tier_since: datetime, product_id: str, now: datetime
) -> bool:
    """True on a trial still running; NotEntitled `trial_expired` on one that has ended."""
    ends = trial_ends_at(catalog, tier, tier_since)
    if ends is not None and now >= ends:
        upgrades = catalog.upgrade_tiers(product_id)
        raise _refuse(
            "trial_expired",
            f"the trial ended on {ends:%Y-%m-%d %H:%M} UTC; upgrade to {' or '.join(upgrades)} "
            f"to keep using {product_id}",
            {"product_id": product_id, "trial_ended_at": ends.isoformat(), "upgrade_to": upgrades},
        )
    return ends is not None


def decide_terms(
    catalog: Catalog,
    tier: str,
    tier_since: datetime,
    product: Product,
    channel: Channel,
    now: datetime,
    subscriptions: Sequence[ContractRow] = (),
    purchases: Sequence[ContractRow] = (),
) -> Terms:
    """The terms `product` is served under on `channel` now, or NotEntitled with the code
    and details a buyer acts on. The tier is assumed to include the product."""
    on_trial = check_trial(catalog, tier, tier_since, product.id, now)
    price = product.price_at(now)
    if price.rate(channel, product.lane) is None:
        raise _refuse(
            "channel_not_sold",
            f"{product.id} is not sold over {channel}",
            {"product_id": product.id, "channel": channel},
        )
    if on_trial:
        return Terms("trial")
    if price.model == "subscription_monthly":
        active = [s for s in subscriptions if s.product_id == product.id and _active(s, now)]
        if not active:
            raise _refuse(
                "subscription_required",
                f"{product.id} is sold by subscription and this tenant has none active; "
                "ask the seller to subscribe you",
                {"product_id": product.id, "price_model": price.model},
            )
        return Terms("subscription", active[0].id)
    if price.model == "one_time":
        owned = [p for p in purchases if p.product_id == product.id and p.starts_at <= now]
        if not owned:
            raise _refuse(
                "purchase_required",
                f"{product.id} is sold once; buy it with POST /v1/purchases first",
                {"product_id": product.id, "price_model": price.model, "price_usd": price.usd},
            )
        best = max(owned, key=lambda p: p.updates_until or p.starts_at)
        return Terms("purchase", best.id, best.updates_until)
    return LIST


def _active(row: ContractRow, now: datetime) -> bool:
    return row.starts_at <= now and (row.ends_at is None or now < row.ends_at)


def _refuse(code: str, message: str, details: dict) -> NotEntitled:
    return NotEntitled(message, code, details)
