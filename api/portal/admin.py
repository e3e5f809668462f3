"""The seller's view: revenue per product and month, and each tenant's revenue, cost, margin
and flag (cost above the alert ratio of revenue), as the billing jobs stored them.

A seller signs in with a link from `tollgate portal admin-link`; anyone else (a buyer's
session included) gets 404 here.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import case, func, select

from api.deps import ServicesDep
from api.portal.session import PortalError, new_csrf, read_cookie, write_cookie
from api.portal.web import PortalRoute, render, see_other
from api.services import Services
from tollgate import audit
from tollgate.admin_links import read_admin_token, use_admin_link
from tollgate.clock import utcnow
from tollgate.db.billing_models import Invoice, InvoiceLine, TenantMargin

router = APIRouter(prefix="/portal/admin", route_class=PortalRoute, include_in_schema=False)
MONTHS = 3


async def current_seller(request: Request, services: ServicesDep) -> dict:
    session = read_cookie(request, services)
    if not isinstance(session.get("a"), str) or not session.get("x"):
        raise PortalError(404, "Not found", "There is no such page.")
    return session


SellerDep = Annotated[dict, Depends(current_seller)]


@router.get("/enter")
async def enter(
    request: Request, services: ServicesDep, token: Annotated[str, Query(max_length=400)] = ""
) -> Response:
    try:
        link = read_admin_token(services.settings.secret(), token)
        await asyncio.to_thread(use_admin_link, services.metadata_engine, link, utcnow())
    except ValueError as exc:
        raise PortalError(403, "Link not valid", f"{exc}; mint a new one with "
                          "`tollgate portal admin-link`.") from None  # fmt: skip
    await asyncio.to_thread(audit.record_now, services.settings.metadata_db_url, None,
                            link.actor, "portal.admin_sign_in", "portal")  # fmt: skip
    response = see_other("/portal/admin")
    write_cookie(request, response, services, {"a": link.actor, "x": new_csrf()})
    return response


def _figures(services: Services) -> dict:
    engine = services.metadata_engine
    with engine.connect() as conn:
        months = [
            m
            for (m,) in conn.execute(
                select(Invoice.month).distinct().order_by(Invoice.month.desc()).limit(MONTHS)
            )
        ]
        credit = InvoiceLine.price_basis == "credit"
        by_product = conn.execute(
            select(
                Invoice.month,
                InvoiceLine.product_id,
                func.sum(case((credit, 0), else_=InvoiceLine.amount_cents)).label("charges"),
                func.sum(case((credit, -InvoiceLine.amount_cents), else_=0)).label("credits"),
                func.count(func.distinct(Invoice.tenant_id)).label("tenants"),
            )
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(Invoice.month.in_(months))
            .group_by(Invoice.month, InvoiceLine.product_id)
            .order_by(Invoice.month.desc(), InvoiceLine.product_id)
        ).all()
        margins = conn.execute(
            select(TenantMargin)
            .where(TenantMargin.month.in_(months))
            .order_by(
                TenantMargin.month.desc(), TenantMargin.is_flagged.desc(), TenantMargin.tenant_id
            )  # fmt: skip
        ).all()
    return {"months": months, "by_product": by_product, "margins": margins}


@router.get("")
async def seller_view(request: Request, seller: SellerDep, services: ServicesDep) -> Response:
    figures = await asyncio.to_thread(_figures, services)
    return render(request, "admin.html", None, seller=seller, **figures)
