"""Batch products: queries over the published snapshot (GET with query string, or POST)."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response

from api.batchdata import MAX_PAGE_SIZE, BatchQuery, Filter
from api.contracts import purchased_version
from api.cursor import decode_cursor, encode_cursor
from api.delivery import Answer, DeliveryContext, deliver
from api.deps import (
    BatchProductDep,
    IdempotencyKeyHeader,
    PrincipalDep,
    SchemaHeader,
    ServicesDep,
    check_region_filter,
    held_shape,
    schema_version,
    view_of,
)
from api.envelope import ANSWER_HEADERS, PAGE_EXAMPLE, PageResponse
from api.errors import ApiError, error_responses
from api.livedata import to_json_row
from tollgate.clock import utcnow
from tollgate.status import QualityVerdict

router = APIRouter(prefix="/v1/batch", tags=["batch"])
_MAX_OFFSET = 2**62
_ERRORS = error_responses(400, 401, 403, 404, 409, 410, 413, 422, 429, 503)
_EXAMPLE = {
    "responses": {
        "200": {
            "content": {
                "application/json": {
                    "example": {
                        **PAGE_EXAMPLE,
                        "product_id": "customer-behavior-daily",
                        "data_schema_version": "1.0",
                        "data": [
                            {
                                "customer_id": "c-000042",
                                "activity_date": "2026-11-23",
                                "purchases": 2,
                            }
                        ],
                    }
                }
            }
        }
    }
}


def _query_hash(q: BatchQuery) -> str:
    canonical = json.dumps(q.model_dump(exclude={"cursor"}), sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _run(request: Request, services, principal, product, q: BatchQuery, schema, idem) -> Response:
    shape = schema_version(product, schema)
    view = view_of(services, principal, product, q.region, shape.name)
    for f in q.filters:
        if f.column == product.region_column and f.op in ("eq", "in"):
            values = f.value if isinstance(f.value, list) else [f.value]
            check_region_filter(services, principal, product, values)
    lake = services.batch.lake
    # A degraded product answers from the last version that passed its quality gate.
    version = services.served_version(product.id)
    offset = 0
    if q.cursor is not None:
        state = decode_cursor(q.cursor)
        if state.get("q") != _query_hash(q):
            raise ApiError(400, "invalid_cursor", "the cursor belongs to a different query")
        # Cursors are client-held: an offset DuckDB cannot take (negative, past BIGINT,
        # a JSON true) is a bad cursor, not a server error.
        o = state.get("o")
        if type(o) is not int or not 0 <= o <= _MAX_OFFSET:
            raise ApiError(400, "invalid_cursor", "the cursor is not one this API issued")
        version, offset = str(state.get("v")), state["o"]
        if version not in lake.snapshot_versions(product.id):
            raise ApiError(
                409,
                "snapshot_retired",
                f"the snapshot {version} this cursor pages through is gone; start again",
                {"version": version},
            )
    version = purchased_version(services.batch.lake, request.state.terms, product.id, version)
    if version is None:
        raise ApiError(
            503,
            "not_published",
            f"{product.id} has no published snapshot yet",
            {"product_id": product.id},
            headers={"Retry-After": "300"},
        )
    # The snapshot's columns are those of the schema version it was published in.
    held = services.batch.summary(product, version)["manifest"].schema_version
    shape = held_shape(product, shape, schema is not None, held)
    ctx = DeliveryContext(request, services, principal, product, shape, idem)

    def compute(_quality: QualityVerdict) -> Answer:
        summary = services.batch.summary(product, version)
        rows, more = services.batch.query(
            product,
            version,
            q,
            shape,
            regions=list(view.regions) if view.regions is not None else None,
            sample_fraction=view.sample_fraction,
            not_after=view.not_after_date(utcnow()),
            offset=offset,
        )
        manifest = summary["manifest"]
        next_cursor = (
            encode_cursor({"v": version, "o": offset + len(rows), "q": _query_hash(q)})
            if more
            else None
        )
        return Answer(
            [to_json_row(r) for r in rows],
            manifest.watermark_at,
            summary["time_from"],
            summary["time_to"],
            next_cursor,
            served_version=version,
        )

    query = {**q.model_dump(mode="json"), "version": version, "offset": offset}
    return deliver(ctx, "/v1/batch/{product_id}", query, view, compute)


def _filters(raw: list[str]) -> list[Filter]:
    filters = []
    for item in raw:
        parts = item.split(":", 2)
        if len(parts) != 3:
            raise ApiError(400, "invalid_filter", f"{item!r} is not column:op:value")
        column, op, value = parts
        if op not in ("eq", "ne", "lt", "le", "gt", "ge", "in"):
            raise ApiError(400, "invalid_filter", f"unknown operator {op!r}")
        filters.append(
            Filter(column=column, op=op, value=value.split("|") if op == "in" else value)
        )
    return filters


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


@router.get(
    "/{product_id}",
    response_model=PageResponse,
    responses={**_ERRORS, 200: {"headers": ANSWER_HEADERS}},
    openapi_extra=_EXAMPLE,
    summary="Query the current snapshot (query string)",
)
def query_batch_get(
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
    product: BatchProductDep,
    columns: Annotated[
        str | None,
        Query(
            description="Comma-separated columns", examples=["customer_id,activity_date,purchases"]
        ),
    ] = None,
    filter: Annotated[
        list[str],
        Query(
            description="column:op:value; op in eq,ne,lt,le,gt,ge,in (in takes a|b|c)",
            examples=[["region:eq:EU"]],
        ),
    ] = [],  # noqa: B006
    sort: Annotated[
        str | None,
        Query(description="Comma-separated, '-' for descending", examples=["-activity_date"]),
    ] = None,
    region: Annotated[str | None, Query(max_length=32, examples=["EU"])] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    schema: SchemaHeader = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    if len(filter) > 20:
        raise ApiError(400, "invalid_filter", "at most 20 filters")
    sorts = _csv(sort)
    if len(sorts) > 5:  # as the POST form refuses it; dropping keys would reorder silently
        raise ApiError(400, "invalid_sort", "at most 5 sort columns")
    q = BatchQuery(
        columns=_csv(columns) or None,
        filters=_filters(filter),
        sort=sorts,
        region=region,
        limit=limit,
        cursor=cursor,
    )
    return _run(request, services, principal, product, q, schema, idempotency_key)


@router.post(
    "/{product_id}",
    response_model=PageResponse,
    responses={**_ERRORS, 200: {"headers": ANSWER_HEADERS}},
    openapi_extra=_EXAMPLE,
    summary="Query the current snapshot (JSON body, at most 1 KB)",
)
def query_batch_post(
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
    product: BatchProductDep,
    q: Annotated[
        BatchQuery,
        Body(
            examples=[
                {
                    "columns": ["customer_id", "activity_date", "purchases"],
                    "filters": [{"column": "purchases", "op": "ge", "value": 1}],
                    "sort": ["-activity_date"],
                    "region": "EU",
                    "limit": 50,
                }
            ]
        ),
    ],
    schema: SchemaHeader = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    return _run(request, services, principal, product, q, schema, idempotency_key)
