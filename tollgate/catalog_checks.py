"""Checks of the catalog as a whole, and the `CatalogError` every fault in it raises.

Field types and ranges are the models' (tollgate.catalog); here are the faults a field alone
cannot show (ids, columns named by other fields, histories, which tier sells what), and the
rendering of a validation error with the entry's id in place of its list index.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tollgate.prices import price_history_fault
from tollgate.schema_versions import schema_versions_fault

if TYPE_CHECKING:
    from tollgate.catalog import Catalog

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_PRODUCT_ID = re.compile(r"^[a-z][a-z0-9-]*$")


class CatalogError(ValueError):
    """The catalog is invalid; the message names the entry and the field."""


def check_references(catalog: Catalog) -> None:
    """Raise `CatalogError` on the first fault between fields and entries: ids, columns
    named by other fields, price and schema-version histories, tiers' products."""
    seen: set[str] = set()
    for p in catalog.products:
        where = f"products[{p.id}]"
        if not _PRODUCT_ID.match(p.id):
            raise CatalogError(f"{where}.id: {p.id!r} must be lower-kebab-case")
        if p.id in seen:
            raise CatalogError(f"{where}.id: duplicate product id")
        seen.add(p.id)
        if not IDENTIFIER.match(p.source):
            raise CatalogError(f"{where}.source: {p.source!r} is not a table identifier")
        names = p.column_names
        if len(set(names)) != len(names):
            raise CatalogError(f"{where}.columns: duplicate column name")
        for field in ("key_column", "time_column"):
            if getattr(p, field) not in names:
                raise CatalogError(f"{where}.{field}: {getattr(p, field)!r} is not a column")
        if p.region_column and p.region_column not in names:
            raise CatalogError(f"{where}.region_column: {p.region_column!r} is not a column")
        for col in sorted(p.quality.columns()):
            if col not in names:
                raise CatalogError(f"{where}.quality: {col!r} is not a column")
        fault = price_history_fault(p.price, p.price_changes, p.lane)
        if fault is not None:
            raise CatalogError(f"{where}.{fault}")
        fixed = (p.key_column, p.time_column, p.region_column)
        fault = schema_versions_fault(p.schema_versions, names, fixed)
        if fault is not None:
            raise CatalogError(f"{where}.{fault}")
    for name, tier in catalog.tiers.items():
        for product_id in tier.products:
            if product_id not in seen:
                raise CatalogError(f"tiers[{name}].products: unknown product {product_id!r}")
    for p in catalog.products:
        if not catalog.tiers_with(p.id):
            raise CatalogError(f"products[{p.id}]: no tier sells it")


def validation_fault(raw: dict, err: dict) -> str:
    """A pydantic validation error as `<where>: <reason>`, e.g.
    ``products[transaction-risk].price.model: 'per_minute' is not one of per_query, ...``."""
    return f"{_locate(raw, err['loc'])}: {_reason(err)}"


def _locate(raw: dict, loc: tuple) -> str:
    """Render a pydantic error location with product ids instead of list indexes."""
    parts: list[str] = []
    node: object = raw
    for step in loc:
        if isinstance(step, int) and isinstance(node, list):
            item = node[step] if step < len(node) else None
            label = (
                (item.get("id") or item.get("name") or item.get("version"))
                if isinstance(item, dict)
                else None
            )
            parts[-1] += f"[{label or step}]"
            node = item
        elif isinstance(node, dict) and parts and parts[-1] == "tiers" and step in node:
            parts[-1] += f"[{step}]"
            node = node[step]
        else:
            parts.append(str(step))
            node = node.get(step) if isinstance(node, dict) else None
    return ".".join(parts) or "catalog"


def _reason(err: dict) -> str:
    if err["type"] == "literal_error":
        return f"{err['input']!r} is not one of {err['ctx']['expected']}"
    if err["type"] == "missing":
        return "required field is missing"
    if err["type"] == "extra_forbidden":
        return "unknown field"
    return str(err["msg"]).removeprefix("Value error, ")
