"""The `tollgate` command: the seller's console for the whole platform.

Expected failures (a bad catalog, an unknown tenant, an unreachable database) print one
line, `error: <reason>`, and exit 1; tracebacks are kept for bugs.

Each subcommand's module is imported only when that subcommand runs: `tollgate --help`
lists them from the table below, without loading SQLAlchemy, the catalog or the generator.
"""

from __future__ import annotations

import importlib
import os

# Plain click help and errors: Typer's Rich formatting costs about a second of imports on
# every command, `--help` included. Set TYPER_USE_RICH=1 to have it back.
os.environ.setdefault("TYPER_USE_RICH", "0")

import click  # noqa: E402
import typer  # noqa: E402
from typer.core import TyperGroup  # noqa: E402

# name -> (module, attribute: a Typer app or a command function, one-line help).
COMMANDS = {
    "demo": (
        "tollgate.commands.demo",
        "demo",
        "Set up the embedded platform (metadata DB, demo tenants and keys, history) and run it.",
    ),
    "generate": (
        "tollgate.commands.generate",
        "app",
        "Generate deterministic synthetic events into files, Kafka, the landing zone or live.",
    ),
    "tenants": (
        "tollgate.commands.tenants",
        "app",
        "Create, list, suspend and reactivate tenants.",
    ),
    "keys": ("tollgate.commands.keys", "app", "Issue, revoke and list API keys."),
    "clients": ("tollgate.commands.clients", "app", "Create and list OAuth2 clients."),
    "invoices": (
        "tollgate.commands.invoices",
        "app",
        "Show tenants' invoices and trace their lines to deliveries.",
    ),
    "audit": ("tollgate.commands.audit", "app", "Read the audit log, with filters."),
    "pricing": (
        "tollgate.commands.pricing",
        "app",
        "Replay a past month against a proposed catalog: revenue and refusals per tenant.",
    ),
    "webhooks": (
        "tollgate.commands.webhooks",
        "app",
        "Register tenants' webhook endpoints for usage alerts and read their delivery logs.",
    ),
    "portal": (
        "tollgate.commands.portal",
        "app",
        "Sign in to the portal's seller view (revenue, margins, flagged tenants).",
    ),
    "subscriptions": (
        "tollgate.commands.contracts",
        "subscriptions",
        "Subscribe tenants to subscription products, list and cancel.",
    ),
    "purchases": (
        "tollgate.commands.contracts",
        "purchases",
        "Record and list one-time purchases.",
    ),
    "sharing": (
        "tollgate.commands.sharing",
        "app",
        "Delta Sharing profiles for tenants.",
    ),
}


class _Commands(TyperGroup):
    """Loads a subcommand when it is run; turns expected failures below the root into
    `error: ...` and exit code 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*COMMANDS, *(n for n in super().list_commands(ctx) if n not in COMMANDS)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None and name in COMMANDS:
            # Listed in help, not loaded: a stand-in carrying the one-line help.
            summary = COMMANDS[name][2]
            return click.Command(name, help=summary, short_help=summary)
        return command

    def resolve_command(self, ctx: click.Context, args: list[str]):
        if args and args[0] in COMMANDS and super().get_command(ctx, args[0]) is None:
            self.add_command(_load(args[0]), args[0])
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, typer.Exit):
            raise
        except Exception as exc:
            message = _expected_failure(exc)
            if message is None:
                raise
            _fail(message)


def _load(name: str) -> click.Command:
    module, attribute, summary = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    # Built as a subcommand of a group of its own: a Typer app built alone would grow the
    # root's --install-completion options.
    parent = typer.Typer(add_completion=False)
    parent.callback()(lambda: None)
    if isinstance(target, typer.Typer):
        parent.add_typer(target, name=name, help=target.info.help or summary)
    else:
        parent.command(name)(target)
    return typer.main.get_group(parent).commands[name]


def _expected_failure(exc: Exception) -> str | None:
    """The one line to print for an expected failure; None for a bug."""
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from tollgate.catalog import CatalogError
    from tollgate.errors import TollgateError

    if isinstance(exc, (TollgateError, CatalogError)):
        return str(exc)
    if isinstance(exc, SQLAlchemyError):
        return f"metadata database: {_first_line(exc)}"
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"settings: {where}: {err['msg']}"
    return None


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]


def _fail(message: str):
    # Some reasons span lines (a YAML parser's pointer at the fault); keep the one line.
    typer.echo("error: " + " ".join(message.split()), err=True)
    raise typer.Exit(1)


app = typer.Typer(cls=_Commands, no_args_is_help=True, pretty_exceptions_show_locals=False)


@app.callback()
def tollgate() -> None:
    """Tollgate: sell data products as live feeds, APIs and bulk exports."""


@app.command()
def migrate() -> None:
    """Bring the metadata database to the newest schema (safe to run at any time)."""
    from tollgate.commands import load_settings
    from tollgate.db.migrate import upgrade

    settings = load_settings()
    upgrade(settings.metadata_db_url)
    typer.echo("metadata database is up to date")


if __name__ == "__main__":
    app()
