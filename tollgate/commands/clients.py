"""`tollgate clients ...`: OAuth2 client-credentials clients for machine buyers."""

from __future__ import annotations

import typer

from tollgate.commands import cli_actor, console, load_settings, metadata_session, show

app = typer.Typer(
    help="Create, revoke and list OAuth2 clients (client-credentials grant).",
    no_args_is_help=True,
)


@app.command()
def create(tenant_id: str) -> None:
    """Create an OAuth2 client for a tenant. The secret is printed once."""
    from tollgate import tenants as service

    settings = load_settings()
    with metadata_session(settings) as session:
        client_id, secret = service.create_oauth_client(session, tenant_id, actor=cli_actor())
    console.print(f"created OAuth2 client for tenant {tenant_id}; store the secret now:")
    print(f"client_id={client_id}")
    print(f"client_secret={secret}")


@app.command()
def revoke(client_id: str) -> None:
    """Revoke an OAuth2 client: its tokens, push streams and download links stop working."""
    from tollgate import tenants as service

    settings = load_settings()
    with metadata_session(settings) as session:
        client = service.revoke_oauth_client(session, client_id, actor=cli_actor())
    console.print(f"revoked OAuth2 client [bold]{client.client_id}[/] of tenant {client.tenant_id}")


@app.command("list")
def list_(tenant_id: str) -> None:
    """List a tenant's OAuth2 clients."""
    from rich.table import Table

    from tollgate import tenants as service

    settings = load_settings()
    with metadata_session(settings) as session:
        clients = service.list_oauth_clients(session, tenant_id)
    table = Table("client id", "created", "state")
    for c in clients:
        table.add_row(
            c.client_id, f"{c.created_at:%Y-%m-%d %H:%M}", "revoked" if c.revoked_at else "active"
        )
    show(table)
