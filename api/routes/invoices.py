"""A tenant's own invoices (computed monthly from the usage ledger by the batch lane)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from api.cursor import decode_cursor, encode_cursor
from api.deps import PrincipalDep, ServicesDep
from api.errors import ApiError, error_responses
from tollgate.billing import tenant_invoices
from tollgate.billing.queries import StoredInvoice
from tollgate.billing.trace import trace_line
from tollgate.prices import MICROS

router = APIRouter(prefix="/v1/invoices", tags=["billing"])


class InvoiceLineOut(BaseModel):
    line_no: int = Field(description="The line's number: /v1/invoices/{month}/lines/{line_no}")
    product_id: str
    price_model: str
    description: str
    quantity: int
    unit_price_usd: Decimal
    amount_cents: int
    channel: str | None = Field(
        None, description="query, push or export; none on a subscription or purchase fee"
    )
    price_basis: str | None = Field(
        None, description="list, trial, subscription, purchase, empty; credit on an SLA credit"
    )
    contract_id: str | None = Field(None, description="The subscription or purchase behind it")
    kind: str | None = Field(
        None,
        description="The unit a deliveries line counts (query, records, messages, export); "
        "sla_deliveries or sla_availability on a credit line",
    )
    evidence: dict | None = Field(
        None,
        description="A credit line's evidence: the deliveries credited (how many, the UTC "
        "hours, the snapshot versions) or the month's availability and threshold",
    )


class InvoiceOut(BaseModel):
    id: str
    month: str = Field(examples=["2026-11"])
    currency: str = "USD"
    charges_cents: int
    credits_cents: int = Field(description="SLA credits taken off the charges")
    total_cents: int = Field(description="charges_cents - credits_cents")
    computed_at: datetime
    lines: list[InvoiceLineOut]


class InvoiceList(BaseModel):
    tenant_id: str
    invoices: list[InvoiceOut]


_INVOICE = {
    "id": "acme:2026-11",
    "month": "2026-11",
    "currency": "USD",
    "charges_cents": 1650,
    "credits_cents": 0,
    "total_cents": 1650,
    "computed_at": "2026-11-24T02:00:00Z",
    "lines": [
        {
            "line_no": 1,
            "product_id": "transaction-risk",
            "price_model": "per_query",
            "description": "11 queries x $1.50",
            "quantity": 11,
            "unit_price_usd": "1.50",
            "amount_cents": 1650,
            "channel": "query",
            "price_basis": "list",
            "contract_id": None,
            "kind": "query",
        }
    ],
}


def _out(stored: StoredInvoice) -> InvoiceOut:
    d = stored.draft
    return InvoiceOut(
        id=d.id,
        month=d.month,
        charges_cents=d.charges_cents,
        credits_cents=d.credits_cents,
        total_cents=d.total_cents,
        computed_at=stored.computed_at,
        lines=[
            InvoiceLineOut(line_no=n, **line.__dict__) for n, line in enumerate(d.lines, start=1)
        ],
    )


@router.get(
    "",
    response_model=InvoiceList,
    responses={
        200: {
            "content": {
                "application/json": {"example": {"tenant_id": "acme", "invoices": [_INVOICE]}}
            }
        },
        **error_responses(401, 429),
    },
    summary="Your invoices, newest month first",
)
def list_invoices(services: ServicesDep, principal: PrincipalDep) -> InvoiceList:
    stored = tenant_invoices(services.metadata_engine, principal.tenant_id)
    return InvoiceList(tenant_id=principal.tenant_id, invoices=[_out(s) for s in stored])


@router.get(
    "/{month}",
    response_model=InvoiceOut,
    responses={
        200: {"content": {"application/json": {"example": _INVOICE}}},
        **error_responses(401, 404, 422, 429),
    },
    summary="Your invoice for one month (YYYY-MM)",
)
def get_invoice(
    services: ServicesDep,
    principal: PrincipalDep,
    month: Annotated[str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-11"])],
) -> InvoiceOut:
    stored = tenant_invoices(services.metadata_engine, principal.tenant_id, month)
    if not stored:
        raise ApiError(404, "invoice_not_found", f"no invoice for {month}", {"month": month})
    return _out(stored[0])


class DeliveryOut(BaseModel):
    delivery_id: str = Field(description="The X-Delivery-ID the answer carried")
    occurred_at: datetime
    product_id: str
    channel: str
    kind: str
    units: int
    bytes: int
    unit_price_usd: Decimal = Field(description="The price applied when it was delivered")
    price_basis: str
    contract_id: str | None
    status: str = Field(description="delivered, or reversal (an answer that was not sent)")
    route: str
    schema_version: str | None = Field(description="The data schema version it was served in")
    snapshot_version: str | None = Field(description="The published snapshot (batch, exports)")
    watermark_at: datetime | None = Field(description="The data's newest time when delivered")
    freshness_seconds: float | None = Field(description="Delivery time minus watermark_at")
    quality_status: str | None = Field(description="The product's quality status then")


class LineDeliveries(BaseModel):
    invoice_id: str
    line: InvoiceLineOut
    deliveries_total: int = Field(description="Ledger records behind the line, on every page")
    units_total: int = Field(description="Their units: the line's quantity")
    deliveries: list[DeliveryOut]
    next_cursor: str | None


_DELIVERIES = {
    "invoice_id": "acme:2026-11",
    "line": _INVOICE["lines"][0],
    "deliveries_total": 11,
    "units_total": 11,
    "deliveries": [
        {
            "delivery_id": "acme:req:7f0c9d2e",
            "occurred_at": "2026-11-03T09:12:44Z",
            "product_id": "transaction-risk",
            "channel": "query",
            "kind": "query",
            "units": 1,
            "bytes": 812,
            "unit_price_usd": "1.5",
            "price_basis": "list",
            "contract_id": None,
            "status": "delivered",
            "route": "/v1/live/{product_id}/{key}",
            "schema_version": "1.3",
            "snapshot_version": None,
            "watermark_at": "2026-11-03T09:12:41Z",
            "freshness_seconds": 3.2,
            "quality_status": "healthy",
        }
    ],
    "next_cursor": None,
}


def _after(cursor: str | None) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    state = decode_cursor(cursor)
    try:
        at, delivery_id = datetime.fromisoformat(state["at"]), state["id"]
    except (KeyError, TypeError, ValueError):
        raise ApiError(400, "invalid_cursor", "the cursor is not one this API issued") from None
    if at.tzinfo is None or not isinstance(delivery_id, str):
        raise ApiError(400, "invalid_cursor", "the cursor is not one this API issued")
    return at, delivery_id


def _delivery_out(row: dict) -> DeliveryOut:
    micros = row.pop("unit_price_micros")
    return DeliveryOut(
        **{**row, "price_basis": row["price_basis"] or "list"},
        unit_price_usd=Decimal(micros) / MICROS,
    )


@router.get(
    "/{month}/lines/{line_no}/deliveries",
    response_model=LineDeliveries,
    responses={
        200: {"content": {"application/json": {"example": _DELIVERIES}}},
        **error_responses(400, 401, 404, 422, 429),
    },
    summary="The deliveries behind one line of your invoice (or credited by it), oldest first",
)
def line_deliveries(
    services: ServicesDep,
    principal: PrincipalDep,
    month: Annotated[str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-11"])],
    line_no: Annotated[int, Path(ge=1, le=100_000, examples=[1])],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> LineDeliveries:
    traced = trace_line(
        services.metadata_engine,
        principal.tenant_id,
        month,
        line_no,
        limit,
        _after(cursor),
        services.catalog,
    )
    if traced is None:
        raise ApiError(
            404,
            "invoice_line_not_found",
            f"your invoice for {month} has no line {line_no}",
            {"month": month, "line_no": line_no},
        )
    after = traced.next_after
    return LineDeliveries(
        invoice_id=traced.invoice_id,
        line=InvoiceLineOut(line_no=line_no, **traced.line.__dict__),
        deliveries_total=traced.deliveries_total,
        units_total=traced.units_total,
        deliveries=[_delivery_out(r) for r in traced.deliveries],
        next_cursor=encode_cursor({"at": after[0].isoformat(), "id": after[1]}) if after else None,
    )
