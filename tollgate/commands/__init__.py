"""The `tollgate` subcommands; shared plumbing for the ones that touch the metadata DB."""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:  # imported where used: a command loads only what it needs
    from rich.table import Table
    from sqlalchemy.orm import Session

    from tollgate.catalog import Catalog
    from tollgate.settings import Settings

console = Console(highlight=False, soft_wrap=True)


def show(table: Table) -> None:
    """Print a table; unsqueezed when piped, so ids and keys stay whole for grep and scripts."""
    out = console if console.is_terminal else Console(width=250, highlight=False)
    out.print(table)


def load_settings() -> Settings:
    """Settings read fresh from the environment: one CLI run, one configuration."""
    from tollgate.settings import Settings

    return Settings()


def catalog_of(settings: Settings) -> Catalog:
    from tollgate.catalog import load_catalog

    return load_catalog(settings.catalog_path)


def metadata_session(settings: Settings) -> Session:
    """A session on an up-to-date metadata DB (migrating is a no-op once at head)."""
    from tollgate.db.engine import session_factory
    from tollgate.db.migrate import upgrade

    upgrade(settings.metadata_db_url)
    return session_factory(settings.metadata_db_url)()


def cli_actor() -> str:
    """Who the audit log says made a change from the command line."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry, e.g. an arbitrary container uid
        return "cli"
