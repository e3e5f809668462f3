"""`tollgate demo`: set up a working platform on this machine, then run it.

Setup is idempotent: a rerun finds the demo tenants, their keys (kept in an owner-only
file so they can be shown again) and the backfilled history, and creates nothing twice.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tollgate.clock import utcnow
from tollgate.commands import catalog_of, console, load_settings, metadata_session, show
from tollgate.commands.demo_dagster import DAGSTER_HOME, dagster_instance, prepare_batch_lane
from tollgate.supervisor import Child, Supervisor

if TYPE_CHECKING:
    from tollgate.settings import Settings

KEYS_FILE = "demo-keys.json"
ROOT = Path(__file__).resolve().parents[2]
# Every process's output, whole, one file each (the console shows INFO and above).
LOGS = "logs"
# Mean events per second of simulated time: 7 days of history is ~590k events (every demo
# customer gets weeks of habits), landed in ~15 s here, well under the minute a first run may take.
BACKFILL_EVENTS_PER_SECOND = 1.0


@dataclass(frozen=True)
class Service:
    """A platform process and where a person reaches it (None: nothing to open)."""

    child: Child
    url: str | None = None


def platform_services(settings: Settings) -> list[Service]:
    """Everything `make demo` runs. A new lane plugs in as one more entry here.

    The stream lane is the one writer of the landing zone (it runs the synthetic source
    live). Dagster's daemon runs the landing sensor, which materializes the batch graph
    for every landed day not built yet: the backfilled history on a first start, only
    what changed since on a rerun, so those runs show in the UI like any other.
    """
    python = sys.executable
    dagster = str(Path(python).parent / "dagster")
    data_dir = Path(settings.data_dir).resolve()
    return [
        Service(Child("stream", [python, "-m", "streaming"], cwd=str(ROOT))),
        Service(
            Child(
                "dagster",
                [dagster, "dev", "-w", "workspace.yaml", "-p", str(settings.dagster_port)],
                {"DAGSTER_HOME": str(data_dir / DAGSTER_HOME)},
                cwd=str(ROOT),
                signal_leader_only=True,
            ),
            f"http://127.0.0.1:{settings.dagster_port}",
        ),
        Service(
            Child(
                "api",
                [python, "-m", "api"]
                + ["--host", settings.api_host, "--port", str(settings.api_port)],
                cwd=str(ROOT),
            ),
            f"http://{settings.api_host}:{settings.api_port}/docs",
        ),
    ]


def demo(
    setup_only: Annotated[
        bool, typer.Option("--no-run", "--setup-only", help="Set up and print, then exit.")
    ] = False,
    backfill_days: Annotated[
        int, typer.Option(min=0, help="Days of history to generate into the landing zone.")
    ] = 7,
) -> None:
    """Set up the embedded platform (metadata DB, demo tenants and keys, history) and run it."""
    from tollgate.commands.demo_guide import Guide
    from tollgate.commands.demo_seed import seed_tenants
    from tollgate.contracts import list_subscriptions, subscription_status

    settings = load_settings()
    catalog = catalog_of(settings)
    with metadata_session(settings) as session:
        credentials = seed_tenants(session, catalog, settings.data_dir / KEYS_FILE)
        subscribed = [
            f"{s.tenant_id} subscribes to {s.product_id} (${s.price_micros / 1e6:,.2f}/month "
            f"since {s.starts_at:%Y-%m-%d %H:%M} UTC, {s.id})"
            for s in list_subscriptions(session)
            if subscription_status(s, utcnow()) == "active"
        ]
    history = ensure_backfill(settings, backfill_days)
    services = platform_services(settings)
    _report(settings, credentials, history, services)
    for line in subscribed:
        console.print(f"contract:        {line}")
    if setup_only:
        return
    # The children must agree with us on where the data is, whatever directory they start in.
    data_dir = Path(settings.data_dir).resolve()
    dagster_instance(data_dir / DAGSTER_HOME)
    env = {"TOLLGATE_DATA_DIR": str(data_dir)}
    prepare_batch_lane(env)
    children = [
        Child(s.child.name, s.child.argv, {**env, **s.child.env}, s.child.cwd) for s in services
    ]
    console.print(f"\nrunning; press Ctrl-C to stop (every process's log: {data_dir / LOGS})\n")
    # Dagster stops its runs before exiting, which takes a while on a busy laptop.
    supervisor = Supervisor(children, grace_seconds=30.0, log_dir=data_dir / LOGS)
    guide = Guide(
        settings,
        credentials,
        say=lambda line: supervisor.say(line, "demo"),
        announce=supervisor.announce,
        stopped=supervisor.stopping,
    )
    threading.Thread(target=guide.run, name="demo-guide", daemon=True).start()
    code = supervisor.run()
    raise typer.Exit(code)


def ensure_backfill(settings: Settings, days: int) -> dict[str, int] | None:
    """Generate `days` whole days of history before today, unless they already landed."""
    from tollgate.lake import LANDING_DATASETS, Lake

    if days == 0:
        return None
    lake = Lake.from_settings(settings)
    end = datetime.combine(utcnow().date(), time(), UTC)
    start = end - timedelta(days=days)
    wanted = {(start + timedelta(days=i)).date() for i in range(days)}
    if all(wanted <= set(lake.landing_dates(d)) for d in LANDING_DATASETS):
        return None
    # Imported here: the generator is only needed the first time.
    from tollgate.events.generator import GeneratorConfig, SyntheticSource
    from tollgate.events.writers import backfill_landing

    source = SyntheticSource(
        GeneratorConfig(seed=settings.seed, events_per_second=BACKFILL_EVENTS_PER_SECOND)
    )
    # Said in a line too: a spinner shows nothing when the output goes to a file.
    console.print(f"generating {days} days of history into the landing zone...")
    with console.status("generating..."):
        return backfill_landing(lake, source, start, end)


def _report(
    settings: Settings, credentials: dict, history: dict[str, int] | None, services: list[Service]
) -> None:
    from rich.table import Table
    from sqlalchemy import make_url

    from tollgate.commands.demo_seed import DEMO_TENANTS
    from tollgate.lake import Lake

    table = Table("tenant", "tier", "regions", "key id", title="Demo tenants")
    regions = {t.id: ", ".join(t.regions or ["all"]) for t in DEMO_TENANTS}
    for tenant_id, entry in credentials["tenants"].items():
        table.add_row(tenant_id, entry["tier"], regions.get(tenant_id, "?"), entry["key_id"])
    show(table)
    data_dir = Path(settings.data_dir).resolve()
    console.print(f"\nAPI keys (kept owner-only in {data_dir / KEYS_FILE}):")
    # Plain print: a terminal-width wrap would split a key across lines.
    for tenant_id, entry in credentials["tenants"].items():
        print(f"  {tenant_id:<17} {entry['api_key']}")
    for tenant_id, c in credentials["oauth_clients"].items():
        console.print(f"OAuth2 client of {tenant_id}:")
        print(f"  client_id={c['client_id']}\n  client_secret={c['client_secret']}")
    console.print(f"\ndata directory:  {data_dir}")
    console.print(
        "metadata DB:     "
        + make_url(settings.metadata_db_url).render_as_string(hide_password=True)
    )
    console.print(
        f"landing zone:    {Path(Lake.from_settings(settings).root).resolve() / 'landing'}"
    )
    if history is None:
        console.print("history:         already in the landing zone (not regenerated)")
    else:
        generated = ", ".join(f"{n:,} {d}" for d, n in history.items())
        console.print(f"history:         generated {generated}")
    for s in services:
        if s.url:
            console.print(f"{s.child.name + ':':<17}{s.url}")
