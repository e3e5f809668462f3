"""Request dependencies as `Annotated` aliases: services, the caller, the product asked for."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BeforeValidator

from api.access import _auth_failed as _auth_failed  # re-exported for the portal's sign-in
from api.access import admit
from api.access import client_address as client_address
from api.access import refuse_repeated_failures as refuse_repeated_failures
from api.auth import Principal
from api.errors import ApiError
from api.services import Services
from tollgate.catalog import Product
from tollgate.clock import utcnow
from tollgate.contracts import Terms
from tollgate.prices import Channel
from tollgate.schema_versions import NotHeld, VersionShape
from tollgate.tenant_view import TenantView, ViewRefused, check_regions, tenant_view

_bearer = HTTPBearer(
    auto_error=False,
    description="An API key `tg_<key id>_<secret>` or an access token from POST /v1/oauth/token.",
)


async def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


async def current_principal(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, admitted (`api.access.admit`: throttle, authentication, hourly budget)."""
    return await admit(request, services, credentials.credentials if credentials else None)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


async def principal_unless_signed(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """None for a request carrying a signed link (the route verifies it), else the caller."""
    if "signature" in request.query_params:
        return None
    return await current_principal(request, services, credentials)


def entitled(services: Services, principal: Principal, product_id: str) -> Product:
    """The product if the caller's tier may use it: 404 if unknown, 403 naming who may."""
    try:
        product = services.catalog.product(product_id)
    except KeyError:
        raise ApiError(404, "product_not_found", f"no product {product_id!r}") from None
    if product_id not in services.catalog.tiers[principal.tier].products:
        tiers = services.catalog.tiers_with(product_id)
        raise ApiError(
            403,
            "not_entitled",
            f"the {principal.tier} tier does not include {product_id}; "
            f"available in: {', '.join(tiers)}",
            {"entitlement": product_id, "tier": principal.tier, "tiers_with_entitlement": tiers},
        )
    return product


PRODUCT_ID_MAX_LENGTH = 64
REGION_MAX_LENGTH = 32
ProductIdPath = Annotated[
    str,
    Path(
        max_length=PRODUCT_ID_MAX_LENGTH, examples=["transaction-risk", "customer-behavior-daily"]
    ),
]


async def contract_terms(
    request: Request, services: Services, principal: Principal, product: Product, channel: Channel
) -> Terms:
    """The terms the caller's contracts serve `product` under on `channel` (403 if none),
    kept on the request for metering to rate the delivery with."""
    contracts = services.contracts
    if contracts.needs_read(principal, product):
        terms = await services.point_read(contracts.terms_for, principal, product, channel)
    else:
        terms = contracts.terms_for(principal, product, channel)
    request.state.terms = terms
    return terms


async def lane_product(
    request: Request,
    services: Services,
    principal: Principal,
    product_id: str,
    lane: str,
    channel: Channel,
) -> Product:
    """The `lane` product asked for, if the caller may have it over `channel` (404, 403),
    with its contract terms kept on the request."""
    product = entitled(services, principal, product_id)
    if product.lane != lane:
        raise ApiError(
            404,
            "product_not_found",
            f"{product_id} is not a {lane} product",
            {"lane": product.lane},
        )
    request.state.product = product_id
    await contract_terms(request, services, principal, product, channel)
    return product


def _lane_product(lane: str, channel: Channel):
    # async: no I/O on the common path, and a sync dependency would cost a thread hop.
    async def dependency(
        request: Request, services: ServicesDep, principal: PrincipalDep, product_id: ProductIdPath
    ) -> Product:
        return await lane_product(request, services, principal, product_id, lane, channel)

    return dependency


LiveProductDep = Annotated[Product, Depends(_lane_product("live", "query"))]
PushProductDep = Annotated[Product, Depends(_lane_product("live", "push"))]
BatchProductDep = Annotated[Product, Depends(_lane_product("batch", "query"))]


def schema_version(product: Product, requested: str | None) -> VersionShape:
    """The shape of the schema version asked for (default: the current one): 400 for a
    version the product never had, 410 naming the current one for a retired version."""
    current = product.shape()
    if requested is None:
        return current
    shape = product.shape(requested)
    now = utcnow()
    if shape is None:
        shapes = product.shapes()
        raise ApiError(
            400,
            "unknown_schema_version",
            f"{product.id} has no schema version {requested!r}",
            {"versions": [v for v, s in shapes.items() if not s.retired(now)]},
        )
    if shape.retired(now):
        sunset = shape.version.sunset_at
        raise ApiError(
            410,
            "schema_version_retired",
            f"{product.id} schema version {requested} was retired on "
            f"{sunset.date().isoformat() if sunset else 'its sunset'}; "
            f"the current version is {current.name}",
            {
                "version": requested,
                "current_version": current.name,
                "sunset": sunset.isoformat() if sunset else None,
            },
            headers={"Link": f'</v1/products/{product.id}>; rel="deprecation"'},
        )
    return shape


def held_shape(
    product: Product, shape: VersionShape, explicit: bool, held_version: str
) -> VersionShape:
    """`shape` read from a snapshot written in `held_version`. A snapshot published before
    a newer version may lack that version's columns: asked for explicitly, 409; by default,
    the snapshot is served in the version it was written in (the envelope says which)."""
    held = product.shapes().get(held_version)
    if held is None:
        return shape
    try:
        return shape.held_in(held)
    except NotHeld as exc:
        if not explicit:
            return held.held_in(held)
        raise ApiError(
            409,
            "schema_version_not_in_snapshot",
            f"the {product.id} snapshot served was written in schema version {held_version}, "
            f"which lacks {', '.join(map(repr, exc.missing))} of {shape.name}; ask for "
            f"{held_version}",
            {
                "version": shape.name,
                "snapshot_schema_version": held_version,
                "missing": exc.missing,
            },
        ) from None


SchemaHeader = Annotated[
    str | None,
    Header(
        alias="X-Data-Schema-Version",
        description="Ask for an older schema version: its columns, under its names. A "
        "version whose successor is announced answers with `Deprecation` and `Sunset`; a "
        "retired one is 410 `schema_version_retired`.",
        examples=["1.3"],
    ),
]
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=128,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description=(
            "Makes retries safe: a retry of the same request with the same key within 24 h "
            "gets the first answer back (header `Idempotent-Replayed: true`) and is not "
            "billed again. The key sent with a different request is refused (422); a retry "
            "while the first request is still being answered gets 409."
        ),
        examples=["order-42-retry"],
    ),
]


