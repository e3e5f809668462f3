"""The `tollgate` command: the seller's console for the whole platform.

Expected failures (a bad catalog, an unknown tenant, an unreachable database) print one
line, `error: <reason>`, and exit 1; tracebacks are kept for bugs.
"""

from __future__ import annotations

import click
import typer
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from typer.core import TyperGroup

from tollgate.catalog import CatalogError
from tollgate.commands import (
    clients,
    contracts,
    demo,
    generate,
    invoices,
    keys,
    load_settings,
    tenants,
)
from tollgate.errors import TollgateError


class _OneLineErrors(TyperGroup):
    """Turns expected failures anywhere below the root into `error: ...` and exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (TollgateError, CatalogError) as exc:
            _fail(str(exc))
        except SQLAlchemyError as exc:
            _fail(f"metadata database: {_first_line(exc)}")
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            _fail(f"settings: {where}: {err['msg']}")


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]


def _fail(message: str):
    # Some reasons span lines (a YAML parser's pointer at the fault); keep the one line.
    typer.echo("error: " + " ".join(message.split()), err=True)
    raise typer.Exit(1)


app = typer.Typer(
    cls=_OneLineErrors,
    help="Tollgate: sell data products as live feeds, APIs and bulk exports.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.command("demo")(demo.demo)
app.add_typer(generate.app, name="generate")
app.add_typer(tenants.app, name="tenants")
app.add_typer(keys.app, name="keys")
app.add_typer(clients.app, name="clients", help="Create and list OAuth2 clients.")
app.add_typer(invoices.app, name="invoices")
app.add_typer(contracts.subscriptions, name="subscriptions")
app.add_typer(contracts.purchases, name="purchases")


@app.command()
def migrate() -> None:
    """Bring the metadata database to the newest schema (safe to run at any time)."""
    from tollgate.db.migrate import upgrade

    settings = load_settings()
    upgrade(settings.metadata_db_url)
    typer.echo("metadata database is up to date")


if __name__ == "__main__":
    app()
