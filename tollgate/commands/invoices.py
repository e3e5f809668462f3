"""`tollgate invoices show TENANT MONTH`: a tenant's invoice for a month, as a table."""

from __future__ import annotations

import re
from typing import Annotated

import typer
from rich.table import Table

from tollgate.billing import invoice_month, tenant_invoices
from tollgate.billing.lines import usd_text
from tollgate.commands import catalog_of, console, load_settings, metadata_session, show
from tollgate.db.engine import engine_for
from tollgate.db.models import Tenant
from tollgate.errors import InvalidRequest, NotFound

app = typer.Typer(help="Show tenants' invoices.", no_args_is_help=True)
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _usd(cents: int) -> str:
    return f"${cents / 100:,.2f}"


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
    if not _MONTH.match(month):
        raise InvalidRequest(f"month must be YYYY-MM, got {month!r}")
    settings = load_settings()
    with metadata_session(settings) as session:
        if session.get(Tenant, tenant_id) is None:
            raise NotFound(f"no tenant {tenant_id!r}")
    engine = engine_for(settings.metadata_db_url)
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
        "product", "price model", "description", "quantity", "unit price", "amount",
        title=f"Invoice {invoice.id}",
        caption=f"computed {stored[0].computed_at:%Y-%m-%d %H:%M} UTC",
    )  # fmt: skip
    for line in invoice.lines:
        table.add_row(
            line.product_id,
            line.price_model,
            line.description,
            f"{line.quantity:,}",
            usd_text(line.unit_price_usd),
            _usd(line.amount_cents),
        )
    table.add_section()
    table.add_row("total", "", "", "", "", _usd(invoice.total_cents), style="bold")
    show(table)
    console.print(f"total due: {_usd(invoice.total_cents)} USD")