def view_of(
    services: Services,
    principal: Principal,
    product: Product,
    region: str | None,
    schema: str,
) -> TenantView:
    """What the caller may see of `product` (regions, delay, sample, schema version), or the
    4xx every channel gives for the same ask."""
    try:
        return tenant_view(
            services.catalog, product, principal.tier, principal.allowed_regions, region, schema
        )
    except ViewRefused as exc:
        raise ApiError(exc.status, exc.code, str(exc), exc.details) from None


def check_region_filter(
    services: Services, principal: Principal, product: Product, values: list
) -> None:
    """A filter on the region column asks for those regions: refused as `region=` would be."""
    try:
        check_regions(services.catalog, product, principal.allowed_regions, values)
    except ViewRefused as exc:
        raise ApiError(exc.status, exc.code, str(exc), exc.details) from None


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: object) -> object:
    # pydantic would also take a number (a Unix time): `date_to=0` must not mean 1970-01-01.
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("a date is written YYYY-MM-DD")
    return value


def _iso_datetime(value: object) -> object:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value[:10]):
        raise ValueError("a date-time is written as in RFC 3339, e.g. 2026-11-24T08:00:00Z")
    return value


# Dates and times as the OpenAPI schema states them (format date / date-time), nothing else.
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_datetime)]

RegionQuery = Annotated[
    str | None,
    Query(description="Only rows of this region.", examples=["EU"], max_length=REGION_MAX_LENGTH),
]
