"""A buyer's contracts: its subscriptions (recorded by the seller) and its one-time
purchases, which it makes itself. A retried purchase with the same Idempotency-Key returns
the first one; buying a product that is not sold once is a 422."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api.deps import IdempotencyKeyHeader, PrincipalDep, ServicesDep, entitled
from api.errors import ApiError, error_responses
from tollgate.clock import utcnow
from tollgate.contracts import (
    create_purchase,
    list_purchases,
    list_subscriptions,
    subscription_status,
)
from tollgate.errors import Conflict, NotEntitled, NotFound, TollgateError
from tollgate.prices import MICROS

subscriptions = APIRouter(prefix="/v1/subscriptions", tags=["contracts"])
purchases = APIRouter(prefix="/v1/purchases", tags=["contracts"])


class SubscriptionOut(BaseModel):
    id: str = Field(examples=["sub_3f9a1c0d2b7e4a61"])
    product_id: str = Field(examples=["region-activity"])
    plan: str = Field(examples=["monthly"])
    price_usd: Decimal = Field(description="Per month, as agreed at signing", examples=["25000"])
    currency: str = "USD"
    starts_at: datetime
    ends_at: datetime | None = Field(description="None: until cancelled")
    cancelled_at: datetime | None
    status: str = Field(examples=["active"], description="scheduled, active, cancelled, ended")


class SubscriptionList(BaseModel):
    tenant_id: str
    subscriptions: list[SubscriptionOut]


class PurchaseIn(BaseModel):
    product_id: str = Field(max_length=64, examples=["market-trends"])


class PurchaseOut(BaseModel):
    id: str = Field(examples=["pur_8d2e0b9c41a7f356"])
    product_id: str = Field(examples=["market-trends"])
    price_usd: Decimal = Field(examples=["50000"])
    currency: str = "USD"
    purchased_at: datetime
    updates_until: datetime = Field(
        description="Snapshot versions published until then are included"
    )


class PurchaseList(BaseModel):
    tenant_id: str
    purchases: list[PurchaseOut]


def _usd(micros: int) -> Decimal:
    return Decimal(micros) / MICROS


@subscriptions.get(
    "",
    response_model=SubscriptionList,
    responses=error_responses(401, 429),
    summary="Your subscriptions, past and present",
)
def get_subscriptions(services: ServicesDep, principal: PrincipalDep) -> SubscriptionList:
    now = utcnow()
    with Session(services.metadata_engine) as session:
        rows = list_subscriptions(session, principal.tenant_id)
    return SubscriptionList(
        tenant_id=principal.tenant_id,
        subscriptions=[
            SubscriptionOut(
                id=s.id,
                product_id=s.product_id,
                plan=s.plan,
                price_usd=_usd(s.price_micros),
                currency=s.currency,
                starts_at=s.starts_at,
                ends_at=s.ends_at,
                cancelled_at=s.cancelled_at,
                status=subscription_status(s, now),
            )
            for s in rows
        ],
    )


def _purchase_out(p) -> PurchaseOut:
    return PurchaseOut(
        id=p.id,
        product_id=p.product_id,
        price_usd=_usd(p.price_micros),
        currency=p.currency,
        purchased_at=p.purchased_at,
        updates_until=p.updates_until,
    )


@purchases.get(
    "",
    response_model=PurchaseList,
    responses=error_responses(401, 429),
    summary="Your one-time purchases",
)
def get_purchases(services: ServicesDep, principal: PrincipalDep) -> PurchaseList:
    with Session(services.metadata_engine) as session:
        rows = list_purchases(session, principal.tenant_id)
    return PurchaseList(tenant_id=principal.tenant_id, purchases=[_purchase_out(p) for p in rows])


@purchases.post(
    "",
    status_code=201,
    response_model=PurchaseOut,
    responses={
        200: {"model": PurchaseOut, "description": "A retry: the purchase already made"},
        **error_responses(401, 403, 404, 409, 422, 429),
    },
    summary="Buy a one-time product (charged once, on this month's invoice)",
)
def buy(
    response: Response,
    services: ServicesDep,
    principal: PrincipalDep,
    body: PurchaseIn,
    idempotency_key: IdempotencyKeyHeader = None,
) -> PurchaseOut:
    entitled(services, principal, body.product_id)  # 404 unknown, 403 not in the tier
    services.contracts.check_trial(principal, body.product_id)  # 403 trial ended
    try:
        with Session(services.metadata_engine, expire_on_commit=False) as session:
            purchase, new = create_purchase(
                session,
                principal.tenant_id,
                body.product_id,
                idempotency_key=idempotency_key,
                catalog=services.catalog,
                actor=principal.credential,
            )
    except NotEntitled as exc:
        status = 422 if exc.code == "not_one_time" else 403
        raise ApiError(status, exc.code, str(exc), exc.details) from None
    except (NotFound, Conflict) as exc:
        raise ApiError(404 if isinstance(exc, NotFound) else 409, exc.code, str(exc)) from None
    except TollgateError as exc:
        raise ApiError(422, exc.code, str(exc)) from None
    services.contracts.forget(principal.tenant_id)
    if not new:
        response.status_code = 200
    return _purchase_out(purchase)
