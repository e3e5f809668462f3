"""`tollgate pricing backtest`: what a proposed catalog would have made of a past month."""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from tollgate.commands import catalog_of, console, load_settings, metadata_session, show
from tollgate.errors import InvalidRequest

app = typer.Typer(
    help="Plan prices: replay past months against a proposed catalog.", no_args_is_help=True
)
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
COLUMNS = ("tenant_id", "tier", "current_cents", "proposed_cents", "difference_cents",
           "requests", "refused_current", "refused_proposed")  # fmt: skip


def _usd(cents: int, sign: bool = False) -> str:
    text = f"${abs(cents) / 100:,.2f}"
    return ("-" if cents < 0 else "+" if sign and cents > 0 else "") + text


@app.command("backtest")
def backtest_command(
    catalog: Annotated[Path, typer.Option("--catalog", help="The proposed catalog (YAML).")],
    month: Annotated[str, typer.Option("--month", help="The month to replay, YYYY-MM.")],
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
) -> None:
    """Per tenant: the month's revenue under the current and the proposed prices (before
    SLA credits), the difference, and the requests the proposed rate limits would have
    refused."""
    from rich.table import Table

    from tollgate.billing.backtest import backtest
    from tollgate.catalog import load_catalog
    from tollgate.db.engine import engine_for

    if not _MONTH.match(month):
        raise InvalidRequest(f"--month must be YYYY-MM, got {month!r}")
    if fmt not in ("table", "csv", "json"):
        raise InvalidRequest(f"--format must be table, csv or json, got {fmt!r}")
    proposed = load_catalog(catalog)  # a catalog that does not load: its own error
    settings = load_settings()
    metadata_session(settings).close()
    rows = backtest(engine_for(settings.metadata_db_url), catalog_of(settings), proposed, month)
    records = [r.fields() for r in rows]
    if fmt == "json":
        totals = {k: sum(r[k] for r in records) for k in COLUMNS[2:]}
        typer.echo(json.dumps({"month": month, "tenants": records, "totals": totals}, indent=2))
        return
    if fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: r[k] for k in COLUMNS} for r in records)
        return
    table = Table(
        "tenant", "tier", "current", "proposed", "difference", "requests",
        "refused now", "refused proposed",
        title=f"Pricing backtest {month}: {catalog.name} against the current catalog",
    )  # fmt: skip
    total = {
        "tenant_id": "total",
        "tier": "",
        **{k: sum(r[k] for r in records) for k in COLUMNS[2:]},
    }
    for r in [*records, total]:
        if r is total:
            table.add_section()
        table.add_row(
            r["tenant_id"],
            r["tier"],
            _usd(r["current_cents"]),
            _usd(r["proposed_cents"]),
            _usd(r["difference_cents"], sign=True),
            f"{r['requests']:,}",
            f"{r['refused_current']:,}",
            f"{r['refused_proposed']:,}",
            style="bold" if r is total else None,
        )
    show(table)
    console.print("Revenue is before SLA credits; contract fees keep their agreed prices.")
