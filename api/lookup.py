"""The metered lookup, GET /v1/live/{product_id}/{key}: one record by its key.

`answer` is the lookup itself: the schema version and tenant view asked for, the live
store's row, delivered (status gate, envelope, headers, metering) by `api.delivery`.

`LookupLane` serves the common form of the request straight from ASGI: FastAPI's routing
and dependency resolution took more of a lookup's time than the lookup did. It takes a
request only when it reads every parameter as the route's declaration would (no
Idempotency-Key, no query parameter but one `region`, lengths within the documented
limits) and the router would pick the route; anything else goes on to the route, which
validates it and answers with the same `admit`, `lane_product` and `answer`. The route
stays the documented one; the edge (`api.edge`) hands the lane its requests, so request
ids, rate-limit headers, metrics and the request log are the same either way.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import parse_qsl

from fastapi import APIRouter, Response
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

from api.access import admit, bearer_token
from api.auth import Principal
from api.delivery import Answer, DeliveryContext, deliver
from api.deps import (
    PRODUCT_ID_MAX_LENGTH,
    REGION_MAX_LENGTH,
    lane_product,
    schema_version,
    view_of,
)
from api.errors import ApiError, error_response
from api.livedata import to_json_row
from api.services import Services
from tollgate.catalog import Product
from tollgate.clock import utcnow

ROUTE = "/v1/live/{product_id}/{key}"
KEY_MAX_LENGTH = 256  # the route's declared limit on `key`
_PATH = re.compile(r"^/v1/live/([^/]+)/([^/]+)$")


async def answer(
    request: Request,
    services: Services,
    principal: Principal,
    product: Product,
    key: str,
    region: str | None,
    schema: str | None,
    idempotency_key: str | None,
) -> Response:
    """The record `key` of `product` as the caller may see it, metered (404 if none)."""
    shape = schema_version(product, schema)
    view = view_of(services, principal, product, region, shape.name)
    ctx = DeliveryContext(request, services, principal, product, shape, idempotency_key)

    def compute(_status) -> Answer:
        row = services.live.lookup(product, key, view.regions, view.not_after(utcnow()))
        if row is None:
            # Rows outside the tenant's regions are "not found", never "forbidden": no leak.
            raise ApiError(404, "record_not_found", f"no {product.id} record {key!r}")
        at = row[product.time_column]
        if isinstance(at, datetime):  # both ends of the answer's span: written as text once
            at = at.isoformat()
        return Answer(
            to_json_row(shape.project(row)), services.watermark(product.id), at, at, paged=False
        )

    args = (ctx, ROUTE, {"key": key, "region": region}, view, compute)
    if idempotency_key:  # the key's stored answer is read and written in the database
        return await asyncio.to_thread(deliver, *args)
    return await services.point_read(deliver, *args)


class LookupLane:
    """The metered lookup's common requests, served from ASGI (see the module doc)."""

    def __init__(self, services: Services, routers: Sequence[APIRouter]) -> None:
        """`routers`: the app's routers in the order it includes them, up to the one that
        holds the lookup route (the routes before it may take a path of the same shape)."""
        self.services = services
        before: list[BaseRoute] = []
        for route in (r for router in routers for r in router.routes):
            if getattr(route, "path", None) == ROUTE and "GET" in getattr(route, "methods", ()):
                self._route = route
                break
            if getattr(route, "path", "").startswith("/v1/live/") and "GET" in getattr(
                route, "methods", ()
            ):
                before.append(route)
        else:
            raise LookupError(f"no GET {ROUTE} route among the routers given")
        self._before = tuple(r.path_regex for r in before)

    def taken(self, scope: Scope) -> tuple | None:
        """What `serve` takes after `scope`, `receive` and `send` when the lane serves this
        request (product_id, key, region, schema, token); None leaves it to the app."""
        if scope["method"] != "GET":
            return None
        match = _PATH.match(scope["path"])
        if match is None:
            return None
        product_id, key = match.groups()
        if len(product_id) > PRODUCT_ID_MAX_LENGTH or len(key) > KEY_MAX_LENGTH:
            return None
        if scope.get("root_path"):
            return None
        for earlier in self._before:
            if earlier.match(scope["path"]):
                return None  # another route's request (a push stream's `/stream`)
        region = None
        if scope["query_string"]:
            params = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
            if len(params) != 1 or params[0][0] != "region":
                return None
            region = params[0][1]
            if not region or len(region) > REGION_MAX_LENGTH:
                return None
        authorization = schema = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                if authorization is None:
                    authorization = value.decode("latin-1")
            elif name == b"x-data-schema-version":
                if schema is None:
                    schema = value.decode("latin-1")
            elif name == b"idempotency-key":
                return None  # validated and stored by the route
        return product_id, key, region, schema, bearer_token(authorization)

    async def serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        product_id: str,
        key: str,
        region: str | None,
        schema: str | None,
        token: str | None,
    ) -> None:
        # What the router would have set: the middleware name the route by its template.
        scope["route"] = self._route
        scope["endpoint"] = self._route.endpoint
        scope["path_params"] = {"product_id": product_id, "key": key}
        request = Request(scope, receive)
        services = self.services
        try:
            principal = await admit(request, services, token)
            product = await lane_product(request, services, principal, product_id, "live", "query")
            response = await answer(
                request, services, principal, product, key, region, schema, idempotency_key=None
            )
        except ApiError as exc:
            response = error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)
        await response(scope, receive, send)
