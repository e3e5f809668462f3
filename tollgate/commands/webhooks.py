"""`tollgate webhooks`: tenants' webhook endpoints for usage alerts, and their logs."""

from __future__ import annotations

from typing import Annotated

import typer

from tollgate.commands import cli_actor, console, load_settings, metadata_session, show
from tollgate.errors import NotFound

app = typer.Typer(
    help="Register tenants' webhook endpoints and read their logs.", no_args_is_help=True
)


def _tenant_of(session, endpoint_id: str) -> str:
    from tollgate.db.webhook_models import WebhookEndpoint

    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(f"no webhook endpoint {endpoint_id!r}")
    return endpoint.tenant_id


@app.command("create")
def create(
    tenant_id: Annotated[str, typer.Argument(help="The tenant's id.")],
    url: Annotated[str, typer.Argument(help="The receiver: an http(s) URL.")],
    event: Annotated[
        list[str] | None,
        typer.Option("--event", help="An event type to send (repeat; default all)."),
    ] = None,
    description: Annotated[str, typer.Option(help="A note for the tenant.")] = "",
) -> None:
    """Register an endpoint for a tenant; prints its signing secret once."""
    from tollgate.db.models import Tenant
    from tollgate.webhooks.endpoints import create_endpoint

    settings = load_settings()
    with metadata_session(settings) as session:
        if session.get(Tenant, tenant_id) is None:
            raise NotFound(f"no tenant {tenant_id!r}")
        endpoint = create_endpoint(
            session,
            tenant_id,
            url,
            event_types=event,
            description=description,
            actor=cli_actor(),
            allowed_networks=settings.webhook_private_networks,
        )
        console.print(f"endpoint {endpoint.id} for {tenant_id}: {url}")
        console.print(f"signing secret (shown once): {endpoint.secret}")


@app.command("list")
def list_(tenant: Annotated[str | None, typer.Option(help="Only this tenant's.")] = None) -> None:
    """List endpoints (deleted ones too), newest first."""
    from rich.table import Table
    from sqlalchemy import select

    from tollgate.db.webhook_models import WebhookEndpoint as E

    with metadata_session(load_settings()) as session:
        query = select(E).order_by(E.created_at.desc())
        if tenant is not None:
            query = query.where(E.tenant_id == tenant)
        rows = list(session.scalars(query))
    table = Table("id", "tenant", "url", "events", "created (UTC)", "state")
    for e in rows:
        state = "active" if e.disabled_at is None else f"disabled: {e.disabled_reason}"
        table.add_row(e.id, e.tenant_id, e.url, ", ".join(e.event_types or ["all"]),
                      f"{e.created_at:%Y-%m-%d %H:%M}", state)  # fmt: skip
    show(table)


@app.command("delete")
def delete(endpoint_id: Annotated[str, typer.Argument(help="The endpoint's id (we_...).")]) -> None:
    """Stop sending to an endpoint (its log stays)."""
    from tollgate.webhooks.endpoints import delete_endpoint

    with metadata_session(load_settings()) as session:
        delete_endpoint(session, _tenant_of(session, endpoint_id), endpoint_id, cli_actor())
    console.print(f"endpoint {endpoint_id} deleted")


@app.command("log")
def log_(
    endpoint_id: Annotated[str, typer.Argument(help="The endpoint's id (we_...).")],
    limit: Annotated[int, typer.Option(min=1, help="At most this many attempts.")] = 50,
) -> None:
    """The endpoint's delivery log: every attempt, newest first."""
    from rich.table import Table

    from tollgate.webhooks.endpoints import delivery_log

    with metadata_session(load_settings()) as session:
        rows = delivery_log(session, _tenant_of(session, endpoint_id), endpoint_id, limit)
    table = Table("at (UTC)", "event (webhook-id)", "attempt", "status", "outcome", "error")
    for a in rows:
        table.add_row(f"{a.attempted_at:%Y-%m-%d %H:%M:%S}", a.event_id, str(a.attempt),
                      str(a.status_code or "-"), a.outcome, a.error or "")  # fmt: skip
    show(table)


@app.command("send")
def send() -> None:
    """Send every delivery due now (the API does this every second while it runs)."""
    from tollgate.db.engine import engine_for
    from tollgate.webhooks.sender import WebhookSender

    settings = load_settings()
    metadata_session(settings).close()
    sender = WebhookSender(engine_for(settings.metadata_db_url), settings)
    try:
        total = 0
        while n := sender.run_due():
            total += n
    finally:
        sender.close()
    console.print(f"{total} attempts")
