"""`tollgate invoices show TENANT MONTH`: a tenant's invoice for a month, as a table;
`tollgate invoices trace TENANT MONTH LINE`: the deliveries behind one of its lines."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import typer

from tollgate.commands import catalog_of, console, load_settings, metadata_session, show
from tollgate.errors import InvalidRequest, NotFound

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from tollgate.settings import Settings

app = typer.Typer(help="Show tenants' invoices.", no_args_is_help=True)
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _tenant_month(tenant_id: str, month: str) -> tuple[Settings, Engine]:
    """The settings and the metadata database, once `month` is YYYY-MM and the tenant exists."""
    from tollgate.db.engine import engine_for
    from tollgate.db.models import Tenant

    if not _MONTH.match(month):
        raise InvalidRequest(f"month must be YYYY-MM, got {month!r}")
    settings = load_settings()
    with metadata_session(settings) as session:
        if session.get(Tenant, tenant_id) is None:
            raise NotFound(f"no tenant {tenant_id!r}")
    return settings, engine_for(settings.metadata_db_url)


def _usd(cents: int) -> str:
    return f"{'-' if cents < 0 else ''}${abs(cents) / 100:,.2f}"


@app.command("show")
def show_invoice(
    tenant_id: Annotated[str, typer.Argument(help="The tenant's id.")],
    month: Annotated[str, typer.Argument(help="The month, YYYY-MM.")],
    compute: Annotated[
        bool,
        typer.Option(
            "--compute", help="Recompute the month's invoices from the usage ledger first."
        ),
    ] = False,
) -> None:
    """Print a tenant's invoice for a month with its line items."""
    from rich.table import Table

    from tollgate.billing import invoice_month, tenant_invoices
    from tollgate.billing.lines import usd_text

    settings, engine = _tenant_month(tenant_id, month)
    if compute:
        invoice_month(engine, catalog_of(settings), month)
    stored = tenant_invoices(engine, tenant_id, month)
    if not stored:
        raise NotFound(
            f"no invoice for {tenant_id} in {month} (billing has not run, or no usage; "
            "--compute computes it now)"
        )
    invoice = stored[0].draft
    table = Table(
        "#", "product", "price model", "description", "quantity", "unit price", "amount",
        title=f"Invoice {invoice.id}",
        caption=f"computed {stored[0].computed_at:%Y-%m-%d %H:%M} UTC",
    )  # fmt: skip
    for n, line in enumerate(invoice.lines, start=1):
        table.add_row(
            str(n),
            line.product_id,
            line.price_model,
            line.description,
            f"{line.quantity:,}",
            usd_text(line.unit_price_usd),
            _usd(line.amount_cents),
        )
    table.add_section()
    if invoice.credits_cents:
        table.add_row("", "charges", "", "", "", "", _usd(invoice.charges_cents))
        table.add_row("", "SLA credits", "", "", "", "", _usd(-invoice.credits_cents))
    table.add_row("", "total", "", "", "", "", _usd(invoice.total_cents), style="bold")
    show(table)
    console.print(f"total due: {_usd(invoice.total_cents)} USD")


@app.command("trace")
def trace_invoice_line(
    tenant_id: Annotated[str, typer.Argument(help="The tenant's id.")],
    month: Annotated[str, typer.Argument(help="The month, YYYY-MM.")],
    line_no: Annotated[int, typer.Argument(metavar="LINE", help="The line's number (1, 2, ...).")],
    limit: Annotated[int, typer.Option(help="Show at most this many deliveries.")] = 100,
) -> None:
    """List the deliveries behind one invoice line, with what each delivered."""
    from rich.table import Table

    from tollgate.billing.lines import usd_text
    from tollgate.billing.trace import trace_line
    from tollgate.prices import MICROS

    settings, engine = _tenant_month(tenant_id, month)
    traced = trace_line(engine, tenant_id, month, line_no, limit, catalog=catalog_of(settings))
    if traced is None:
        raise NotFound(f"{tenant_id}'s invoice for {month} has no line {line_no}")
    line = traced.line
    console.print(
        f"{traced.invoice_id} line {line_no}: {line.product_id}, {line.description} "
        f"= {_usd(line.amount_cents)}"
    )
    console.print(
        f"{traced.deliveries_total:,} deliveries, {traced.units_total:,} units"
        + ("" if line.channel or traced.deliveries_total else " (no deliveries behind it)")
    )
    if not traced.deliveries:
        return
    table = Table(
        "delivery id", "at (UTC)", "units", "unit price", "status", "schema", "snapshot",
        "watermark (UTC)", "freshness s", "quality",
    )  # fmt: skip
    for d in traced.deliveries:
        table.add_row(
            d["delivery_id"],
            f"{d['occurred_at']:%Y-%m-%d %H:%M:%S}",
            f"{d['units']:,}",
            usd_text(Decimal(d["unit_price_micros"]) / MICROS),
            d["status"],
            d["schema_version"] or "-",
            d["snapshot_version"] or "-",
            f"{d['watermark_at']:%Y-%m-%d %H:%M:%S}" if d["watermark_at"] else "-",
            f"{d['freshness_seconds']:.3f}" if d["freshness_seconds"] is not None else "-",
            d["quality_status"] or "-",
        )
    show(table)
    rest = traced.deliveries_total - len(traced.deliveries)
    if rest > 0:
        console.print(f"... and {rest:,} more (--limit shows more)")
