"""Fraud on a victim's card, labelled with its pattern so scoring can be evaluated.

Patterns: a burst of card-testing payments within minutes, a payment from a region that
is not the card's (geo mismatch), an amount far above the customer's habit (spike), and a
payment from a device the customer never used (new device). Fraud is card-not-present.
"""

from __future__ import annotations

import random

from tollgate.events.activities import REGION_NAMES, Schedule, transaction
from tollgate.events.contract import FraudLabels
from tollgate.events.population import Population

# (pattern, weight): how often each pattern is the one an incident follows
PATTERNS: tuple[tuple[str, float], ...] = (
    ("burst", 0.30),
    ("geo_mismatch", 0.25),
    ("amount_spike", 0.25),
    ("new_device", 0.20),
)
BURST_SIZE = (3, 7)  # transactions in one burst, uniform
BURST_SPAN_SECONDS = 300.0
FRAUD_CATEGORIES = ("electronics", "gaming", "travel", "fashion")
MEAN_TRANSACTIONS_PER_INCIDENT = sum(
    w * ((BURST_SIZE[0] + BURST_SIZE[1]) / 2 if name == "burst" else 1) for name, w in PATTERNS
)
_LABELS = {name: FraudLabels(is_fraud=True, pattern=name) for name, _ in PATTERNS}


def incidents_per_legit_payment(fraud_rate: float) -> float:
    """How often to start an incident after a legit payment so that fraud is `fraud_rate`
    of all card transactions: fraud / legit = rate / (1 - rate)."""
    return fraud_rate / (1 - fraud_rate) / MEAN_TRANSACTIONS_PER_INCIDENT


class Fraudster:
    def __init__(self, rng: random.Random, schedule: Schedule, population: Population):
        self.rng = rng
        self.schedule = schedule
        self.population = population
        self._names = [name for name, _ in PATTERNS]
        self._weights = [w for _, w in PATTERNS]

    def incident(self, ts: float) -> None:
        r = self.rng
        victim = self.population.pick(r)
        pattern = r.choices(self._names, weights=self._weights)[0]
        card = r.choice(victim.cards)
        home = victim.home_region
        fraud_device = f"dev-x{r.randrange(16**8):08x}"
        session = self.schedule.next_id("s")
        category = r.choice(FRAUD_CATEGORIES)
        typical = victim.typical_spend_cents()
        channel = r.choice(("web", "app"))
        labels = _LABELS[pattern]

        def pay(at: float, amount: int, device: str, ip_region: str) -> None:
            payload = transaction(
                self.schedule, r, amount, category, card, home, ip_region, channel
            )
            self.schedule.push(at, "card_transaction", victim, session, device, payload, labels)

        if pattern == "burst":
            # Small-to-medium amounts in quick succession from one device: card testing.
            at = ts
            for _ in range(r.randint(*BURST_SIZE)):
                pay(at, int(typical * r.uniform(0.3, 2.0)), fraud_device, home)
                at += r.uniform(5.0, BURST_SPAN_SECONDS / BURST_SIZE[1])
        elif pattern == "geo_mismatch":
            abroad = r.choice([x for x in REGION_NAMES if x != home])
            pay(ts, int(typical * r.uniform(1.0, 4.0)), fraud_device, abroad)
        elif pattern == "amount_spike":
            # Account takeover on the customer's own device, spending far above habit.
            pay(ts, int(typical * r.uniform(10.0, 40.0)), victim.devices[0], home)
        else:
            pay(ts, int(typical * r.uniform(1.0, 3.0)), fraud_device, home)
