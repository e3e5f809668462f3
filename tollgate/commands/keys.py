"""`tollgate keys ...`: API keys, shown once at issue and stored only as hashes."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from tollgate.clock import utcnow
from tollgate.commands import cli_actor, console, load_settings, metadata_session, show

app = typer.Typer(help="Issue, revoke and list API keys.", no_args_is_help=True)


@app.command()
def issue(
    tenant_id: str,
    name: Annotated[str, typer.Option(help="What the key is for, e.g. 'prod ingest'.")] = "",
    expires_in_days: Annotated[
        int | None, typer.Option(min=1, help="Expire after this many days. Default: never.")
    ] = None,
) -> None:
    """Issue an API key. The key is printed once; Tollgate keeps only its hash."""
    from tollgate import tenants as service

    settings = load_settings()
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    with metadata_session(settings) as session:
        key = service.issue_key(session, tenant_id, name, expires_at, actor=cli_actor())
    console.print(
        f"issued key [bold]{key.key_id}[/] for tenant {tenant_id}"
        + (f", expires {expires_at:%Y-%m-%d}" if expires_at else "")
    )
    console.print("store it now, it is not shown again:")
    # Plain print: a terminal-width wrap would split the key across lines.
    print(key.plaintext)


@app.command()
def revoke(
    key: Annotated[
        str, typer.Argument(help="The key id, or the whole key (tg_<key id>_<secret>).")
    ],
) -> None:
    """Revoke an API key, at once. Only its key id is recorded, never the secret."""
    from tollgate import tenants as service

    settings = load_settings()
    with metadata_session(settings) as session:
        row = service.revoke_key(session, key, actor=cli_actor())
    console.print(f"revoked key [bold]{row.key_id}[/] of tenant {row.tenant_id}")


@app.command("list")
def list_(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
) -> None:
    """List keys (ids and dates only; secrets are never stored)."""
    from rich.table import Table

    from tollgate import tenants as service

    settings = load_settings()
    with metadata_session(settings) as session:
        keys = service.list_keys(session, tenant)
    table = Table("key id", "tenant", "name", "created", "expires", "last used", "state")
    for k in keys:
        state = (
            "revoked"
            if k.revoked_at
            else ("expired" if k.expires_at and k.expires_at <= utcnow() else "active")
        )
        table.add_row(
            k.key_id,
            k.tenant_id,
            k.name,
            _when(k.created_at),
            _when(k.expires_at),
            _when(k.last_used_at),
            state,
        )
    show(table)


def _when(at) -> str:
    return f"{at:%Y-%m-%d %H:%M}" if at else "-"
