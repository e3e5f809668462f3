"""The catalog as the caller's tier sees it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import PrincipalDep, ProductIdPath, ServicesDep, entitled
from api.errors import error_responses
from tollgate.catalog import Product
from tollgate.clock import utcnow
from tollgate.prices import CHANNELS
from tollgate.schema_versions import VersionShape

router = APIRouter(prefix="/v1/products", tags=["products"])


class ChannelPriceInfo(BaseModel):
    channel: str = Field(examples=["push"], description="query, push or export")
    unit: str = Field(examples=["message"], description="query, record or message")
    usd: Decimal = Field(examples=["0.0005"], description="Per unit; 0 when included")
    included: bool = Field(description="Included in the subscription or purchase")


class ProductSummary(BaseModel):
    id: str = Field(examples=["transaction-risk"])
    title: str
    description: str
    lane: str = Field(examples=["live"])
    price_model: str = Field(examples=["per_query"])
    price_usd: float = Field(
        examples=[1.5], description="Per query or record, per month, or per purchase, by model"
    )
    prices: list[ChannelPriceInfo] = Field(
        description="What each channel sold costs now; a channel not listed is not sold"
    )
    data_schema_version: str = Field(examples=["1.3"])
    freshness_sla_seconds: int


class ProductList(BaseModel):
    tier: str = Field(examples=["standard"])
    products: list[ProductSummary]


class ColumnInfo(BaseModel):
    name: str
    type: str
    description: str


class SchemaVersionInfo(BaseModel):
    version: str
    state: Literal["current", "supported", "deprecated", "retired"] = Field(
        description="deprecated: its successor is announced (answers carry Deprecation and "
        "Sunset); retired: past its sunset, asking for it is 410"
    )
    columns: list[str] = Field(description="What it serves, under its names, in order")
    renames: dict[str, str] = Field(description="Renamed from its predecessor: old -> new")
    announced: date | None
    backward_compatible_until: date | None = Field(description="Its last day served")
    sunset_at: datetime | None


class ProductStatusInfo(BaseModel):
    status: Literal["healthy", "stale", "degraded", "halted"] = Field(examples=["healthy"])
    reason: str | None
    quality: Literal["healthy", "degraded", "halted"] = Field(
        description="The quality gate's verdict"
    )
    current_version: str | None = Field(description="Snapshot served (batch)")
    failed_version: str | None
    watermark_at: str | None = Field(
        description="The data's newest time (live: the stream's watermark; batch: the newest "
        "data time in the snapshot served)"
    )
    freshness_seconds: float | None = Field(description="Now minus watermark_at")


class ProductDetail(ProductSummary):
    key_column: str
    region_column: str | None
    time_column: str
    columns: list[ColumnInfo]
    schema_versions: list[SchemaVersionInfo]
    status: ProductStatusInfo


_SUMMARY_EXAMPLE = {
    "id": "transaction-risk",
    "title": "Transaction risk",
    "description": "Fraud score and risk level for every card transaction, within a second.",
    "lane": "live",
    "price_model": "per_query",
    "price_usd": 1.5,
    "prices": [
        {"channel": "query", "unit": "query", "usd": "1.5", "included": False},
        {"channel": "push", "unit": "message", "usd": "0.0005", "included": False},
    ],
    "data_schema_version": "1.3",
    "freshness_sla_seconds": 5,
}
_DETAIL_EXAMPLE = {
    **_SUMMARY_EXAMPLE,
    "key_column": "transaction_id",
    "region_column": "region",
    "time_column": "event_at",
    "columns": [
        {"name": "transaction_id", "type": "string", "description": "Transaction identifier"}
    ],
    "schema_versions": [
        {
            "version": "1.3",
            "state": "current",
            "columns": ["transaction_id"],
            "renames": {"score": "fraud_score"},
            "announced": "2026-01-15",
            "backward_compatible_until": "2027-12-31",
            "sunset_at": "2028-01-01T00:00:00Z",
        }
    ],
    "status": {
        "status": "healthy",
        "reason": None,
        "quality": "healthy",
        "current_version": None,
        "failed_version": None,
        "watermark_at": "2026-11-24T08:00:00+00:00",
        "freshness_seconds": 1.2,
    },
}


def _example(example: dict) -> dict:
    return {"responses": {"200": {"content": {"application/json": {"example": example}}}}}


def _version_info(shape: VersionShape) -> SchemaVersionInfo:
    now = utcnow()
    if shape.retired(now):
        state = "retired"
    elif shape.deprecated_at(now) is not None:
        state = "deprecated"
    else:
        state = "current" if shape.name == shape.current else "supported"
    v = shape.version
    return SchemaVersionInfo(
        version=v.version,
        state=state,
        columns=shape.names,
        renames=v.renames,
        announced=v.announced,
        backward_compatible_until=v.backward_compatible_until,
        sunset_at=v.sunset_at,
    )


def _summary(p: Product) -> dict:
    price = p.price_at(utcnow())
    rates = [price.rate(channel, p.lane) for channel in CHANNELS]
    return {
        "id": p.id,
        "title": p.title,
        "description": p.description,
        "lane": p.lane,
        "price_model": price.model,
        "price_usd": price.usd,
        "prices": [
            ChannelPriceInfo(channel=r.channel, unit=r.unit, usd=r.usd, included=r.included)
            for r in rates
            if r is not None
        ],
        "data_schema_version": p.schema_version.version,
        "freshness_sla_seconds": p.freshness_sla_seconds,
    }


@router.get(
    "",
    response_model=ProductList,
    responses=error_responses(401, 429),
    summary="Products your tier may use",
    openapi_extra=_example({"tier": "standard", "products": [_SUMMARY_EXAMPLE]}),
)
def list_products(principal: PrincipalDep, services: ServicesDep) -> ProductList:
    products = services.catalog.products_for_tier(principal.tier)
    return ProductList(
        tier=principal.tier, products=[ProductSummary(**_summary(p)) for p in products]
    )


@router.get(
    "/{product_id}",
    response_model=ProductDetail,
    responses=error_responses(401, 403, 404, 429),
    summary="One product: schema, versions, freshness SLA, price and current status",
    openapi_extra=_example(_DETAIL_EXAMPLE),
)
def get_product(
    product_id: ProductIdPath, principal: PrincipalDep, services: ServicesDep
) -> ProductDetail:
    product = entitled(services, principal, product_id)
    state = services.status(product)
    current = services.served_version(product.id) if product.lane == "batch" else None
    return ProductDetail(
        **_summary(product),
        key_column=product.key_column,
        region_column=product.region_column,
        time_column=product.time_column,
        columns=[
            ColumnInfo(name=c.name, type=c.type, description=c.description) for c in product.columns
        ],
        schema_versions=[_version_info(shape) for shape in product.shapes().values()],
        status=ProductStatusInfo(
            status=state.status,
            reason=state.reason,
            quality=state.quality.status,
            current_version=current,
            failed_version=state.quality.failed_version,
            watermark_at=state.watermark_at.isoformat() if state.watermark_at else None,
            freshness_seconds=state.freshness_seconds,
        ),
    )
