"""The catalog as the signed-in tenant's tier sees it, what an upgrade unlocks, and queries.

Pages call the functions behind GET /v1/products so the portal and the API cannot disagree.
A query run here is a query: it goes through the batch or live route's delivery, is
metered and billed as one, and spends the tenant's hourly budget.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from api.batchdata import BatchQuery
from api.deps import ServicesDep, contract_terms, entitled, held_shape, view_of
from api.errors import ApiError
from api.livedata import to_json_row
from api.portal.session import PortalError, Viewer, ViewerDep, check_csrf
from api.portal.web import PortalRoute, render
from api.routes import batch, live, products
from api.services import Services
from tollgate.catalog import Product
from tollgate.clock import utcnow

router = APIRouter(prefix="/portal", route_class=PortalRoute, include_in_schema=False)
SAMPLE_ROWS = 3
Field = Annotated[str, Form(max_length=400)]


@router.get("/catalog")
def catalog(request: Request, viewer: ViewerDep, services: ServicesDep) -> Response:
    listed = products.list_products(viewer.principal, services)
    cat = services.catalog
    included = {p.id for p in listed.products}
    upgrades = [
        {"product": p, "tiers": [t for t in cat.tiers_with(p.id) if t != viewer.principal.tier]}
        for p in cat.products
        if p.id not in included
    ]
    return render(
        request,
        "catalog.html",
        viewer,
        tier=cat.tiers[viewer.principal.tier],
        tier_name=viewer.principal.tier,
        products=listed.products,
        statuses={
            p.id: products.get_product(p.id, viewer.principal, services).status
            for p in listed.products
        },
        upgrades=upgrades,
    )


def _samples(services: Services, viewer: Viewer, product: Product) -> tuple[list[str], list]:
    """A few rows as the tenant would receive them (its regions, delay, sample and current
    schema version): a preview on the product page, not a delivery."""
    principal = viewer.principal
    shape = product.shapes()[product.schema_version.version]
    try:
        view = view_of(services, principal, product, None, shape.name)
    except ApiError:  # residency keeps this product from the tenant: nothing to preview
        return shape.names, []
    regions = list(view.regions) if view.regions is not None else None
    delay = view.not_after(utcnow())
    if product.lane == "batch":
        version = services.batch.lake.current_version(product.id)
        if version is None:
            return shape.names, []
        # A snapshot published in an older schema version is shown in that version.
        held = services.batch.summary(product, version)["manifest"].schema_version
        shape = held_shape(product, shape, False, held)
        rows, _ = services.batch.query(
            product,
            version,
            BatchQuery(limit=SAMPLE_ROWS),
            shape,
            regions=regions,
            sample_fraction=view.sample_fraction,
            not_after=view.not_after_date(utcnow()),
            offset=0,
        )
    else:
        rows, _ = services.live.recent(product, regions, delay, None, None, None, SAMPLE_ROWS)
        rows = [shape.project(r) for r in rows]
    return shape.names, [to_json_row(r) for r in rows]


@router.get("/catalog/{product_id}")
def product_page(
    request: Request, product_id: str, viewer: ViewerDep, services: ServicesDep
) -> Response:
    detail = products.get_product(product_id, viewer.principal, services)
    product = services.catalog.product(product_id)
    columns, rows = _samples(services, viewer, product)
    return render(
        request, "product.html", viewer, product=detail, sample_columns=columns, samples=rows
    )


def _query_form(services: Services, viewer: Viewer, values: dict) -> dict:
    choices = services.catalog.products_for_tier(viewer.principal.tier)
    return {"choices": choices, "values": values, "regions": services.catalog.regions}


@router.get("/query")
def query_form(
    request: Request, viewer: ViewerDep, services: ServicesDep, product: str = ""
) -> Response:
    values = {"product": product, "limit": "10"}
    return render(request, "query.html", viewer, **_query_form(services, viewer, values))


def _curl(request: Request, path: str, params: list[tuple[str, str]]) -> str:
    base = str(request.base_url).rstrip("/")
    query = f"?{urlencode(params)}" if params else ""
    return f"curl -H \"Authorization: Bearer $TOLLGATE_API_KEY\" '{base}{path}{query}'"


def _params(product: Product, columns: str, filters: str, sort: str, region: str, limit: str):
    params: list[tuple[str, str]] = []
    if product.lane == "batch":
        if columns.strip():
            params.append(("columns", columns.strip()))
        for line in filters.splitlines():
            if line.strip():
                params.append(("filter", line.strip()))
        if sort.strip():
            params.append(("sort", sort.strip()))
    if region:
        params.append(("region", region))
    params.append(("limit", limit or "10"))
    return params


async def _run(request: Request, services: Services, viewer: Viewer, product: Product, params):
    """The route's own answer to these parameters, as the API gives it to this credential."""
    principal = viewer.principal
    decision = await asyncio.to_thread(services.limits.hit, principal.tenant_id, principal.tier)
    if not decision.allowed:
        raise ApiError(429, "rate_limited", f"the {principal.tier} tier allows "
                       f"{decision.limit} requests per hour")  # fmt: skip
    request.state.product = product.id
    await contract_terms(request, services, principal, product, "query")
    get = dict(params)
    try:
        limit = int(get.get("limit", "10"))
    except ValueError:
        raise PortalError(400, "Invalid limit", "The limit is a whole number.") from None
    if not 1 <= limit <= 1000:
        raise PortalError(400, "Invalid limit", "The limit is between 1 and 1000.")
    region = get.get("region") or None
    if product.lane == "batch":
        response = batch.query_batch_get(
            request, services, principal, product, get.get("columns"),
            [v for k, v in params if k == "filter"], get.get("sort"), region, limit,
        )  # fmt: skip
    else:
        response = live.recent_records(
            request, services, principal, product, region, None, None, limit
        )
    receipt = getattr(response, "receipt", None)
    if receipt is not None:
        await receipt.durable()
    return json.loads(response.body), response.headers


@router.post("/query")
async def run_query(
    request: Request,
    viewer: ViewerDep,
    services: ServicesDep,
    csrf_token: Field = "",
    product: Field = "",
    columns: Field = "",
    filters: Field = "",
    sort: Field = "",
    region: Field = "",
    limit: Field = "10",
) -> Response:
    check_csrf(request, viewer.csrf, csrf_token)
    chosen = entitled(services, viewer.principal, product)
    values = {"product": product, "columns": columns, "filters": filters, "sort": sort,
              "region": region, "limit": limit}  # fmt: skip
    params = _params(chosen, columns, filters, sort, region, limit)
    curl = _curl(request, f"/{'v1/batch' if chosen.lane == 'batch' else 'v1/live'}/{chosen.id}",
                 params)  # fmt: skip
    context = _query_form(services, viewer, values)
    try:
        body, headers = await _run(request, services, viewer, chosen, params)
    except ApiError as exc:
        return render(request, "query.html", viewer, exc.status, **context, curl=curl,
                      error=f"{exc.code}: {exc.message}")  # fmt: skip
    rows = body.get("data") or []
    names = list(rows[0]) if rows else []
    return render(request, "query.html", viewer, **context, curl=curl, rows=rows, names=names,
                  metadata=body.get("metadata", {}),
                  delivery_id=headers.get("X-Delivery-ID"))  # fmt: skip
