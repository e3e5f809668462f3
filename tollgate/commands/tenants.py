"""`tollgate tenants ...`: who may buy, on which tier, from which regions."""

from __future__ import annotations

from typing import Annotated

import typer

from tollgate.commands import catalog_of, cli_actor, console, load_settings, metadata_session, show

app = typer.Typer(help="Create, list, suspend and reactivate tenants.", no_args_is_help=True)


@app.command()
def create(
    tenant_id: Annotated[str, typer.Argument(help="Short id, e.g. acme (lowercase, digits, -).")],
    tier: Annotated[str, typer.Option(help="A tier of the catalog: trial, standard, premium.")],
    name: Annotated[str, typer.Option(help="Display name; defaults to the id.")] = "",
    region: Annotated[
        list[str] | None,
        typer.Option(
            help="Restrict the tenant to this region (repeat for several). Default: every region."
        ),
    ] = None,
) -> None:
    """Create a tenant. Issue it a key next with `tollgate keys issue <id>`."""
    from tollgate import tenants as service

    settings = load_settings()
    catalog = catalog_of(settings)
    with metadata_session(settings) as session:
        tenant = service.create_tenant(
            session, tenant_id, name or tenant_id, tier, region, catalog=catalog, actor=cli_actor()
        )
        regions = ", ".join(tenant.allowed_regions or ["all regions"])
    console.print(f"created tenant [bold]{tenant_id}[/] on tier {tier} ({regions})")


@app.command("list")
def list_() -> None:
    """List tenants with tier, status and allowed regions."""
    from rich.table import Table

    from tollgate import tenants as service

    settings = load_settings()
    with metadata_session(settings) as session:
        tenants = service.list_tenants(session)
    table = Table("id", "name", "tier", "status", "regions", "created")
    for t in tenants:
        table.add_row(
            t.id,
            t.name,
            t.tier,
            t.status,
            ", ".join(t.allowed_regions or ["all"]),
            f"{t.created_at:%Y-%m-%d %H:%M}",
        )
    show(table)


@app.command()
def suspend(tenant_id: str) -> None:
    """Suspend a tenant: its keys and clients stop working until it is reactivated."""
    from tollgate import tenants as service

    settings = load_settings()
    with metadata_session(settings) as session:
        service.suspend_tenant(session, tenant_id, actor=cli_actor())
    console.print(f"suspended tenant [bold]{tenant_id}[/]")


@app.command()
def reactivate(tenant_id: str) -> None:
    """Reactivate a suspended tenant."""
    from tollgate import tenants as service

    settings = load_settings()
    with metadata_session(settings) as session:
        service.reactivate_tenant(session, tenant_id, actor=cli_actor())
    console.print(f"reactivated tenant [bold]{tenant_id}[/]")
