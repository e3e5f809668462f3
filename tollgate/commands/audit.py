"""`tollgate audit list`: the audit log, newest first, filtered."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from tollgate.commands import console, load_settings, metadata_session, show
from tollgate.errors import InvalidRequest

app = typer.Typer(help="Read the audit log.", no_args_is_help=True)


def _when(value: str | None, option: str) -> datetime | None:
    """An ISO date or time; naive means UTC."""
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{option} must be an ISO date or time, got {value!r}") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@app.command("list")
def list_entries(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's entries.")] = None,
    action: Annotated[
        str | None,
        typer.Option(help='An action (snapshot.publish), or a family ending in "." (snapshot.).'),
    ] = None,
    actor: Annotated[str | None, typer.Option(help="Only this actor (cli:alice, system).")] = None,
    outcome: Annotated[str | None, typer.Option(help="success, failure or denied.")] = None,
    target: Annotated[str | None, typer.Option(help="Only entries about this target.")] = None,
    since: Annotated[str | None, typer.Option(help="From this UTC date or time on.")] = None,
    until: Annotated[str | None, typer.Option(help="Before this UTC date or time.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many entries.")] = 50,
    fmt: Annotated[str, typer.Option("--format", help="table or json (one per line).")] = "table",
) -> None:
    """List audit entries, newest first."""
    from rich.table import Table

    from tollgate.audit import OUTCOMES, entries
    from tollgate.db.engine import engine_for

    if outcome is not None and outcome not in OUTCOMES:
        raise InvalidRequest(f"--outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    if fmt not in ("table", "json"):
        raise InvalidRequest(f"--format must be table or json, got {fmt!r}")
    settings = load_settings()
    metadata_session(settings).close()  # migrates a fresh database
    rows = entries(
        engine_for(settings.metadata_db_url),
        tenant_id=tenant,
        action=action,
        actor=actor,
        outcome=outcome,
        target=target,
        since=_when(since, "--since"),
        until=_when(until, "--until"),
        limit=limit,
    )
    if fmt == "json":
        for e in rows:
            typer.echo(
                json.dumps(
                    {
                        "id": e.id,
                        "at": e.at.isoformat(),
                        "tenant_id": e.tenant_id,
                        "actor": e.actor,
                        "action": e.action,
                        "target": e.target,
                        "outcome": e.outcome,
                        "details": e.details,
                    },
                    default=str,
                )
            )
        return
    table = Table("at (UTC)", "tenant", "actor", "action", "target", "outcome", "details")
    for e in rows:
        table.add_row(
            f"{e.at:%Y-%m-%d %H:%M:%S}",
            e.tenant_id or "-",
            e.actor,
            e.action,
            e.target,
            e.outcome,
            json.dumps(e.details, default=str) if e.details else "",
        )
    show(table)
    noun = "entry" if len(rows) == 1 else "entries"
    console.print(f"{len(rows)} {noun}" + (" (--limit reached)" if len(rows) == limit else ""))
