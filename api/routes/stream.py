"""Live push over Server-Sent Events, fed by the process's one live-store watcher."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from api import pushmetering
from api.auth import Principal
from api.cursor import decode_position
from api.delivery import refuse_halted, status_headers
from api.deps import (
    PrincipalDep,
    PushProductDep,
    RegionQuery,
    SchemaHeader,
    ServicesDep,
    schema_version,
    view_of,
)
from api.errors import ApiError, error_responses
from api.livedata import Position
from api.services import Services
from api.streamguard import StreamClosed
from api.watcher import PushEvent, Subscriber, push_event
from tollgate.catalog import Product
from tollgate.clock import utcnow
from tollgate.schema_versions import VersionShape
from tollgate.tenant_view import TenantView
from tollgate.usage import Trail, trail_at

router = APIRouter(prefix="/v1/live", tags=["push"])
RESUME_LIMIT = 10_000
MAX_BATCH = 500
ROUTE = "/v1/live/{product_id}/stream"
# How often an open stream re-checks the contract it was opened under (a cancelled
# subscription or an ended trial stops the stream within this many seconds).
CONTRACT_CHECK_SECONDS = 5.0


def _resume_position(last_event_id: str | None) -> Position | None:
    if not last_event_id:
        return None
    return decode_position(
        last_event_id, "invalid_last_event_id", "Last-Event-ID is not an id this API sent"
    )


class _EventStream(EventSourceResponse):
    """sse-starlette's response without a per-write cancel scope when no send timeout is set.

    One event goes to every subscriber, so per-write overhead multiplies by the subscriber
    count; with `send_timeout=None` the scope would never fire anyway.
    """

    async def _send_with_timeout(self, send, message) -> None:
        if self.send_timeout is None:
            await send(message)
        else:
            await super()._send_with_timeout(send, message)


class _Release:
    """Gives back a stream's subscription and connection lease, exactly once.

    Called when the event generator ends and again as the response's background task,
    which also runs when the client went away before the generator ever started.
    """

    def __init__(self, services: Services, principal: Principal, sub: Subscriber, lease: str):
        self.services, self.sub, self.lease = services, sub, lease
        self.done = False
        services.metrics.sse_connections.labels(sub.product_id).inc()
        services.stream_guard.watch(sub, principal)

    def __call__(self) -> None:
        if self.done:
            return
        self.done = True
        self.services.stream_guard.forget(self.sub)
        self.services.watcher.unsubscribe(self.sub)
        self.services.connections.release(self.lease)
        self.services.metrics.sse_connections.labels(self.sub.product_id).dec()


async def _events(
    request: Request,
    services: Services,
    principal: Principal,
    product: Product,
    view: TenantView,
    sub: Subscriber,
    resume: Position | None,
    release: _Release,
) -> AsyncIterator[bytes | ServerSentEvent]:
    delay = timedelta(seconds=view.delay_seconds)
    last = resume
    meter = pushmetering.SubscriptionMeter(
        principal.tenant_id,
        product.id,
        ROUTE,
        request.state.request_id,
        request.state.terms,
        # Cached reads: on the loop with local stores, else in a thread (Services.point_read).
        describe=lambda: services.point_read(_trail, services, product, sub),
    )
    next_check = time.monotonic() + CONTRACT_CHECK_SECONDS
    try:
        backlog: list[PushEvent] = []
        # Set when more was missed than one resume replays: after this part, the client
        # resumes again from here (live events sent now would jump over the rest).
        replay_end: PushEvent | None = None
        if resume is not None:
            rows = await asyncio.to_thread(
                services.live.changes_after, product, resume, RESUME_LIMIT
            )
            events = [push_event(product, r, [sub.shape] if sub.shape else []) for r in rows]
            backlog = [e for e in events if sub.wants(e)]
            replay_end = events[-1] if len(rows) >= RESUME_LIMIT else None
        while True:
            if replay_end is not None and not backlog:
                yield ServerSentEvent(
                    data="more to replay; reconnect with Last-Event-ID",
                    event="lagging",
                    id=replay_end.id,
                )
                return
            event = backlog.pop(0) if backlog else await sub.queue.get()
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + CONTRACT_CHECK_SECONDS
                ended = await asyncio.to_thread(_contract_ended, services, principal, product)
                if ended is None and sub.shape is not None and sub.shape.retired(utcnow()):
                    ended = _retired_event(sub.shape)
                if ended is not None:
                    yield ended
                    return
            # Whatever else is already waiting goes out in the same write.
            batch = [event, *backlog]
            backlog = []
            while replay_end is None and not sub.queue.empty() and len(batch) < MAX_BATCH:
                batch.append(sub.queue.get_nowait())
            frames = []
            for event in batch:
                if isinstance(event, StreamClosed):
                    # Access ended: what is queued is neither sent nor billed.
                    yield _closed_event(event)
                    return
                if last is not None and event.position <= last:
                    continue  # already sent during the resume backlog
                if delay:
                    # Trial tiers see each record `delay_seconds` after it happened.
                    wait = (event.event_at + delay - utcnow()).total_seconds()
                    if wait > 0:
                        if frames:
                            yield await _metered(meter, frames)
                            frames = []
                        await asyncio.sleep(wait)
                frames.append(event.frame_for(sub))
                last = event.position
            if frames:
                yield await _metered(meter, frames)
            if sub.dropped and sub.queue.empty():
                yield ServerSentEvent(
                    data="fell behind; reconnect with Last-Event-ID", event="lagging"
                )
                return
    finally:
        release()


def _retired_event(shape: VersionShape) -> ServerSentEvent:
    """A stream opened in a schema version that has since been sunset ends; what is
    queued is neither sent nor billed."""
    body = {
        "code": "schema_version_retired",
        "message": f"{shape.product_id} schema version {shape.name} is retired; "
        f"the current version is {shape.current}",
        "details": {"version": shape.name, "current_version": shape.current},
    }
    return ServerSentEvent(data=json.dumps(body), event="closed")


def _trail(services: Services, product: Product, sub: Subscriber) -> Trail:
    """What a push window delivers: the schema version the stream was opened in, the live
    watermark and quality status as the window opens."""
    status = services.product_status(product.id)
    watermark = services.watermark(product.id)
    schema = sub.shape.name if sub.shape is not None else product.schema_version.version
    return trail_at(utcnow(), schema, watermark, status.status)


def _closed_event(closed: StreamClosed) -> ServerSentEvent:
    reason = {"code": closed.code, "message": closed.message}
    return ServerSentEvent(data=json.dumps(reason), event="closed")


async def _metered(meter: pushmetering.SubscriptionMeter, frames: list[bytes]) -> bytes:
    """The frames as one write, once their delivery is durable in the ledger."""
    data = b"".join(frames)
    await meter.before_send(len(frames), len(data))
    return data


def _contract_ended(
    services: Services, principal: Principal, product: Product
) -> ServerSentEvent | None:
    """A closing event when the contract the stream was opened under no longer holds."""
    try:
        services.contracts.terms_for(principal, product, "push")
    except ApiError as exc:
        body = json.dumps({"code": exc.code, "message": exc.message, "details": exc.details})
        return ServerSentEvent(data=body, event="contract_ended")
    return None


@router.get(
    "/{product_id}/stream",
    responses={
        200: {
            "description": "An event stream: `record` events (data = one JSON record in the "
            "schema version asked for, id = resume token) and heartbeat comments. A stream "
            "whose key or client is revoked, or whose tenant is suspended, ends within seconds "
            'with a `closed` event (data = `{"code", "message"}`), as does one whose schema '
            "version is retired while open (code `schema_version_retired`); one whose contract "
            "ended, with a `contract_ended` event; one that falls behind, with a `lagging` "
            "event.",
            "content": {
                "text/event-stream": {
                    "example": "event: record\nid: eyJrIjoidC0xIn0\n"
                    'data: {"transaction_id":"t-1","region":"EU"}\n\n'
                }
            },
        },
        **error_responses(400, 401, 403, 404, 410, 429, 503),
    },
    response_class=EventSourceResponse,
    summary="Subscribe to a live product (Server-Sent Events, Last-Event-ID resume)",
)
async def stream_product(
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
    product: PushProductDep,
    region: RegionQuery = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=512)] = None,
    schema: SchemaHeader = None,
) -> EventSourceResponse:
    shape = schema_version(product, schema)
    view = view_of(services, principal, product, region, shape.name)
    resume = _resume_position(last_event_id)
    state = await asyncio.to_thread(services.status, product)
    refuse_halted(product.id, state.quality)
    allowed = services.catalog.tiers[principal.tier].sse_connections
    budget = services.connections
    if budget.shared:
        lease = await asyncio.to_thread(budget.acquire, principal.tenant_id, allowed)
    else:
        lease = budget.acquire(principal.tenant_id, allowed)
    if lease is None:
        raise ApiError(
            429,
            "too_many_connections",
            f"the {principal.tier} tier allows {allowed} open streams",
            {"limit": allowed},
            headers={"Retry-After": "5"},
        )
    sub = services.watcher.subscribe(
        product.id, frozenset(view.regions) if view.regions is not None else None, shape
    )
    release = _Release(services, principal, sub, lease)
    await services.watcher.start_position(product)
    return _EventStream(
        _events(request, services, principal, product, view, sub, resume, release),
        ping=services.sse_heartbeat_seconds,
        background=BackgroundTask(release),
        headers={
            "X-API-Version": services.catalog.api_version,
            "X-Data-Schema-Version": shape.name,
            # Deprecation and Sunset from the day a successor is announced.
            **shape.headers(utcnow()),
            # The product's status and freshness when the stream opened.
            **status_headers(state),
            # The tier's delay (and sample, which push does not apply: 1).
            **view.headers(),
        },
    )
