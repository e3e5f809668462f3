"""Serving one product answer: status gate, cache, envelope, contract headers, metering.

Every product route hands `deliver` a function that computes the answer's data; this
module owns what is the same for all of them, so the contract cannot drift per route.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import msgspec
from fastapi import Request, Response

from api import metering
from api.auth import Principal
from api.cache import cache_key
from api.errors import ApiError
from api.idempotency import Claim, fingerprint
from api.metering import Delivery, MeteredResponse
from api.services import Services
from tollgate.catalog import Product
from tollgate.clock import utcnow
from tollgate.schema_versions import VersionShape
from tollgate.status import ProductStatus, QualityVerdict, decide
from tollgate.tenant_view import TenantView
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


def refuse_halted(product_id: str, quality: QualityVerdict) -> None:
    """503 `product_halted` when the quality gate stopped the product's delivery."""
    if quality.status == "halted":
        raise ApiError(
            503,
            "product_halted",
            f"{product_id} is halted: {quality.reason or 'quality gate'}",
            {"product_id": product_id, "reason": quality.reason},
            headers={"Retry-After": "60"},
        )


def gate_status(ctx: DeliveryContext) -> QualityVerdict:
    quality = ctx.services.product_status(ctx.product.id)
    refuse_halted(ctx.product.id, quality)
    return quality


_DATES = (datetime, date)  # a union written in the call is built anew on every call


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, _DATES) else value


def _body(ctx: DeliveryContext, answer: Answer, status: QualityVerdict, view: TenantView) -> dict:
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
                "regions": list(view.coverage),
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
            **view.metadata(),
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
    view: TenantView,
    compute: Callable[[QualityVerdict], Answer],
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
        return _deliver(ctx, route, query, view, compute, claim)
    except BaseException:
        if claim is not None:
            claim.release()
        raise


def _deliver(
    ctx: DeliveryContext,
    route: str,
    query: dict[str, Any],
    view: TenantView,
    compute: Callable[[QualityVerdict], Answer],
    claim: Claim | None,
) -> Response:
    started = time.perf_counter()
    services, principal = ctx.services, ctx.principal
    status = gate_status(ctx)
    tier = services.catalog.tiers[principal.tier]
    ttl = tier.cache_ttl_seconds
    cached, key = None, ""
    if ttl:
        scope = frozenset(view.regions) if view.regions is not None else None
        query = {**query, "schema": ctx.schema.name, "status": status.status}
        key = cache_key(principal.tier, scope, ctx.product.id, route, query)
        cached = services.cache.get(key)
        services.metrics.cache.labels(ctx.product.id, "hit" if cached else "miss").inc()
    body = msgspec.json.decode(cached) if cached is not None else None
    state = _state_now(ctx, body, status) if body is not None else None
    if state is not None and not state.within_sla:
        body = None  # the cached answer's data is now older than the SLA allows
    if body is not None:
        body["metadata"]["cache"] = "hit"
    else:
        answer = _computed(ctx, route, compute, status)
        body = _body(ctx, answer, status, view)
        # The status of the data this answer holds: as old as its watermark.
        state = decide(ctx.product, answer.watermark_at, utcnow(), status)
        keep = cache_seconds(ttl, state)
        if keep:
            services.cache.set(key, encode_json(body), keep)
    freshness = state.freshness_seconds
    metadata = body["metadata"]
    metadata["freshness_seconds"] = round(freshness, 3) if freshness is not None else None
    metadata["status"] = state.status
    metadata["status_reason"] = state.reason
    now = utcnow()
    served = metadata["quality"]["served_version"]
    trail = trail_at(now, ctx.schema.name, state.watermark_at, status.status, served)
    payload = encode_json(body)
    headers = {**_contract_headers(ctx, metadata["cache"], state, now), **view.headers()}
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


def encode_json(body: dict) -> bytes:
    """An answer's body as compact JSON (values it cannot encode as their `str`)."""
    return _ENCODER.encode(body)


_ENCODER = msgspec.json.Encoder(enc_hook=str)


def _computed(
    ctx: DeliveryContext,
    route: str,
    compute: Callable[[QualityVerdict], Answer],
    status: QualityVerdict,
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


def _state_now(ctx: DeliveryContext, body: dict, quality: QualityVerdict) -> ProductStatus:
    """The product's status now, from the watermark of the data a cached answer holds (a
    cached answer is as old as its watermark, not as its cache entry)."""
    watermark = body["metadata"]["watermark_at"]
    at = datetime.fromisoformat(watermark) if watermark else None
    return decide(ctx.product, at, utcnow(), quality)


def cache_seconds(tier_ttl: int, state: ProductStatus) -> int:
    """How long an answer may be cached: the tier's TTL, but never past the moment its data
    would be older than the product's freshness SLA (answers already over it are not kept:
    a recomputation may find newer data)."""
    if not tier_ttl or state.freshness_seconds is None:
        return 0
    return max(0, min(tier_ttl, int(state.sla_seconds - state.freshness_seconds)))


def status_headers(state: ProductStatus) -> dict[str, str]:
    """The status and freshness headers every channel sends."""
    freshness = state.freshness_seconds
    return {
        "X-Data-Freshness": str(int(freshness)) if freshness is not None else "unknown",
        "X-Data-Status": state.status,
        "X-Data-Quality": state.quality.status,
    }


def _contract_headers(
    ctx: DeliveryContext, cache: str, state: ProductStatus, now: datetime
) -> dict[str, str]:
    headers = {
        "X-API-Version": ctx.services.catalog.api_version,
        "X-Data-Schema-Version": ctx.schema.name,
        **status_headers(state),
        "X-Cache": cache,
    }
    # Deprecation and Sunset from the day a successor is announced.
    headers.update(ctx.schema.headers(now))
    return headers
