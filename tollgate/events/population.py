"""The synthetic world's people and rhythms: customers with stable habits, and activity cycles.

The population depends on the seed only (never on the start time), so a customer keeps
the same home region, devices, cards and habits across a backfill and a later live feed.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass

from tollgate.events.contract import REGIONS

# Share of customers per home region.
REGION_MIX: dict[str, float] = {"US-East": 0.35, "US-West": 0.25, "EU": 0.25, "APAC": 0.15}
# Rough local-time offset of each region, in hours from UTC, for the daily cycle.
REGION_UTC_OFFSET: dict[str, int] = {"US-West": -8, "US-East": -5, "EU": 1, "APAC": 8}

CATEGORIES: tuple[str, ...] = (
    "electronics", "fashion", "home", "grocery", "beauty",
    "sports", "books", "toys", "gaming", "travel",
)  # fmt: skip
SEARCH_TERMS: dict[str, tuple[str, ...]] = {
    "electronics": ("wireless headphones", "usb-c charger", "4k monitor", "smart watch"),
    "fashion": ("running shoes", "winter jacket", "linen shirt", "leather belt"),
    "home": ("coffee maker", "desk lamp", "bath towels", "air purifier"),
    "grocery": ("organic coffee", "olive oil", "protein bars", "green tea"),
    "beauty": ("sunscreen spf 50", "face serum", "shampoo", "lip balm"),
    "sports": ("yoga mat", "dumbbells", "bike helmet", "tennis balls"),
    "books": ("science fiction", "cookbook", "python programming", "history of rome"),
    "toys": ("lego set", "board game", "puzzle 1000", "plush bear"),
    "gaming": ("controller", "gaming mouse", "gift card", "headset"),
    "travel": ("carry-on luggage", "travel adapter", "neck pillow", "passport holder"),
}

# Activity by local hour (0-23) and by weekday (Mon-Sun), each normalised to a mean of 1,
# so the configured rate stays the long-run mean.
_HOURLY = (0.35, 0.25, 0.18, 0.15, 0.15, 0.2, 0.35, 0.6, 0.85, 1.0, 1.1, 1.2,
           1.3, 1.25, 1.2, 1.2, 1.25, 1.35, 1.5, 1.65, 1.7, 1.55, 1.1, 0.65)  # fmt: skip
_WEEKLY = (0.95, 0.93, 0.95, 0.98, 1.05, 1.1, 1.04)
HOURLY_FACTOR = tuple(h * 24 / sum(_HOURLY) for h in _HOURLY)
WEEKLY_FACTOR = tuple(w * 7 / sum(_WEEKLY) for w in _WEEKLY)
MAX_CYCLE_FACTOR = max(HOURLY_FACTOR) * max(WEEKLY_FACTOR)
assert set(REGION_MIX) == set(REGIONS) == set(REGION_UTC_OFFSET)


def cycle_factor(region: str, ts: float) -> float:
    """How busy a region is at a UTC timestamp, relative to its mean (1.0)."""
    local_hours = int(ts // 3600) + REGION_UTC_OFFSET[region]
    # 1970-01-01 was a Thursday: weekday index 3 with Monday = 0.
    weekday = (local_hours // 24 + 3) % 7
    return HOURLY_FACTOR[local_hours % 24] * WEEKLY_FACTOR[weekday]


@dataclass(frozen=True, slots=True)
class Customer:
    customer_id: str
    home_region: str
    devices: tuple[str, ...]  # first is the primary device
    cards: tuple[str, ...]
    favourite_categories: tuple[str, ...]
    spend_mu: float  # log of the typical item price in cents
    uses_app: bool

    def typical_spend_cents(self) -> int:
        return int(math.exp(self.spend_mu))


@dataclass(frozen=True)
class Population:
    customers: tuple[Customer, ...]
    # Cumulative activity weights: a few customers are much busier than most.
    cumulative_activity: tuple[float, ...]

    def pick(self, rng: random.Random) -> Customer:
        cumulative = self.cumulative_activity
        return self.customers[bisect.bisect(cumulative, rng.random() * cumulative[-1])]


def build_population(seed: int, size: int) -> Population:
    """The customers of a seed: same seed and size, same people."""
    if size < 1:
        raise ValueError("a population needs at least one customer")
    rng = random.Random(f"population:{seed}")
    regions, region_weights = list(REGION_MIX), list(REGION_MIX.values())
    customers, cumulative, total = [], [], 0.0
    for n in range(size):
        cid = f"cust-{n:06d}"
        n_devices = rng.choices((1, 2, 3), weights=(0.55, 0.35, 0.10))[0]
        n_cards = rng.choices((1, 2), weights=(0.75, 0.25))[0]
        customers.append(
            Customer(
                customer_id=cid,
                home_region=rng.choices(regions, weights=region_weights)[0],
                devices=tuple(f"dev-{n:06d}-{k}" for k in range(n_devices)),
                cards=tuple(f"card-{n:06d}-{k}" for k in range(n_cards)),
                favourite_categories=tuple(rng.sample(CATEGORIES, rng.randint(2, 3))),
                spend_mu=math.log(2500) + rng.gauss(0.0, 0.6),
                uses_app=rng.random() < 0.45,
            )
        )
        total += rng.lognormvariate(0.0, 1.0)
        cumulative.append(total)
    return Population(tuple(customers), tuple(cumulative))
