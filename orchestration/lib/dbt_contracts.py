"""Render each sold mart's dbt YAML (its enforced contract) from the catalog.

A batch product's columns and types live in catalog.yaml; its mart's contract is generated
from there, so dbt refuses to build a mart that lacks a column the catalog sells, and the
YAML can never drift from the catalog by hand. The output is committed; a test checks it.

    uv run python -m orchestration.lib.dbt_contracts            # rewrite the mart YAMLs
    uv run python -m orchestration.lib.dbt_contracts --check    # exit 1 when out of date
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from tollgate.catalog import Catalog, Product
from tollgate.generated import main

COMMAND = "uv run python -m orchestration.lib.dbt_contracts"
MARTS_DIR = Path("dbt_project") / "models" / "marts"
# The DuckDB type dbt's contract compares each catalog type with.
DBT_TYPES = {
    "string": "varchar",
    "integer": "bigint",
    "double": "double",
    "boolean": "boolean",
    "timestamp": "timestamp with time zone",
    "date": "date",
}
HEADER = f"# Generated from catalog.yaml by {COMMAND}: do not edit by hand.\n"


def mart_yaml_path(product: Product) -> Path:
    """Where a product's mart YAML lives, relative to the repository."""
    return MARTS_DIR / product.id.replace("-", "_") / f"_{product.source}.yml"


def contract(product: Product) -> dict:
    """The dbt properties of a product's mart: grain, enforced contract, key test, columns."""
    return {
        "name": product.source,
        "description": f"{product.description} Grain: one row per {product.key_column}. "
        f"Sold as `{product.id}`.",
        "config": {"contract": {"enforced": True}, "meta": {"tollgate_product": product.id}},
        "data_tests": [{"primary_key": {"arguments": {"columns": [product.key_column]}}}],
        "columns": [
            {"name": c.name, "description": c.description, "data_type": DBT_TYPES[c.type]}
            for c in product.columns
        ],
    }


def render(catalog: Catalog, root: Path) -> dict[Path, str]:
    """One YAML per batch product, keyed by its path under `root`."""
    return {
        root / mart_yaml_path(p): HEADER
        + yaml.safe_dump({"version": 2, "models": [contract(p)]}, sort_keys=False, width=100)
        for p in catalog.batch_products()
    }


_FAILED_MODEL = re.compile(r"Compilation Error in model (\w+) ")
_MISSING_COLUMN = re.compile(
    r"^\s*\|\s*(\w+)\s*\|[^|\n]*\|[^|\n]*\|\s*missing in definition\s*\|", re.MULTILINE
)


def missing_catalog_columns(dbt_errors: str, catalog: Catalog) -> list[str]:
    """From dbt's errors, one line per sold mart whose enforced contract failed because the
    model does not build a column the catalog declares, naming the product and the columns."""
    by_source = {p.source: p for p in catalog.batch_products()}
    found = []
    for block in re.split(r"(?=Compilation Error in model )", dbt_errors):
        model = _FAILED_MODEL.match(block)
        product = by_source.get(model.group(1)) if model else None
        columns = _MISSING_COLUMN.findall(block)
        if product is not None and columns:
            listed = ", ".join(repr(c) for c in dict.fromkeys(columns))
            found.append(
                f"{product.id}: catalog.yaml declares column {listed} but the mart "
                f"{product.source} does not build it; add it to the model or remove it from "
                "the catalog"
            )
    return found


if __name__ == "__main__":
    sys.exit(main(render, __doc__, COMMAND))
