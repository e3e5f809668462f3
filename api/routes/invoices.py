"""A tenant's own invoices (computed monthly from the usage ledger by the batch lane)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from api.deps import PrincipalDep, ServicesDep
from api.errors import ApiError, error_responses
from tollgate.billing import tenant_invoices
from tollgate.billing.queries import StoredInvoice

router = APIRouter(prefix="/v1/invoices", tags=["billing"])


class InvoiceLineOut(BaseModel):
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
        None, description="list, trial, subscription, purchase or empty"
    )
    contract_id: str | None = Field(None, description="The subscription or purchase behind it")


class InvoiceOut(BaseModel):
    id: str
    month: str = Field(examples=["2026-11"])
    currency: str = "USD"
    total_cents: int
    computed_at: datetime
    lines: list[InvoiceLineOut]


class InvoiceList(BaseModel):
    tenant_id: str
    invoices: list[InvoiceOut]


_INVOICE = {
    "id": "acme:2026-11",
    "month": "2026-11",
    "currency": "USD",
    "total_cents": 1650,
    "computed_at": "2026-11-24T02:00:00Z",
    "lines": [
        {
            "product_id": "transaction-risk",
            "price_model": "per_query",
            "description": "11 queries x $1.50",
            "quantity": 11,
            "unit_price_usd": "1.50",
            "amount_cents": 1650,
            "channel": "query",
            "price_basis": "list",
            "contract_id": None,
        }
    ],
}


def _out(stored: StoredInvoice) -> InvoiceOut:
    d = stored.draft
    return InvoiceOut(
        id=d.id,
        month=d.month,
        total_cents=d.total_cents,
        computed_at=stored.computed_at,
        lines=[InvoiceLineOut(**line.__dict__) for line in d.lines],
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
