"""The catalog: the shipped one matches DESIGN.md; a bad one fails naming entry and field."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from tollgate.catalog import CatalogError, load_catalog

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = yaml.safe_load((ROOT / "catalog.yaml").read_text())

# The seed's market ranges (USD) per price model.
PRICE_RANGES = {
    "per_query": (0.50, 5.00),
    "per_record": (0.05, 0.25),
    "subscription_monthly": (10_000, 100_000),
    "one_time": (25_000, 100_000),
}


def product(doc: dict, product_id: str) -> dict:
    return next(p for p in doc["products"] if p["id"] == product_id)


def test_shipped_catalog_has_the_six_products_and_three_tiers():
    catalog = load_catalog(ROOT / "catalog.yaml")
    assert {p.id: p.lane for p in catalog.products} == {
        "transaction-risk": "live",
        "customer-journey-insights": "live",
        "region-activity": "live",
        "customer-behavior-daily": "batch",
        "transaction-insights-history": "batch",
        "market-trends": "batch",
    }
    assert list(catalog.tiers) == ["trial", "standard", "premium"]
    rates = [catalog.tiers[t].rate_limit_per_hour for t in ("trial", "standard", "premium")]
    assert rates == [10, 100, 1000]
    assert catalog.tiers["premium"].cache_ttl_seconds < catalog.tiers["standard"].cache_ttl_seconds
    assert set(catalog.tiers["premium"].products) == {p.id for p in catalog.products}
    assert catalog.regions == ["US-West", "US-East", "EU", "APAC"]


@pytest.mark.parametrize("p", SHIPPED["products"], ids=lambda p: p["id"])
def test_shipped_prices_fall_in_the_seed_ranges(p):
    low, high = PRICE_RANGES[p["price"]["model"]]
    assert low <= p["price"]["usd"] <= high


def test_every_price_model_is_sold():
    assert {p["price"]["model"] for p in SHIPPED["products"]} == set(PRICE_RANGES)


def _break(edit):
    doc = copy.deepcopy(SHIPPED)
    edit(doc)
    return doc


BAD_CATALOGS = {
    "duplicate id": (
        lambda d: d["products"].append(copy.deepcopy(product(d, "market-trends"))),
        "products[market-trends].id: duplicate product id",
    ),
    "unknown lane": (
        lambda d: product(d, "region-activity").update(lane="realtime"),
        "products[region-activity].lane: 'realtime' is not one of",
    ),
    "bad price model": (
        lambda d: product(d, "transaction-risk")["price"].update(model="per_minute"),
        "products[transaction-risk].price.model: 'per_minute' is not one of",
    ),
    "unknown tier product": (
        lambda d: d["tiers"]["standard"]["products"].append("weather-feed"),
        "tiers[standard].products: unknown product 'weather-feed'",
    ),
    "bad schema version": (
        lambda d: product(d, "market-trends")["schema_versions"][0].update(version="v2"),
        "products[market-trends].schema_versions[",
    ),
    "quality rule on unknown column": (
        lambda d: product(d, "market-trends")["quality"].update(not_null=["no_such_column"]),
        "products[market-trends].quality: 'no_such_column' is not a column",
    ),
    "negative price": (
        lambda d: product(d, "market-trends")["price"].update(usd=-1),
        "products[market-trends].price.usd",
    ),
    "push on a batch product": (
        lambda d: product(d, "customer-behavior-daily")["price"].update(
            push={"per": "message", "usd": 0.01}
        ),
        "products[customer-behavior-daily].price.push: a batch product has no push channel",
    ),
    "push priced per record": (
        lambda d: product(d, "transaction-risk")["price"]["push"].update(per="record"),
        "products[transaction-risk].price.push.per: 'record' is not one of message",
    ),
    "unknown unit": (
        lambda d: product(d, "transaction-risk")["price"]["push"].update(per="minute"),
        "products[transaction-risk].price.push",
    ),
    "finer than a micro-dollar": (
        lambda d: product(d, "transaction-risk")["price"]["push"].update(usd=0.0000001),
        "products[transaction-risk].price.push.usd: 1e-07 has more than 6 decimal places",
    ),
    "included without a contract": (
        lambda d: product(d, "transaction-risk")["price"].update(push="included"),
        "products[transaction-risk].price.push: only a subscription or a purchase includes",
    ),
    "one-time without its window": (
        lambda d: product(d, "market-trends")["price"].pop("includes_updates_days"),
        "products[market-trends].price.includes_updates_days: required for one_time",
    ),
    "empty answers billed per record": (
        lambda d: product(d, "customer-behavior-daily")["price"].update(bill_empty=True),
        "products[customer-behavior-daily].price.bill_empty: only a query channel priced per",
    ),
    "price change of model": (
        lambda d: product(d, "transaction-risk").update(
            price_changes=[{"effective_from": "2027-01-01", "model": "per_record", "usd": 0.2}]
        ),
        "products[transaction-risk].price_changes[0].model: must stay per_query",
    ),
    "price changes out of order": (
        lambda d: product(d, "transaction-risk").update(
            price_changes=[
                {"effective_from": "2027-03-01", "model": "per_query", "usd": 2},
                {"effective_from": "2027-02-01", "model": "per_query", "usd": 3},
            ]
        ),
        "products[transaction-risk].price_changes[1].effective_from: must be after 2027-03-01",
    ),
    "price change without a date": (
        lambda d: product(d, "transaction-risk").update(
            price_changes=[{"model": "per_query", "usd": 2}]
        ),
        "products[transaction-risk].price_changes[0].effective_from: required",
    ),
    "negative trial": (
        lambda d: d["tiers"]["trial"].update(trial_days=0),
        "tiers[trial].trial_days",
    ),
    "unknown field": (
        lambda d: d["tiers"]["trial"].update(rate_limit=5),
        "tiers[trial].rate_limit: unknown field",
    ),
}


@pytest.mark.parametrize("case", BAD_CATALOGS, ids=str)
def test_bad_catalog_fails_naming_entry_and_field(tmp_path, case):
    edit, expected = BAD_CATALOGS[case]
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(_break(edit), sort_keys=False))
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_schema_version_says_what_is_wrong(tmp_path):
    doc = _break(lambda d: product(d, "market-trends")["schema_versions"][0].update(version="v2"))
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(CatalogError, match=r"\.version: 'v2' is not MAJOR\.MINOR"):
        load_catalog(path)


def test_yaml_syntax_error(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text("products: [\n  - id: x\n")
    with pytest.raises(CatalogError, match=r"catalog\.yaml is not valid YAML"):
        load_catalog(path)


def test_missing_file(tmp_path):
    with pytest.raises(CatalogError, match="no file at .*nowhere.yaml"):
        load_catalog(tmp_path / "nowhere.yaml")


def test_document_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(CatalogError, match="must be a mapping"):
        load_catalog(path)


def test_the_price_in_force_follows_its_effective_days():
    from datetime import UTC, datetime

    from tollgate.catalog import parse_catalog

    doc = copy.deepcopy(SHIPPED)
    risk = product(doc, "transaction-risk")
    risk["price_changes"] = [{**risk["price"], "usd": 1.75, "effective_from": "2027-07-01"}]
    p = parse_catalog(doc).product("transaction-risk")
    before = datetime(2027, 6, 30, 23, 59, 59, tzinfo=UTC)
    assert p.price_at(before).usd == 1.50
    assert p.price_at(datetime(2027, 7, 1, tzinfo=UTC)).usd == 1.75
    assert p.price_at(datetime(2027, 7, 1, tzinfo=UTC)).rate("push", "live").micros == 500
