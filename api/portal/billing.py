"""Usage, rate-limit headroom and invoices (with each line's deliveries), as the API reports
them: the pages call the functions behind /v1/usage and /v1/invoices."""

from __future__ import annotations

import asyncio
import csv
import io
import math
import time
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from api.deps import ServicesDep
from api.portal.chart import usage_chart
from api.portal.pdf import render_pdf
from api.portal.session import PortalError, Viewer, ViewerDep
from api.portal.web import PortalRoute, price_text, render, usd_text
from api.routes import invoices, sla, usage
from api.services import Services
from tollgate.billing.invoices import month_bounds
from tollgate.billing.ledger_reads import day_start
from tollgate.clock import utcnow
from tollgate.prices import MICROS
from tollgate.webhooks.alerts import month_to_date

router = APIRouter(prefix="/portal", route_class=PortalRoute, include_in_schema=False)
Month = Annotated[str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
USAGE_DAYS = 30


def headroom(services: Services, viewer: Viewer) -> dict:
    """The hourly budget left, read without spending any of it."""
    tier = viewer.principal.tier
    item = services.limits.items[tier]
    stats = services.limits.limiter.get_window_stats(item, viewer.tenant_id)
    return {
        "limit": item.amount,
        "remaining": max(0, stats.remaining),
        "reset_seconds": max(0, math.ceil(stats.reset_time - time.time())),
    }


def monthly_budgets(services: Services, viewer: Viewer) -> dict | None:
    """This month's requests and spend against the tier's quota and spend cap (the
    thresholds usage webhooks warn at), or None when the tier sets neither."""
    tier = services.catalog.tiers[viewer.principal.tier]
    if not (tier.monthly_request_quota or tier.monthly_spend_cap_usd):
        return None
    start, end = month_bounds(f"{utcnow():%Y-%m}")
    usage = month_to_date(services.metadata_engine, day_start(start), day_start(end))
    requests, micros = usage.get(viewer.tenant_id, (0, 0))
    spend = Decimal(micros) / MICROS
    cap = Decimal(str(tier.monthly_spend_cap_usd)) if tier.monthly_spend_cap_usd else None
    quota = tier.monthly_request_quota
    return {
        "requests": requests,
        "quota": quota,
        "quota_percent": round(100 * requests / quota, 1) if quota else None,
        "spend_usd": spend,
        "cap_usd": cap,
        "cap_percent": round(float(100 * spend / cap), 1) if cap else None,
    }


@router.get("/usage")
async def usage_page(request: Request, viewer: ViewerDep, services: ServicesDep) -> Response:
    today = utcnow().date()
    start = today - timedelta(days=USAGE_DAYS - 1)
    report = await asyncio.to_thread(usage.get_usage, services, viewer.principal, start, today)
    units: dict = defaultdict(int)
    totals: dict = defaultdict(lambda: {"requests": 0, "units": 0, "bytes": 0})
    for day in report.days:
        units[(day.date, day.product_id)] += day.units
        for field in ("requests", "units", "bytes"):
            totals[day.product_id][field] += getattr(day, field)
    tier = services.catalog.tiers[viewer.principal.tier]
    return render(
        request,
        "usage.html",
        viewer,
        report=report,
        chart=usage_chart(units, start, today),
        totals=dict(sorted(totals.items())),
        budget=await asyncio.to_thread(headroom, services, viewer),
        monthly=await asyncio.to_thread(monthly_budgets, services, viewer),
        tier=tier,
        tier_name=viewer.principal.tier,
    )


def _day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PortalError(400, "Invalid date", f"{field} is a day written YYYY-MM-DD.") from None


@router.get("/sla")
async def sla_page(
    request: Request,
    viewer: ViewerDep,
    services: ServicesDep,
    date_from: Annotated[str | None, Query(max_length=10)] = None,
    date_to: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    start, end = _day(date_from, "From"), _day(date_to, "To")
    report = await asyncio.to_thread(sla.get_sla, services, viewer.principal, start, end)
    return render(request, "sla.html", viewer, report=report, max_days=sla.MAX_DAYS)


@router.get("/invoices")
async def invoices_page(request: Request, viewer: ViewerDep, services: ServicesDep) -> Response:
    listed = await asyncio.to_thread(invoices.list_invoices, services, viewer.principal)
    return render(request, "invoices.html", viewer, invoices=listed.invoices)


@router.get("/invoices/{month}")
async def invoice_page(
    request: Request, month: Month, viewer: ViewerDep, services: ServicesDep
) -> Response:
    invoice = await asyncio.to_thread(invoices.get_invoice, services, viewer.principal, month)
    return render(request, "invoice.html", viewer, invoice=invoice)


@router.get("/invoices/{month}/invoice.csv")
async def invoice_csv(month: Month, viewer: ViewerDep, services: ServicesDep) -> Response:
    invoice = await asyncio.to_thread(invoices.get_invoice, services, viewer.principal, month)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["invoice_id", "month", "line_no", "product_id", "channel", "price_basis",
                     "description", "quantity", "unit_price_usd", "amount_cents"])  # fmt: skip
    for line in invoice.lines:
        writer.writerow([invoice.id, invoice.month, line.line_no, line.product_id,
                         line.channel or "", line.price_basis or "", line.description,
                         line.quantity, line.unit_price_usd, line.amount_cents])  # fmt: skip
    for label, cents in (("charges", invoice.charges_cents), ("credits", -invoice.credits_cents),
                         ("total", invoice.total_cents)):  # fmt: skip
        writer.writerow([invoice.id, invoice.month, "", "", "", "", label, "", "", cents])
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="invoice-{invoice.month}.csv"',
            "Cache-Control": "no-store",
        },
    )


