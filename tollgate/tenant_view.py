"""What one tenant may see of one product: regions, delay, sample and schema version.

Every reader builds the view with `tenant_view` and applies it (REST live and batch, push
streams, exports), so a tenant's residency, its tier's delay and sample, and the schema
version it asked for cannot differ by channel, nor can the answer to an out-of-region ask.

Regions follow the catalog. A product with a region column is filtered to the tenant's
regions when the product is under `residency`. A product without one holds data of every
region at once: a region filter on it is a 400 (`region_not_applicable`), and a
region-restricted tenant may read it only when the product is not under `residency`
(else 403 `region_not_allowed`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tollgate.catalog import Catalog, Product
from tollgate.errors import TollgateError


class ViewRefused(TollgateError):
    """The tenant asked for more than its view allows, or for what the product lacks."""

    def __init__(self, status: int, code: str, message: str, details: dict) -> None:
        super().__init__(message, code)
        self.status, self.details = status, details


@dataclass(frozen=True)
class TenantView:
    product: Product
    # Rows of these regions only (sorted); None: every row.
    regions: tuple[str, ...] | None
    # Regions the answer speaks for: its filter, else every region the product covers.
    coverage: tuple[str, ...]
    delay_seconds: int  # the tier sees data this much later than it happened
    sample_fraction: float  # the share of batch rows the tier sees (1.0 on live products)
    schema_version: str

    def not_after(self, now: datetime) -> datetime | None:
        """Newest event time the tenant may see at `now` (None: no delay)."""
        return now - timedelta(seconds=self.delay_seconds) if self.delay_seconds else None

    def not_after_date(self, now: datetime) -> date | None:
        """The same for day-grained batch data: rows up to this day."""
        at = self.not_after(now)
        return at.date() if at is not None else None

    def metadata(self) -> dict:
        """How this tenant's answers differ from the product's data, as every answer says."""
        return {"delay_seconds": self.delay_seconds, "sample_fraction": self.sample_fraction}

    def headers(self) -> dict[str, str]:
        return {
            "X-Data-Delay": str(self.delay_seconds),
            "X-Data-Sample": f"{self.sample_fraction:g}",
        }


def tenant_view(
    catalog: Catalog,
    product: Product,
    tier: str,
    allowed_regions: Collection[str] | None,
    region: str | None,
    schema_version: str,
) -> TenantView:
    """The view of `product` for a tenant of `tier` restricted to `allowed_regions` (None:
    unrestricted) that asked for `region`; raises ViewRefused when it may not have it."""
    t = catalog.tiers[tier]
    sample = t.sample_fraction if product.lane == "batch" else 1.0
    regions = _regions(catalog, product, allowed_regions, region)
    coverage = regions if regions is not None else tuple(catalog.regions)
    return TenantView(product, regions, coverage, t.delay_seconds, sample, schema_version)


def _regions(
    catalog: Catalog, product: Product, allowed: Collection[str] | None, region: str | None
) -> tuple[str, ...] | None:
    if region is not None:
        check_regions(catalog, product, allowed, [region])
        return (region,)
    if allowed is None or not product.residency:
        return None
    if product.region_column is None:
        raise ViewRefused(
            403,
            "region_not_allowed",
            f"{product.id} holds data of every region; this tenant may receive data only "
            f"from {', '.join(sorted(allowed))}",
            {"product_id": product.id, "allowed_regions": sorted(allowed)},
        )
    return tuple(sorted(allowed))


def check_regions(
    catalog: Catalog, product: Product, allowed: Collection[str] | None, asked: Iterable[object]
) -> None:
    """Refuse regions asked for (by `region=` or a filter on the region column) that the
    product cannot filter by, that do not exist, or that the tenant may not receive."""
    if product.region_column is None:
        raise ViewRefused(
            400,
            "region_not_applicable",
            f"{product.id} has no region column: it covers every region and cannot be "
            "filtered by one",
            {"product_id": product.id},
        )
    for value in asked:
        if value not in catalog.regions:
            raise ViewRefused(
                400, "unknown_region", f"no region {value!r}", {"regions": catalog.regions}
            )
        if allowed is not None and product.residency and value not in allowed:
            raise ViewRefused(
                403,
                "region_not_allowed",
                f"this tenant may not receive data from {value}",
                {"region": value, "allowed_regions": sorted(allowed)},
            )
