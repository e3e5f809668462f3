"""A tenant's webhook endpoints for usage alerts (Standard Webhooks), and each endpoint's
delivery log. Another tenant's endpoints are 404."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api.deps import PrincipalDep, ServicesDep
from api.errors import ApiError, error_responses
from api.services import Services
from tollgate.db.webhook_models import WebhookEndpoint
from tollgate.errors import Conflict, NotFound, TollgateError
from tollgate.webhooks.endpoints import (
    active_endpoints,
    create_endpoint,
    delete_endpoint,
    delivery_log,
    get_endpoint,
    send_test_event,
)
from tollgate.webhooks.events import EVENT_TYPES

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
EndpointId = Annotated[str, Path(max_length=32, pattern=r"^we_[0-9a-f]+$")]


class EndpointIn(BaseModel):
    # Request bodies are limited to 1 KB (413 past that).
    url: str = Field(max_length=900, examples=["https://hooks.acme.example/tollgate"])
    event_types: list[str] | None = Field(
        None,
        max_length=len(EVENT_TYPES),
        description="Types to receive (default: all): " + ", ".join(EVENT_TYPES),
        examples=[["usage.rate_limit.80", "usage.rate_limit.100"]],
    )
    description: str = Field("", max_length=200)


class EndpointOut(BaseModel):
    id: str = Field(examples=["we_4f1c2a9b0d3e5f6a7b8c"])
    url: str
    event_types: list[str] | None = Field(description="None: every type")
    description: str
    created_at: datetime
    disabled_at: datetime | None = Field(description="Deleted, or the receiver answered 410")
    disabled_reason: str | None


class CreatedEndpoint(EndpointOut):
    secret: str = Field(
        description="The signing secret (whsec_...): shown once. Verify each delivery's "
        "webhook-signature as the Standard Webhooks specification describes."
    )


class EndpointList(BaseModel):
    tenant_id: str
    endpoints: list[EndpointOut]


class AttemptOut(BaseModel):
    event_id: str = Field(description="The webhook-id sent: the same on every retry")
    attempt: int
    attempted_at: datetime
    status_code: int | None = Field(description="The receiver's; none when it never answered")
    outcome: str = Field(description="delivered or failed")
    error: str | None
    duration_ms: float


class TestEventOut(BaseModel):
    endpoint_id: str
    event_id: str = Field(description="Its webhook-id; find it in the delivery log")
    type: str = Field(examples=["webhook.test"])


class DeliveryLog(BaseModel):
    endpoint_id: str
    attempts: list[AttemptOut]


def _out(e: WebhookEndpoint) -> dict:
    return {
        "id": e.id,
        "url": e.url,
        "event_types": e.event_types,
        "description": e.description,
        "created_at": e.created_at,
        "disabled_at": e.disabled_at,
        "disabled_reason": e.disabled_reason,
    }


@contextmanager
def _endpoint_session(services: Services) -> Iterator[Session]:
    """A metadata session in which an endpoint the tenant does not have answers 404."""
    try:
        with Session(services.metadata_engine) as session:
            yield session
    except NotFound as exc:
        raise ApiError(404, exc.code, str(exc)) from None


@router.post(
    "",
    status_code=201,
    response_model=CreatedEndpoint,
    responses=error_responses(401, 413, 422, 429),
    summary="Register a webhook endpoint (its signing secret is in this answer only)",
)
def register(services: ServicesDep, principal: PrincipalDep, body: EndpointIn) -> CreatedEndpoint:
    try:
        with Session(services.metadata_engine, expire_on_commit=False) as session:
            endpoint = create_endpoint(
                session,
                principal.tenant_id,
                body.url,
                event_types=body.event_types,
                description=body.description,
                actor=principal.credential,
                allowed_networks=services.settings.webhook_private_networks,
            )
    except TollgateError as exc:
        raise ApiError(422, exc.code, str(exc)) from None
    return CreatedEndpoint(**_out(endpoint), secret=endpoint.secret)


@router.get(
    "",
    response_model=EndpointList,
    responses=error_responses(401, 429),
    summary="Your active webhook endpoints",
)
def list_endpoints(services: ServicesDep, principal: PrincipalDep) -> EndpointList:
    with Session(services.metadata_engine) as session:
        rows = active_endpoints(session, principal.tenant_id)
        return EndpointList(
            tenant_id=principal.tenant_id, endpoints=[EndpointOut(**_out(e)) for e in rows]
        )


@router.get(
    "/{endpoint_id}",
    response_model=EndpointOut,
    responses=error_responses(401, 404, 422, 429),
    summary="One of your webhook endpoints",
)
def get_one(services: ServicesDep, principal: PrincipalDep, endpoint_id: EndpointId) -> EndpointOut:
    with _endpoint_session(services) as session:
        return EndpointOut(**_out(get_endpoint(session, principal.tenant_id, endpoint_id)))


@router.delete(
    "/{endpoint_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 404, 422, 429),
    summary="Stop sending to a webhook endpoint (its delivery log stays)",
)
def delete(services: ServicesDep, principal: PrincipalDep, endpoint_id: EndpointId) -> Response:
    with _endpoint_session(services) as session:
        delete_endpoint(session, principal.tenant_id, endpoint_id, principal.credential)
    return Response(status_code=204)


@router.post(
    "/{endpoint_id}/test",
    status_code=202,
    response_model=TestEventOut,
    responses=error_responses(401, 404, 409, 422, 429),
    summary="Send the endpoint a signed webhook.test event (delivered, retried and logged "
    "like any other)",
)
def send_test(
    services: ServicesDep, principal: PrincipalDep, endpoint_id: EndpointId
) -> TestEventOut:
    try:
        with _endpoint_session(services) as session:
            event_id = send_test_event(
                session, principal.tenant_id, endpoint_id, principal.credential
            )
    except Conflict as exc:
        raise ApiError(409, exc.code, str(exc)) from None
    return TestEventOut(endpoint_id=endpoint_id, event_id=event_id, type="webhook.test")


@router.get(
    "/{endpoint_id}/deliveries",
    response_model=DeliveryLog,
    responses=error_responses(401, 404, 422, 429),
    summary="The endpoint's delivery log: every attempt, newest first",
)
def deliveries(
    services: ServicesDep,
    principal: PrincipalDep,
    endpoint_id: EndpointId,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryLog:
    with _endpoint_session(services) as session:
        rows = delivery_log(session, principal.tenant_id, endpoint_id, limit)
        attempts = [
            AttemptOut(
                event_id=a.event_id,
                attempt=a.attempt,
                attempted_at=a.attempted_at,
                status_code=a.status_code,
                outcome=a.outcome,
                error=a.error,
                duration_ms=a.duration_ms,
            )
            for a in rows
        ]
    return DeliveryLog(endpoint_id=endpoint_id, attempts=attempts)
