"""What `make demo` tells the person at the terminal while the platform comes up.

A guide thread follows the platform's start, a line per step (so a log file shows progress
too): the API answering, the first scored transaction (then the live curls), Dagster's UI,
each batch product's first snapshot (then the batch curls). Once Dagster is up it starts
the billing and SLA report runs for today and this month, so invoices, margins and the SLA
report show in the UI within minutes instead of after their nightly schedules. When every
step is done, a summary panel repeats the URLs, keys and curls.
"""

from __future__ import annotations

import io
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from tollgate.catalog import load_catalog
from tollgate.clock import utcnow
from tollgate.commands.demo_calls import (
    LOOKUP_PRODUCT,
    POLL_SECONDS,
    api_base,
    api_up,
    batch_calls,
    latest_key,
    live_calls,
)
from tollgate.lake import Lake
from tollgate.settings import Settings

# How often a long wait says it is still waiting.
STILL_WAITING_SECONDS = 60.0
# Dagster loads its code locations after its UI answers: submissions retry until they take.
SUBMIT_RETRY_SECONDS = 5.0
SUBMIT_GIVE_UP_SECONDS = 600.0


def demo_start_runs(today: date) -> list[tuple[str, str]]:
    """(job, partition) Dagster runs once at demo start: billing and the SLA report for
    today and this month (orchestration/defs/billing.py and sla.py name these jobs)."""
    return [
        ("billing_daily", today.isoformat()),
        ("sla_report", today.isoformat()),
        ("billing_monthly", today.strftime("%Y-%m")),
    ]


def dagster_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.dagster_port}"


@dataclass
class Guide:
    settings: Settings
    credentials: dict
    say: Callable[[str], None]  # one progress line
    announce: Callable[[str], None]  # a block of text, printed whole
    stopped: threading.Event
    calls: list[str] = field(default_factory=list)

    def run(self) -> None:
        """Follow the platform's start; returns early once the platform is stopping."""
        base = api_base(self.settings)
        if not self._wait("the API", lambda: api_up(base)):
            return
        self.say(f"API is up: {base} (docs: {base}/docs)")
        catalog = load_catalog(self.settings.catalog_path)
        found: dict[str, str | None] = {"key": None}

        def scored() -> bool:
            found["key"] = latest_key(self.settings, catalog, LOOKUP_PRODUCT)
            return found["key"] is not None

        if not self._wait("the stream lane's first scored transaction", scored):
            return
        self._calls(live_calls(base, self._keys(), found["key"]))
        dagster = dagster_url(self.settings)
        if not self._wait("Dagster's UI", lambda: url_answers(f"{dagster}/server_info")):
            return
        self.say(f"Dagster UI is up: {dagster}")
        threading.Thread(target=self._start_runs, name="demo-runs", daemon=True).start()
        lake = Lake.from_settings(self.settings)
        for product in catalog.batch_products():
            if not self._wait(
                f"{product.id}'s first snapshot",
                lambda p=product.id: lake.current_version(p) is not None,
            ):
                return
            self.say(f"{product.id}: snapshot {lake.current_version(product.id)} published")
        self._calls(batch_calls(base, self._keys(), "customer-behavior-daily"))
        self.announce(summary(self.settings, self.credentials, self.calls))

    def _keys(self) -> dict[str, str]:
        return {t: entry["api_key"] for t, entry in self.credentials["tenants"].items()}

    def _calls(self, text: str) -> None:
        self.calls.append(text)
        self.announce(text)

    def _wait(self, what: str, ready: Callable[[], bool]) -> bool:
        """Poll `ready` until it holds (True) or the platform stops (False)."""
        began = last_note = time.monotonic()
        while not ready():
            if self.stopped.wait(POLL_SECONDS):
                return False
            if time.monotonic() - last_note >= STILL_WAITING_SECONDS:
                last_note = time.monotonic()
                self.say(f"still waiting for {what} ({last_note - began:.0f} s)")
        return True

    def _start_runs(self) -> None:
        from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

        client = DagsterGraphQLClient("127.0.0.1", port_number=self.settings.dagster_port)
        for job, partition in demo_start_runs(utcnow().date()):
            deadline = time.monotonic() + SUBMIT_GIVE_UP_SECONDS
            while True:
                try:
                    run_id = client.submit_job_execution(job, tags={"dagster/partition": partition})
                except DagsterGraphQLClientError as exc:
                    if time.monotonic() > deadline:
                        self.say(f"could not start {job} for {partition}: {exc}")
                        break
                    if self.stopped.wait(SUBMIT_RETRY_SECONDS):
                        return
                    continue
                self.say(f"started {job} for {partition} (run {run_id[:8]})")
                break


def url_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def summary(settings: Settings, credentials: dict, calls: list[str]) -> str:
    """The panel printed once everything is up: where things are, the keys, the curls."""
    base = api_base(settings)
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True, style="bold")
    table.add_column(no_wrap=True)
    table.add_row("Dagster UI", dagster_url(settings))
    table.add_row("API", f"{base}   docs: {base}/docs   {base}/redoc")
    table.add_row(
        "buyer portal",
        f"{base}/portal   (sign in with a key below; seller view: tollgate portal admin-link)",
    )
    table.add_row("invoices, SLA", "Dagster UI > Assets > groups billing, operations")
    table.add_row("logs", f"{settings.data_dir.resolve() / 'logs'}   (every level, per process)")
    for tenant_id, entry in credentials["tenants"].items():
        table.add_row(f"key {tenant_id}", entry["api_key"])
    for tenant_id, client in credentials.get("oauth_clients", {}).items():
        table.add_row(f"client {tenant_id}", f"{client['client_id']} {client['client_secret']}")
    out = io.StringIO()
    # Wide enough for a whole key on one line: a wrapped key cannot be copied.
    Console(file=out, width=200, highlight=False).print(
        Panel.fit(table, title="Tollgate is up", border_style="green")
    )
    return out.getvalue() + "".join(calls)
