"""Live products: one record by key, and recent records newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from api.cursor import decode_position, encode_cursor
from api.delivery import Answer, DeliveryContext, deliver
from api.deps import (
    IdempotencyKeyHeader,
    IsoDateTime,
    LiveProductDep,
    PrincipalDep,
    RegionQuery,
    SchemaHeader,
    ServicesDep,
    schema_version,
    view_of,
)
from api.envelope import (
    ANSWER_HEADERS,
    PAGE_EXAMPLE,
    RECORD_EXAMPLE,
    PageResponse,
    RecordResponse,
)
from api.errors import ApiError, error_responses
from api.livedata import to_json_row
from api.lookup import KEY_MAX_LENGTH, answer
from tollgate.clock import utcnow

router = APIRouter(prefix="/v1/live", tags=["live"])
MAX_PAGE_SIZE = 1000
_ERRORS = error_responses(400, 401, 403, 404, 410, 413, 422, 429, 503)


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ApiError(400, "naive_datetime", f"{name} needs a timezone, e.g. 2026-11-24T08:00:00Z")
    return value


@router.get(
    "/{product_id}",
    response_model=PageResponse,
    responses={**_ERRORS, 200: {"headers": ANSWER_HEADERS}},
    summary="Recent records, newest first, with cursor pagination",
    openapi_extra={
        "responses": {"200": {"content": {"application/json": {"example": PAGE_EXAMPLE}}}}
    },
)
def recent_records(
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
    product: LiveProductDep,
    region: RegionQuery = None,
    since: Annotated[
        IsoDateTime | None,
        Query(description="Event time from (inclusive)", examples=["2026-11-24T07:00:00Z"]),
    ] = None,
    until: Annotated[IsoDateTime | None, Query(description="Event time until (exclusive)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
    cursor: Annotated[
        str | None, Query(max_length=512, description="next_cursor of the previous page")
    ] = None,
    schema: SchemaHeader = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    since, until = _aware(since, "since"), _aware(until, "until")
    before = (
        decode_position(cursor, "invalid_cursor", "the cursor is not one this API issued")
        if cursor is not None
        else None
    )
    shape = schema_version(product, schema)
    view = view_of(services, principal, product, region, shape.name)
    ctx = DeliveryContext(request, services, principal, product, shape, idempotency_key)

    def compute(_status) -> Answer:
        rows, next_pos = services.live.recent(
            product, view.regions, view.not_after(utcnow()), since, until, before, limit
        )
        times = [r[product.time_column] for r in rows]
        next_cursor = (
            encode_cursor({"pa": next_pos[0].isoformat(), "k": next_pos[1]}) if next_pos else None
        )
        return Answer(
            [to_json_row(shape.project(r)) for r in rows],
            services.watermark(product.id),
            min(times, default=None),
            max(times, default=None),
            next_cursor,
        )

    query = {"region": region, "since": since, "until": until, "limit": limit, "cursor": cursor}
    return deliver(ctx, "/v1/live/{product_id}", query, view, compute)


@router.get(
    "/{product_id}/{key}",
    response_model=RecordResponse,
    responses={**_ERRORS, 200: {"headers": ANSWER_HEADERS}},
    summary="One record by its key",
    openapi_extra={
        "responses": {"200": {"content": {"application/json": {"example": RECORD_EXAMPLE}}}}
    },
)
async def lookup_record(
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
    product: LiveProductDep,
    key: Annotated[str, Path(max_length=KEY_MAX_LENGTH, examples=["tx-0000042"])],
    region: RegionQuery = None,
    schema: SchemaHeader = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    return await answer(request, services, principal, product, key, region, schema, idempotency_key)