def invoice_lines(invoice, tenant_name: str) -> list[tuple[str, int, str]]:
    """The invoice as lines of text for the PDF: a header, then a fixed-width table."""
    out = [
        ("F2", 16, f"Invoice {invoice.month}"),
        ("F1", 10, f"Invoice {invoice.id} for {tenant_name}"),
        ("F1", 10, f"Computed {invoice.computed_at:%Y-%m-%d %H:%M} UTC; amounts in USD"),
        ("F1", 10, ""),
        (
            "F3",
            8,
            f"{'#':>3} {'Product':<26} {'Channel':<8} {'Quantity':>10} "
            f"{'Unit price':>11} {'Amount':>12}",
        ),  # fmt: skip
    ]
    for line in invoice.lines:
        channel = (line.channel or line.price_basis or "")[:8]
        unit, amount = price_text(line.unit_price_usd), usd_text(line.amount_cents)
        row = f"{line.line_no:>3} {line.product_id[:26]:<26} {channel:<8} {line.quantity:>10,} "
        out.append(("F3", 8, f"{row}{unit:>11} {amount:>12}"))
        out.append(("F3", 8, f"    {line.description[:84]}"))
    out += [
        ("F3", 8, ""),
        ("F3", 8, f"{'Charges':>62} {usd_text(invoice.charges_cents):>12}"),
        ("F3", 8, f"{'SLA credits':>62} {usd_text(-invoice.credits_cents):>12}"),
        ("F2", 10, f"Total {usd_text(invoice.total_cents)}"),
    ]
    return out


@router.get("/invoices/{month}/invoice.pdf")
async def invoice_pdf(month: Month, viewer: ViewerDep, services: ServicesDep) -> Response:
    invoice = await asyncio.to_thread(invoices.get_invoice, services, viewer.principal, month)
    pdf = render_pdf(invoice_lines(invoice, viewer.tenant_id), f"Invoice {invoice.id}")
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="invoice-{invoice.month}.pdf"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/invoices/{month}/lines/{line_no}")
async def line_page(
    request: Request,
    month: Month,
    line_no: Annotated[int, Path(ge=1, le=100_000)],
    viewer: ViewerDep,
    services: ServicesDep,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    traced = await asyncio.to_thread(
        invoices.line_deliveries, services, viewer.principal, month, line_no, 100, cursor
    )
    return render(request, "line.html", viewer, month=month, traced=traced)
