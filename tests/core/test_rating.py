"""Rating a delivery: units and price follow the channel, the contract and the price in
force, as a table."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tollgate.catalog import load_catalog
from tollgate.contracts import LIST, Terms
from tollgate.rating import NotSold, rate

AT = datetime(2026, 11, 24, 8, tzinfo=UTC)
SUB, BUY = Terms("subscription", "sub_1"), Terms("purchase", "pur_1")

CASES = [
    # product, channel, terms, rows -> kind, units, micros, basis
    ("transaction-risk", "query", LIST, 40, ("query", 1, 1_500_000, "list")),
    ("transaction-risk", "query", LIST, 0, ("query", 1, 0, "empty")),
    ("transaction-risk", "push", LIST, 7, ("messages", 7, 500, "list")),
    ("transaction-risk", "query", Terms("trial"), 3, ("query", 1, 0, "trial")),
    ("customer-behavior-daily", "query", LIST, 40, ("records", 40, 100_000, "list")),
    ("customer-behavior-daily", "query", LIST, 0, ("query", 1, 0, "empty")),
    ("customer-behavior-daily", "export", LIST, 900, ("export", 900, 100_000, "list")),
    ("customer-behavior-daily", "export", Terms("trial"), 9, ("export", 9, 0, "trial")),
    ("region-activity", "push", SUB, 12, ("messages", 12, 0, "subscription")),
    ("region-activity", "query", SUB, 60, ("records", 60, 0, "subscription")),
    ("market-trends", "query", BUY, 100, ("records", 100, 0, "purchase")),
    ("market-trends", "export", BUY, 5000, ("export", 5000, 0, "purchase")),
]


@pytest.mark.parametrize(("product_id", "channel", "terms", "rows", "expected"), CASES)
def test_rating(settings, product_id, channel, terms, rows, expected):
    product = load_catalog(settings.catalog_path).product(product_id)
    r = rate(product, channel, terms, rows, AT)
    assert (r.kind, r.units, r.unit_price_micros, r.price_basis) == expected
    assert r.channel == channel and r.contract_id == terms.contract_id


def test_a_channel_the_price_does_not_sell(settings):
    catalog = load_catalog(settings.catalog_path)
    with pytest.raises(NotSold):
        rate(catalog.product("customer-behavior-daily"), "push", LIST, 1, AT)
    with pytest.raises(NotSold):
        rate(catalog.product("transaction-risk"), "export", LIST, 1, AT)
