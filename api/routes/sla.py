"""A tenant's own SLA report: per UTC day, p95 latency, freshness compliance, availability
and error rate of its requests, against the KPIs (tollgate/sla.py, the figures the nightly
SLA asset computes for every tenant)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import IsoDate, PrincipalDep, ServicesDep
from api.errors import ApiError, error_responses
from tollgate.clock import utcnow
from tollgate.sla import FIGURES, KPIS, tenant_days

router = APIRouter(prefix="/v1/sla", tags=["billing"])
MAX_DAYS = 92
DEFAULT_DAYS = 30


class SlaTargets(BaseModel):
    p95_latency_ms: float = Field(description="Met when the day's p95 is below this")
    freshness_compliance: float = Field(description="Met at or above this share")
    availability: float = Field(description="Met at or above this share")
    error_rate: float = Field(description="Met when below this share")


class SlaDay(BaseModel):
    date: date
    requests: int
    p95_latency_ms: float = Field(description="Nearest rank: 95% were answered this fast")
    freshness_compliance: float | None = Field(
        description="Share of deliveries within the product's freshness SLA; none when "
        "nothing was delivered"
    )
    availability: float = Field(description="Share of active minutes not entirely 5xx")
    error_rate: float = Field(description="Share of requests answered 5xx")
    breaches: list[str] = Field(description="The figures that missed their target")


class SlaResponse(BaseModel):
    tenant_id: str
    date_from: date
    date_to: date = Field(description="Inclusive")
    kpis: SlaTargets
    days: list[SlaDay] = Field(description="Days with at least one request, oldest first")


_EXAMPLE = {
    "tenant_id": "acme",
    "date_from": "2026-11-01",
    "date_to": "2026-11-30",
    "kpis": dict(KPIS.__dict__),
    "days": [
        {
            "date": "2026-11-24",
            "requests": 40,
            "p95_latency_ms": 612.0,
            "freshness_compliance": 1.0,
            "availability": 1.0,
            "error_rate": 0.0,
            "breaches": ["p95_latency_ms"],
        }
    ],
}


@router.get(
    "",
    response_model=SlaResponse,
    responses={
        200: {"content": {"application/json": {"example": _EXAMPLE}}},
        **error_responses(400, 401, 422, 429, 431),
    },
    summary="Your service levels per day against the KPIs (today's so far)",
)
def get_sla(
    services: ServicesDep,
    principal: PrincipalDep,
    date_from: Annotated[
        IsoDate | None, Query(description="Default: 29 days before date_to")
    ] = None,
    date_to: Annotated[IsoDate | None, Query(description="Inclusive; default: today")] = None,
) -> SlaResponse:
    end = date_to or utcnow().date()
    # Near the first day of the calendar there are not 30 days before date_to.
    default_start = (
        end - timedelta(days=DEFAULT_DAYS - 1) if end.toordinal() > DEFAULT_DAYS else date.min
    )
    start = date_from or default_start
    if start > end or (end - start).days >= MAX_DAYS or end == date.max:
        raise ApiError(
            400,
            "invalid_range",
            f"date_from must be on or before date_to, at most {MAX_DAYS} days apart",
        )
    days = tenant_days(services.metadata_engine, principal.tenant_id, start, end)
    return SlaResponse(
        tenant_id=principal.tenant_id,
        date_from=start,
        date_to=end,
        kpis=SlaTargets(**{f: getattr(KPIS, f) for f in FIGURES}),
        days=[SlaDay(**d) for d in days],
    )
