"""`tollgate portal admin-link`: a short-lived link that signs the seller in to the portal."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

import typer

from tollgate.commands import cli_actor, console, load_settings

app = typer.Typer(help="The buyer portal's seller view.", no_args_is_help=True)


@app.command("admin-link")
def admin_link(
    base_url: Annotated[
        str, typer.Option(help="Where the API is reachable.")
    ] = "http://127.0.0.1:8000",
) -> None:
    """Print a link (valid once, for 15 minutes) to the seller's view: revenue, margins, flags."""
    from tollgate.admin_links import LINK_MINUTES, mint_admin_token

    token = mint_admin_token(load_settings().secret(), cli_actor())
    query = urlencode({"token": token})
    console.print(f"{base_url.rstrip('/')}/portal/admin/enter?{query}")
    console.print(f"signs in once, within {LINK_MINUTES} minutes", style="dim")
