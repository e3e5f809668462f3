"""The catalog: every product Tollgate sells, every tier, every price.

`load_catalog()` reads `catalog.yaml` into typed objects and validates it as a whole. A bad
catalog fails at load with a `CatalogError` naming the entry and the field, e.g.
``products[transaction-risk].price.model: 'per_minute' is not one of per_query, ...``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tollgate.catalog_checks import IDENTIFIER, CatalogError, check_references, validation_fault
from tollgate.credit_policy import CreditPolicy
from tollgate.memo import PerObject
from tollgate.prices import Price
from tollgate.schema_versions import SchemaVersion, VersionShape, version_shapes

Lane = Literal["live", "batch"]
ColumnType = Literal["string", "integer", "double", "boolean", "timestamp", "date"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Column(_Strict):
    name: str
    type: ColumnType
    description: str = ""

    @field_validator("name")
    @classmethod
    def _identifier(cls, v: str) -> str:
        if not IDENTIFIER.match(v):
            raise ValueError(f"{v!r} is not a lower_snake_case identifier")
        return v


class QualityRules(_Strict):
    """Rules the quality gate checks on every published version of a product."""

    not_null: list[str] = []
    unique: list[str] = []
    ranges: dict[str, tuple[float, float]] = {}
    accepted_values: dict[str, list[str]] = {}
    min_rows: int = Field(default=0, ge=0)

    def columns(self) -> set[str]:
        return {*self.not_null, *self.unique, *self.ranges, *self.accepted_values}


class Product(_Strict):
    id: str
    title: str
    description: str = ""
    lane: Lane
    source: str
    key_column: str
    region_column: str | None = None
    time_column: str
    # Under residency, a region-restricted tenant receives only its regions' rows; of a
    # product without a region column (data of every region at once), nothing.
    residency: bool = False
    freshness_sla_seconds: int = Field(gt=0)
    price: Price
    # Later prices, each in force from its `effective_from` day (00:00 UTC) on.
    price_changes: list[Price] = []
    schema_versions: list[SchemaVersion] = Field(min_length=1)
    columns: list[Column] = Field(min_length=1)
    quality: QualityRules = QualityRules()
    # None: the catalog's `sla_credits`.
    sla_credits: CreditPolicy | None = None

    @property
    def schema_version(self) -> SchemaVersion:
        """The current schema version: the highest declared."""
        return max(self.schema_versions, key=lambda v: v.key)

    def shapes(self) -> dict[str, VersionShape]:
        """Each schema version's served columns and lifecycle, keyed by version (worked out
        once per product object: every answer asks for them)."""
        return dict(self._shapes()[0])

    def shape(self, version: str | None = None) -> VersionShape | None:
        """The shape of schema version `version` (None: the current one); None for a
        version the product never had."""
        shapes, current = self._shapes()
        return current if version is None else shapes.get(version)

    def _shapes(self) -> tuple[dict[str, VersionShape], VersionShape]:
        return _SHAPES.get(self)

    def price_at(self, at: datetime) -> Price:
        """The price in force at `at` (the newest change that took effect by then)."""
        day = at.astimezone(UTC).date()
        current = self.price
        for change in self.price_changes:
            if change.effective_from is not None and change.effective_from <= day:
                current = change
        return current

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


def _version_shapes(product: Product, _key: None) -> tuple[dict[str, VersionShape], VersionShape]:
    shapes = version_shapes(product.id, product.schema_versions, product.column_names)
    return shapes, shapes[product.schema_version.version]


_SHAPES = PerObject(_version_shapes)  # every answer asks for its product's shapes


class Tier(_Strict):
    title: str
    rate_limit_per_hour: int = Field(gt=0)
    cache_ttl_seconds: int = Field(ge=0)
    export_row_cap: int = Field(gt=0)
    sse_connections: int = Field(ge=0)
    delay_seconds: int = Field(default=0, ge=0)
    sample_fraction: float = Field(default=1.0, gt=0, le=1)
    # A trial tier: its deliveries are rated $0, and it ends this many days after it began.
    trial_days: int | None = Field(default=None, gt=0)
    # Monthly budgets the tenant is warned of by webhook at 80% and 100% (not enforced):
    # requests (ledger records) in a calendar month, and spend in USD.
    monthly_request_quota: int | None = Field(default=None, gt=0)
    monthly_spend_cap_usd: float | None = Field(default=None, gt=0)
    products: list[str]

    @property
    def is_trial(self) -> bool:
        return self.trial_days is not None


class Catalog(_Strict):
    api_version: str
    regions: list[str] = Field(min_length=1)
    tiers: dict[str, Tier] = Field(min_length=1)
    products: list[Product] = Field(min_length=1)
    # Every product's credit policy unless it states its own (default: no credits).
    sla_credits: CreditPolicy = CreditPolicy()

    def credit_policy(self, product_id: str) -> CreditPolicy:
        return self.product(product_id).sla_credits or self.sla_credits

    def product(self, product_id: str) -> Product:
        for p in self.products:
            if p.id == product_id:
                return p
        raise KeyError(product_id)

    def products_for_tier(self, tier: str) -> list[Product]:
        allowed = set(self.tiers[tier].products)
        return [p for p in self.products if p.id in allowed]

    def tiers_with(self, product_id: str) -> list[str]:
        """The tiers that may use a product, cheapest first (catalog order)."""
        return [name for name, t in self.tiers.items() if product_id in t.products]

    def upgrade_tiers(self, product_id: str | None = None) -> list[str]:
        """The tiers a trial tenant can move to (those that are not trials), cheapest first;
        only those selling `product_id` when given."""
        return [
            name
            for name, t in self.tiers.items()
            if not t.is_trial and (product_id is None or product_id in t.products)
        ]

    def live_products(self) -> list[Product]:
        return [p for p in self.products if p.lane == "live"]

    def batch_products(self) -> list[Product]:
        return [p for p in self.products if p.lane == "batch"]


def parse_catalog(raw: object) -> Catalog:
    """Validate an already-parsed catalog document; raise `CatalogError` on the first fault."""
    if not isinstance(raw, dict):
        raise CatalogError("catalog: the document must be a mapping")
    try:
        catalog = Catalog.model_validate(raw)
    except ValidationError as exc:
        raise CatalogError(validation_fault(raw, exc.errors()[0])) from None
    check_references(catalog)
    return catalog


def load_catalog(path: Path | str) -> Catalog:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise CatalogError(f"catalog: no file at {path}") from None
    except yaml.YAMLError as exc:
        raise CatalogError(f"catalog: {path} is not valid YAML ({exc})") from None
    return parse_catalog(raw)


@lru_cache
def get_catalog(path: str | None = None) -> Catalog:
    """The catalog named by settings (or `path`), loaded once per process."""
    if path is None:
        from tollgate.settings import get_settings

        path = str(get_settings().catalog_path)
    return load_catalog(path)
