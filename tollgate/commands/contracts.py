"""`tollgate subscriptions ...` and `tollgate purchases ...`: what each tenant bought.

Every change is audited; a refused one prints `error: <reason>` and writes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from tollgate.clock import utcnow
from tollgate.commands import catalog_of, cli_actor, console, load_settings, metadata_session, show
from tollgate.errors import InvalidRequest

subscriptions = typer.Typer(
    help="Subscribe tenants to subscription products, list and cancel.", no_args_is_help=True
)
purchases = typer.Typer(help="Record and list one-time purchases.", no_args_is_help=True)

When = Annotated[
    str | None,
    typer.Option(help="UTC date or time, e.g. 2026-12-01 or 2026-12-01T09:00. Default: now."),
]


def _when(text: str | None, what: str) -> datetime | None:
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(
            f"{what}: {text!r} is not a date or time (YYYY-MM-DD[THH:MM])"
        ) from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _usd(micros: int) -> str:
    from tollgate.prices import MICROS

    return f"${micros / MICROS:,.2f}"


def _at(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else ""


@subscriptions.command("create")
def subscribe(
    tenant_id: str,
    product_id: str,
    start: When = None,
    end: Annotated[
        str | None, typer.Option(help="Fixed end (UTC). Default: until cancelled.")
    ] = None,
    monthly_usd: Annotated[
        float | None,
        typer.Option(help="Price agreed at signing, per month. Default: the catalog's price."),
    ] = None,
) -> None:
    """Subscribe a tenant to a product sold by subscription (charged by active days)."""
    from tollgate.contracts import create_subscription

    settings = load_settings()
    with metadata_session(settings) as session:
        sub = create_subscription(
            session,
            tenant_id,
            product_id,
            starts_at=_when(start, "--start"),
            ends_at=_when(end, "--end"),
            price_usd=monthly_usd,
            catalog=catalog_of(settings),
            actor=cli_actor(),
        )
        until = f"until {_at(sub.ends_at)}" if sub.ends_at else "until cancelled"
        console.print(
            f"subscribed [bold]{tenant_id}[/] to {product_id}: [bold]{sub.id}[/], "
            f"{_usd(sub.price_micros)}/month from {_at(sub.starts_at)} UTC {until}"
        )


@subscriptions.command("list")
def list_subs(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's.")] = None,
) -> None:
    """List subscriptions with their price, dates and status."""
    from rich.table import Table

    from tollgate.contracts import list_subscriptions, subscription_status

    settings = load_settings()
    now = utcnow()
    with metadata_session(settings) as session:
        rows = list_subscriptions(session, tenant)
    table = Table("id", "tenant", "product", "plan", "price", "starts", "ends", "status")
    for s in rows:
        table.add_row(
            s.id,
            s.tenant_id,
            s.product_id,
            s.plan,
            f"{_usd(s.price_micros)}/month",
            _at(s.starts_at),
            _at(s.ends_at),
            subscription_status(s, now),
        )
    show(table)


@subscriptions.command("cancel")
def cancel(
    subscription_id: str,
    at: When = None,
) -> None:
    """Cancel a subscription, now or at a later time; it is charged until then."""
    from tollgate.contracts import cancel_subscription

    settings = load_settings()
    with metadata_session(settings) as session:
        sub = cancel_subscription(session, subscription_id, at=_when(at, "--at"), actor=cli_actor())
        console.print(f"cancelled [bold]{sub.id}[/]: it ends {_at(sub.ends_at)} UTC")


@purchases.command("create")
def buy(tenant_id: str, product_id: str) -> None:
    """Record a tenant's purchase of a one-time product (charged once, this month)."""
    from tollgate.contracts import create_purchase

    settings = load_settings()
    with metadata_session(settings) as session:
        purchase, _ = create_purchase(
            session, tenant_id, product_id, catalog=catalog_of(settings), actor=cli_actor()
        )
        console.print(
            f"recorded [bold]{purchase.id}[/]: {tenant_id} bought {product_id} for "
            f"{_usd(purchase.price_micros)}; snapshots published until "
            f"{_at(purchase.updates_until)} UTC are included"
        )


@purchases.command("list")
def list_buys(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's.")] = None,
) -> None:
    """List one-time purchases."""
    from rich.table import Table

    from tollgate.contracts import list_purchases

    settings = load_settings()
    with metadata_session(settings) as session:
        rows = list_purchases(session, tenant)
    table = Table("id", "tenant", "product", "price", "bought", "updates until")
    for p in rows:
        table.add_row(
            p.id,
            p.tenant_id,
            p.product_id,
            _usd(p.price_micros),
            _at(p.purchased_at),
            _at(p.updates_until),
        )
    show(table)
