"""`tollgate sharing ...`: Delta Sharing profile files for tenants."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tollgate.commands import cli_actor, console, load_settings, metadata_session

app = typer.Typer(help="Delta Sharing profiles for tenants.", no_args_is_help=True)


@app.command()
def profile(
    tenant_id: str,
    output: Annotated[
        Path | None, typer.Option(help="Write the profile here (default: print it).")
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(help="The API's address as the buyer reaches it (default: public_url)."),
    ] = None,
) -> None:
    """Issue an API key for the tenant and write its Delta Sharing profile file.

    The buyer opens its share with it, e.g. `delta_sharing.SharingClient("tenant.share")`.
    The key is shown only in the profile; revoke it with `tollgate keys revoke`."""
    from tollgate import tenants as service
    from tollgate.sharing.profile import default_base_url, sharing_endpoint, sharing_profile

    settings = load_settings()
    with metadata_session(settings) as session:
        key = service.issue_key(session, tenant_id, "delta sharing", None, actor=cli_actor())
    endpoint = sharing_endpoint(base_url or default_base_url(settings))
    text = json.dumps(sharing_profile(endpoint, key.plaintext), indent=2) + "\n"
    if output is None:
        print(text, end="")  # plain: a terminal-width wrap would split the key
        return
    output.write_text(text)
    output.chmod(0o600)
    console.print(f"wrote {output} for tenant {tenant_id} (key {key.key_id}, share {tenant_id})")
