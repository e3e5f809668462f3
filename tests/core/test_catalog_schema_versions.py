"""Schema versions: each states its columns and renames; the catalog refuses inconsistent
versions naming product, version and field; shapes project stored rows; the lifecycle
(deprecated from a successor's announcement, retired after its sunset) follows the dates."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import yaml

from tollgate.catalog import CatalogError, load_catalog, parse_catalog
from tollgate.schema_versions import NotHeld

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = yaml.safe_load((ROOT / "catalog.yaml").read_text())
RISK = "transaction-risk"


def _versions(doc: dict, product_id: str = RISK) -> list[dict]:
    return next(p for p in doc["products"] if p["id"] == product_id)["schema_versions"]


def _with(edit) -> dict:
    doc = copy.deepcopy(SHIPPED)
    edit(_versions(doc))
    return doc


BAD_VERSIONS = {
    "older version without columns": (
        lambda v: v[0].pop("columns"),
        "products[transaction-risk].schema_versions[1.2].columns: required for a version "
        "older than 1.3",
    ),
    "older column dropped without a rename": (
        lambda v: v[1].update(renames={}),
        "products[transaction-risk].schema_versions[1.2].columns: 'score' is not in 1.3",
    ),
    "rename from a column the predecessor lacks": (
        lambda v: v[1].update(renames={"score": "fraud_score", "tier": "risk_level"}),
        "products[transaction-risk].schema_versions[1.3].renames: 'tier' is not a column of 1.2",
    ),
    "rename to a column the version lacks": (
        lambda v: v[1].update(renames={"score": "fraud_scr"}),
        "products[transaction-risk].schema_versions[1.3].renames: 'fraud_scr' is not a column",
    ),
    "newest version's columns differ from the product's": (
        lambda v: v[1].update(columns=["transaction_id", "fraud_score"]),
        "products[transaction-risk].schema_versions[1.3].columns: the newest version serves "
        "the product's columns",
    ),
    "successor without an announcement": (
        lambda v: v[1].pop("announced"),
        "products[transaction-risk].schema_versions[1.3].announced: required",
    ),
    "predecessor without a sunset": (
        lambda v: v[0].pop("backward_compatible_until"),
        "products[transaction-risk].schema_versions[1.2].backward_compatible_until: required",
    ),
    "sunset before the successor was announced": (
        lambda v: v[1].update(announced="2026-07-01"),
        "products[transaction-risk].schema_versions[1.2].backward_compatible_until: 2026-06-30 "
        "is before its successor 1.3 was announced (2026-07-01)",
    ),
    "versions out of order": (
        lambda v: v.reverse(),
        "products[transaction-risk].schema_versions: list versions oldest first",
    ),
    "duplicate version": (
        lambda v: v.append(copy.deepcopy(v[1])),
        "products[transaction-risk].schema_versions: duplicate version",
    ),
    "duplicate column in a version": (
        lambda v: v[0]["columns"].append("region"),
        "products[transaction-risk].schema_versions[1.2].columns: duplicate column name",
    ),
    "rename on the oldest version": (
        lambda v: v[0].update(renames={"a": "b"}),
        "products[transaction-risk].schema_versions[1.2].renames: the oldest version",
    ),
    "older version without the key column": (
        lambda v: v[0]["columns"].remove("transaction_id"),
        "products[transaction-risk].schema_versions[1.2].columns: 'transaction_id' (key, time "
        "or region column) is missing",
    ),
    "column name that is not an identifier": (
        lambda v: v[0]["columns"].append("Risk Band"),
        "products[transaction-risk].schema_versions[1.2].columns: 'Risk Band' is not a",
    ),
    "unknown version field": (
        lambda v: v[0].update(sunset="2026-06-30"),
        "products[transaction-risk].schema_versions[1.2].sunset: unknown field",
    ),
}


@pytest.mark.parametrize("case", BAD_VERSIONS, ids=str)
def test_inconsistent_versions_fail_naming_product_version_and_field(tmp_path, case):
    edit, expected = BAD_VERSIONS[case]
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(_with(edit), sort_keys=False))
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    assert expected in str(err.value)


def test_each_version_serves_its_own_columns_under_its_own_names():
    product = load_catalog(ROOT / "catalog.yaml").product(RISK)
    shapes = product.shapes()
    old, new = shapes["1.2"], shapes["1.3"]
    assert new.names == product.column_names and new.identity
    assert old.names == [
        "transaction_id", "customer_id", "region", "event_at", "amount_cents",
        "merchant_category", "score", "risk_level",
    ]  # fmt: skip
    assert old.stored("score") == "fraud_score" and old.stored("fraud_score") is None
    stored = {c: f"<{c}>" for c in product.column_names}
    row = old.project(stored)
    assert list(row) == old.names and row["score"] == "<fraud_score>"
    assert "processed_at" not in row and "risk_reasons" not in row


def _three_versions(today: date) -> dict:
    """transaction-risk as 1.1 (sunset passed), 1.2 (successor announced) and 1.3."""
    doc = copy.deepcopy(SHIPPED)
    versions = _versions(doc)
    versions[0]["backward_compatible_until"] = date(today.year + 1, 1, 1).isoformat()
    versions[1]["announced"] = today.isoformat()
    first = {**copy.deepcopy(versions[0]), "version": "1.1"}
    first["backward_compatible_until"] = date(today.year - 1, 12, 31).isoformat()
    versions[0]["announced"] = date(today.year - 1, 6, 1).isoformat()
    versions.insert(0, first)
    return doc


def test_a_version_is_deprecated_from_its_successors_announcement_and_retired_after_sunset():
    now = datetime.now(UTC)
    shapes = parse_catalog(_three_versions(now.date())).product(RISK).shapes()
    retired, deprecated, current = shapes["1.1"], shapes["1.2"], shapes["1.3"]
    assert retired.retired(now) and not deprecated.retired(now) and not current.retired(now)
    announced = datetime.combine(now.date(), datetime.min.time(), UTC)
    headers = deprecated.headers(now)
    # Sent on the day of the announcement, long before the sunset date.
    assert headers["Deprecation"] == f"@{int(announced.timestamp())}"
    # The end of the last compatible day (1 January), as an HTTP-date.
    assert headers["Sunset"] == format_datetime(
        datetime(now.year + 1, 1, 2, tzinfo=UTC), usegmt=True
    )
    assert 'rel="deprecation"' in headers["Link"]
    assert current.headers(now) == {}
    # The day before the successor's announcement, nothing is deprecated yet.
    assert deprecated.headers(announced - timedelta(seconds=1)) == {}


def test_a_newer_version_read_from_data_written_in_an_older_one():
    shapes = load_catalog(ROOT / "catalog.yaml").product(RISK).shapes()
    old, new = shapes["1.2"], shapes["1.3"]
    # 1.2 read from 1.2 data: its own names, typed as the newest columns.
    held = old.held_in(old)
    assert [(c.name, c.stored, c.newest) for c in held.columns if c.name == "score"] == [
        ("score", "score", "fraud_score")
    ]
    with pytest.raises(NotHeld) as missing:
        new.held_in(old)
    assert missing.value.missing == ["processed_at", "risk_reasons"]
    assert new.held_in(new) is new
