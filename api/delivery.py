"""Serving one product answer: status gate, cache, envelope, contract headers, metering.

Every product route hands `deliver` a function that computes the answer's data; this
module owns what is the same for all of them, so the contract cannot drift per route.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import Request, Response

from api import metering
from api.auth import Principal
from api.cache import cache_key
from api.errors import ApiError
from api.idempotency import Claim, fingerprint
from api.metering import Delivery, MeteredResponse
from api.services import Services, StatusView
from tollgate.catalog import Product
from tollgate.clock import utcnow
from tollgate.schema_versions import VersionShape
from tollgate.usage import Trail, trail_at


@dataclass(frozen=True)
class Answer:
    """What a route computed: data plus what the envelope reports about it."""

    data: Any
    watermark_at: datetime | None
    time_from: Any = None
    time_to: Any = None
    next_cursor: str | None = None
    served_version: str | None = None
    paged: bool = True


@dataclass(frozen=True)
class DeliveryContext:
    request: Request
    services: Services
    principal: Principal
    product: Product
    schema: VersionShape  # the schema version asked for: its columns and lifecycle
    idempotency_key: str | None


def not_after(services: Services, principal: Principal) -> datetime | None:
    """Trial tiers see data `delay_seconds` late."""
    delay = services.catalog.tiers[principal.tier].delay_seconds
    return utcnow() - timedelta(seconds=delay) if delay else None


def gate_status(ctx: DeliveryContext) -> StatusView:
    status = ctx.services.product_status(ctx.product.id)
    if status.status == "halted":
        raise ApiError(
            503,
            "product_halted",
            f"{ctx.product.id} is halted: {status.reason or 'quality gate'}",
            {"product_id": ctx.product.id, "reason": status.reason},
            headers={"Retry-After": "60"},
        )
    return status


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime | date) else value


def _body(
    ctx: DeliveryContext, answer: Answer, status: StatusView, regions: list[str] | None
) -> dict:
    body = {
        "api_version": ctx.services.catalog.api_version,
        "product_id": ctx.product.id,
        "data_schema_version": ctx.schema.name,
        "backward_compatible_until": _iso(ctx.schema.version.backward_compatible_until),
        "metadata": {
            "freshness_seconds": None,
            "watermark_at": _iso(answer.watermark_at),
            "freshness_sla_seconds": ctx.product.freshness_sla_seconds,
            "coverage": {
                "regions": regions if regions is not None else list(ctx.services.catalog.regions),
                "time_from": _iso(answer.time_from),
                "time_to": _iso(answer.time_to),
            },
            "quality": {
                "status": status.status,
                "reason": status.reason,
                "served_version": answer.served_version,
                "failed_version": status.failed_version,
            },
            "cache": "miss",
        },
        "data": answer.data,
    }
    if answer.paged:
        body["next_cursor"] = answer.next_cursor
    return body


def deliver(
    ctx: DeliveryContext,
    route: str,
    query: dict[str, Any],
    regions: list[str] | None,
    compute: Callable[[StatusView], Answer],
) -> Response:
    """The answer, metered: it leaves once its ledger record is durable. With an
    Idempotency-Key (then call it off the event loop: it reads and writes the metadata
    database), a retry gets the stored first answer back, not billed again."""
    claim = None
    if ctx.idempotency_key:
        asked = fingerprint(ctx.request, ctx.schema.name)
        claim = ctx.services.idempotency.claim(ctx.principal.tenant_id, ctx.idempotency_key, asked)
        if claim.stored is not None:
            return claim.replay()
    try:
        return _deliver(ctx, route, query, regions, compute, claim)
    except BaseException:
        if claim is not None:
            claim.release()
        raise


def _deliver(
    ctx: DeliveryContext,
    route: str,
    query: dict[str, Any],
    regions: list[str] | None,
    compute: Callable[[StatusView], Answer],
    claim: Claim | None,
) -> Response:
    started = time.perf_counter()
    services, principal = ctx.services, ctx.principal
    status = gate_status(ctx)
    tier = services.catalog.tiers[principal.tier]
    ttl = tier.cache_ttl_seconds
    cached, key = None, ""
    if ttl:
        scope = frozenset(regions) if regions is not None else None
        query = {**query, "schema": ctx.schema.name, "status": status.status}
        key = cache_key(principal.tier, scope, ctx.product.id, route, query)
        cached = services.cache.get(key)
        services.metrics.cache.labels(ctx.product.id, "hit" if cached else "miss").inc()
    if cached is not None:
        body = json.loads(cached)
        body["metadata"]["cache"] = "hit"
    else:
        body = _body(ctx, _computed(ctx, route, compute, status), status, regions)
        if ttl:
            services.cache.set(key, json.dumps(body, default=str).encode(), ttl)
    watermark = body["metadata"]["watermark_at"]
    quality = body["metadata"]["quality"]
    trail = trail_at(
        utcnow(),
        ctx.schema.name,
        datetime.fromisoformat(watermark) if watermark else None,
        quality["status"],
        quality["served_version"],
    )
    freshness = trail.freshness_seconds
    if freshness is not None:
        body["metadata"]["freshness_seconds"] = freshness
    payload = json.dumps(body, default=str, separators=(",", ":")).encode()
    headers = _contract_headers(ctx, body, freshness)
    data = body["data"]
    delivery = Delivery(
        tenant_id=principal.tenant_id,
        product_id=ctx.product.id,
        units=len(data) if isinstance(data, list) else 1,
        bytes=len(payload),
        route=route,
        request_id=ctx.request.state.request_id,
        compute_ms=(time.perf_counter() - started) * 1000,
        fixed_id=claim.delivery_id if claim is not None else None,
        terms=ctx.request.state.terms,
        trail=trail,
    )
    # The buyer's handle on this answer in its usage and invoices.
    headers["X-Delivery-ID"] = delivery.delivery_id
    if claim is None:
        receipt = metering.record_delivery(delivery)
    else:
        receipt = claim.complete(payload, headers, metering.ledger_delivery(delivery))
    return MeteredResponse(payload, receipt, headers)


def _computed(
    ctx: DeliveryContext, route: str, compute: Callable[[StatusView], Answer], status: StatusView
) -> Answer:
    """The route's answer. A lookup that finds nothing is a 404, billed only when the
    product's price says empty answers are (`bill_empty`)."""
    try:
        return compute(status)
    except ApiError as exc:
        if exc.code == "record_not_found" and ctx.product.price_at(utcnow()).bill_empty:
            metering.record_delivery(
                Delivery(
                    tenant_id=ctx.principal.tenant_id,
                    product_id=ctx.product.id,
                    units=0,
                    bytes=0,
                    route=route,
                    request_id=ctx.request.state.request_id,
                    terms=ctx.request.state.terms,
                    trail=Trail(schema_version=ctx.schema.name, quality_status=status.status),
                )
            )
        raise


def _contract_headers(ctx: DeliveryContext, body: dict, freshness: float | None) -> dict[str, str]:
    headers = {
        "X-API-Version": ctx.services.catalog.api_version,
        "X-Data-Schema-Version": ctx.schema.name,
        "X-Data-Freshness": str(int(freshness)) if freshness is not None else "unknown",
        "X-Data-Quality": body["metadata"]["quality"]["status"],
        "X-Cache": body["metadata"]["cache"],
    }
    # Deprecation and Sunset from the day a successor is announced.
    headers.update(ctx.schema.headers(utcnow()))
    return headers
