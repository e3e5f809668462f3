"""A tenant's own usage per day and product: rolled-up days plus today, read live."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import IsoDate, PrincipalDep, ServicesDep
from api.errors import ApiError, error_responses
from tollgate.billing import tenant_usage
from tollgate.clock import utcnow

router = APIRouter(prefix="/v1/usage", tags=["billing"])
MAX_DAYS = 366


class UsageDay(BaseModel):
    date: date
    product_id: str
    requests: int = Field(description="Ledger records: answers, exports, batches of messages")
    units: int = Field(description="Billed units: queries, records or messages")
    bytes: int


class UsageResponse(BaseModel):
    tenant_id: str
    date_from: date
    date_to: date = Field(description="Inclusive")
    days: list[UsageDay]


_EXAMPLE = {
    "tenant_id": "acme",
    "date_from": "2026-11-01",
    "date_to": "2026-11-24",
    "days": [
        {
            "date": "2026-11-24",
            "product_id": "transaction-risk",
            "requests": 42,
            "units": 42,
            "bytes": 51234,
        }
    ],
}


@router.get(
    "",
    response_model=UsageResponse,
    responses={
        200: {"content": {"application/json": {"example": _EXAMPLE}}},
        **error_responses(400, 401, 422, 429, 431),
    },
    summary="Your usage per day and product (today's is near real time)",
)
def get_usage(
    services: ServicesDep,
    principal: PrincipalDep,
    date_from: Annotated[IsoDate | None, Query(description="Default: 30 days ago")] = None,
    date_to: Annotated[IsoDate | None, Query(description="Inclusive; default: today")] = None,
) -> UsageResponse:
    today = utcnow().date()
    end = date_to or today
    # At the ends of the calendar there is no day 30 before or one after (the ledger query
    # takes an exclusive end): such a range is the client's mistake, not a server error.
    start = date_from or max(date.min + timedelta(days=30), end) - timedelta(days=30)
    if start > end or (end - start).days >= MAX_DAYS or end == date.max:
        raise ApiError(
            400,
            "invalid_range",
            f"date_from must be on or before date_to, at most {MAX_DAYS} days apart",
        )
    frame = tenant_usage(
        services.metadata_engine, principal.tenant_id, start, end + timedelta(days=1), today
    )
    days = [
        UsageDay(
            date=r["usage_date"],
            product_id=r["product_id"],
            requests=r["requests"],
            units=r["units"],
            bytes=r["bytes"],
        )
        for r in frame.iter_rows(named=True)
    ]
    return UsageResponse(tenant_id=principal.tenant_id, date_from=start, date_to=end, days=days)
