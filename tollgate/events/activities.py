"""What customers do: shopping sessions down the funnel, and in-store card payments.

Each activity schedules its events (in event time, possibly minutes ahead) through a
`Schedule`; the generator merges all schedules into one time-ordered stream.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Protocol

from tollgate.events.contract import (
    MAX_AMOUNT_CENTS,
    FraudLabels,
)
from tollgate.events.population import CATEGORIES, REGION_MIX, SEARCH_TERMS, Customer

# Funnel: each step is reached with this probability given the previous one.
P_SEARCH = 0.45
P_MORE_VIEWS = 0.55  # after each page view, chance of another (mean 1 / (1 - p) views)
P_CART = 0.30
P_SECOND_ITEM = 0.30
P_CHECKOUT = 0.55
P_PURCHASE = 0.75
# Share of activities that are an in-store (point of sale) payment, not a web/app session.
P_STORE = 0.10
# Honest noise so fraud signals are not labels in disguise: travellers and new phones.
P_LEGIT_TRAVEL = 0.03
P_LEGIT_NEW_DEVICE = 0.02
# No single item above $20k: the long tail stays far below the contract's absurd bound.
MAX_ITEM_CENTS = 2_000_000
NOT_FRAUD = FraudLabels(is_fraud=False, pattern="none")
REGION_NAMES = tuple(REGION_MIX)


class Schedule(Protocol):
    """Where an activity puts its events: `push(ts, event_type, customer, session, device,
    payload, labels=None)`; `next_id(kind)` mints a deterministic id."""

    def push(
        self,
        ts: float,
        event_type: str,
        customer: Customer,
        session_id: str,
        device_id: str,
        payload: dict,
        labels: FraudLabels | None = None,
    ) -> None: ...

    def next_id(self, kind: str) -> str: ...


def expected_events_per_activity(fraud_events_per_legit_transaction: float) -> float:
    """Mean events one activity yields, so the activity rate can honour the event rate."""
    cart = P_CART
    checkout = cart * P_CHECKOUT
    purchase = checkout * P_PURCHASE
    session = P_SEARCH + 1 / (1 - P_MORE_VIEWS) + cart * (1 + P_SECOND_ITEM) + checkout
    session += 2 * purchase  # the purchase and its card transaction
    legit_transactions = (1 - P_STORE) * purchase + P_STORE
    return (
        (1 - P_STORE) * session + P_STORE + legit_transactions * fraud_events_per_legit_transaction
    )


class Shopper:
    """Turns a customer's visit into events; calls `on_payment(ts)` after each legit payment."""

    def __init__(self, rng: random.Random, schedule: Schedule, on_payment: Callable[[float], None]):
        self.rng = rng
        self.schedule = schedule
        self.on_payment = on_payment

    def activity(self, ts: float, customer: Customer) -> None:
        if self.rng.random() < P_STORE:
            self.store_payment(ts, customer)
        else:
            self.session(ts, customer)

    def session(self, ts: float, c: Customer) -> None:
        r, push = self.rng, self.schedule.push
        sid = self.schedule.next_id("s")
        device = c.devices[0] if r.random() < 0.8 else r.choice(c.devices)
        category = r.choice(c.favourite_categories) if r.random() < 0.75 else r.choice(CATEGORIES)
        if r.random() < P_SEARCH:
            query = r.choice(SEARCH_TERMS[category])
            push(ts, "search", c, sid, device, dict(query=query, category=category))
            ts += self._gap()
        views = 1
        while r.random() < P_MORE_VIEWS:
            views += 1
        for _ in range(views):
            sku = self.sku(category)
            push(ts, "page_view", c, sid, device, dict(category=category, product_sku=sku))
            ts += self._gap()
        if r.random() >= P_CART:
            return
        cart_value, items = 0, 0
        # The first item in the cart is the product last viewed.
        for _ in range(2 if r.random() < P_SECOND_ITEM else 1):
            quantity = 1 if r.random() < 0.85 else r.randint(2, 3)
            price = self.price_cents(c, 0.7)
            cart_value, items = cart_value + price * quantity, items + quantity
            payload = dict(category=category, product_sku=sku, quantity=quantity, price_cents=price)
            push(ts, "add_to_cart", c, sid, device, payload)
            ts += self._gap()
            sku = self.sku(category)
        if r.random() >= P_CHECKOUT:
            return
        push(ts, "checkout", c, sid, device, {"cart_value_cents": cart_value, "items": items})
        ts += self._gap()
        if r.random() >= P_PURCHASE:
            return
        order_id = self.schedule.next_id("ord")
        purchase = dict(order_id=order_id, category=category, amount_cents=cart_value)
        push(ts, "purchase", c, sid, device, purchase)
        channel = "app" if c.uses_app else "web"
        if r.random() < P_LEGIT_NEW_DEVICE:
            device = f"{c.devices[0]}-new{r.randrange(1000)}"
        self.payment(ts + r.uniform(0.05, 2.0), c, sid, device, cart_value, category, channel)

    def store_payment(self, ts: float, c: Customer) -> None:
        # A mobile-wallet tap at a till: the device is the customer's own phone.
        r = self.rng
        category = r.choice(c.favourite_categories) if r.random() < 0.6 else r.choice(CATEGORIES)
        amount = self.price_cents(c, 0.9)
        self.payment(ts, c, self.schedule.next_id("pos"), c.devices[0], amount, category, "pos")

    def payment(
        self,
        ts: float,
        c: Customer,
        session_id: str,
        device: str,
        amount: int,
        category: str,
        channel: str,
    ) -> None:
        r = self.rng
        card = c.cards[0] if r.random() < 0.8 else c.cards[-1]
        ip_region = c.home_region
        if r.random() < P_LEGIT_TRAVEL:
            ip_region = r.choice([x for x in REGION_NAMES if x != c.home_region])
        payload = transaction(
            self.schedule, r, amount, category, card, c.home_region, ip_region, channel
        )
        self.schedule.push(ts, "card_transaction", c, session_id, device, payload, NOT_FRAUD)
        self.on_payment(ts)

    def sku(self, category: str) -> str:
        # Popularity is long-tailed: a few best sellers, many rarely seen items.
        return f"{category[:4]}-{int(self.rng.paretovariate(1.1)) % 5000:04d}"

    def price_cents(self, c: Customer, sigma: float) -> int:
        return max(99, min(MAX_ITEM_CENTS, int(self.rng.lognormvariate(c.spend_mu, sigma))))

    def _gap(self) -> float:
        return 2.0 + self.rng.expovariate(1 / 25)


def transaction(
    schedule: Schedule,
    r: random.Random,
    amount: int,
    category: str,
    card: str,
    card_region: str,
    ip_region: str,
    channel: str,
) -> dict:
    return dict(
        transaction_id=schedule.next_id("tx"),
        amount_cents=min(amount, MAX_AMOUNT_CENTS),
        currency="USD",
        merchant_id=f"m-{category}-{r.randrange(40):03d}",
        merchant_category=category,
        card_id=card,
        card_region=card_region,
        ip_region=ip_region,
        channel=channel,
    )
