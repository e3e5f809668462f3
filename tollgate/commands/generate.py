"""`tollgate generate`: play the deterministic synthetic source into files, Kafka or the lake."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from tollgate.clock import utcnow
from tollgate.commands import load_settings

if TYPE_CHECKING:
    from tollgate.events.contract import Event
    from tollgate.events.generator import GeneratorConfig

app = typer.Typer(
    help=(
        "Generate realistic, deterministic events (same seed and start, same events): "
        "customers with home regions and habits, shopping sessions from view to purchase, "
        "card payments with labelled fraud (bursts, geo mismatch, amount spikes, new devices), "
        "daily and weekly cycles. Optional faults: malformed lines, duplicates, late events. "
        "Write them as JSONL files, to a Kafka topic partitioned by region, as a backfill "
        "into the landing zone, or as a live feed."
    ),
    no_args_is_help=True,
)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

Seed = Annotated[int | None, typer.Option(help="Random seed (default: TOLLGATE_SEED, else 7).")]
Customers = Annotated[int, typer.Option(help="Customers in the synthetic population.")]
FraudRate = Annotated[float, typer.Option(help="Share of card transactions that are fraud.")]
MalformedRate = Annotated[float, typer.Option(help="Share of lines that are malformed.")]
DuplicateRate = Annotated[float, typer.Option(help="Share of events delivered twice.")]
LateRate = Annotated[float, typer.Option(help="Share of events delivered out of order.")]
MaxLateness = Annotated[float, typer.Option(help="Most a late event lags, in seconds.")]
Start = Annotated[
    str | None,
    typer.Option(help="First event time, ISO 8601 (UTC if no offset); default: today 00:00 UTC."),
]
Count = Annotated[int, typer.Option(min=1, help="Events to generate (ignored with --days).")]
Days = Annotated[float | None, typer.Option(min=0, help="Generate this many days of events.")]


def _config(
    seed: int | None,
    customers: int,
    rate: float,
    fraud: float = 0.01,
    malformed: float = 0.0,
    duplicate: float = 0.0,
    late: float = 0.0,
    max_lateness: float = 600.0,
) -> GeneratorConfig:
    """The generator config of the options; an impossible value fails in one line."""
    from tollgate.events.generator import GeneratorConfig

    try:
        return GeneratorConfig(
            seed=load_settings().seed if seed is None else seed,
            customers=customers,
            events_per_second=rate,
            fraud_rate=fraud,
            malformed_rate=malformed,
            duplicate_rate=duplicate,
            late_rate=late,
            max_lateness=timedelta(seconds=max_lateness),
        )
    except ValueError as exc:
        _fail(str(exc))


def _fail(message: str):
    err_console.print(f"error: {message}", markup=False)
    raise typer.Exit(1)


def _start(value: str | None) -> datetime:
    if value is None:
        return utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        start = datetime.fromisoformat(value)
    except ValueError:
        _fail(f"--start: {value!r} is not an ISO 8601 time")
    return start if start.tzinfo else start.replace(tzinfo=UTC)


def _wire(
    config: GeneratorConfig, start: str | None, count: int, days: float | None
) -> Iterator[bytes]:
    """The raw lines to write, behind a progress bar counting to how many events that is
    (exact, or expected for --days)."""
    from tollgate.events.generator import SyntheticSource

    source, first = SyntheticSource(config), _start(start)
    if days is None:
        return _progress(source.raw(first, count=count), count, "lines")
    end = first + timedelta(days=days)
    expected = int(config.events_per_second * (end - first).total_seconds())
    return _progress(source.raw(first, end=end), expected, "lines")


def _progress(items: Iterable, total: int | None, what: str) -> Iterator:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [TextColumn(f"{what:<6}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=err_console, transient=False) as progress:
        task = progress.add_task(what, total=total)
        n = 0
        for n, item in enumerate(items, 1):
            yield item
            if n % 5000 == 0:
                progress.update(task, completed=n)
        # With --days the total was the expected count; end the bar at what was written.
        progress.update(task, completed=n, total=n)


@app.command()
def jsonl(
    directory: Annotated[Path, typer.Argument(help="Directory for part-NNNNN.jsonl files.")],
    count: Count = 100_000,
    start: Start = None,
    days: Days = None,
    rate: Annotated[float, typer.Option(help="Mean events per second of event time.")] = 50.0,
    seed: Seed = None,
    customers: Customers = 2000,
    fraud_rate: FraudRate = 0.01,
    malformed_rate: MalformedRate = 0.0,
    duplicate_rate: DuplicateRate = 0.0,
    late_rate: LateRate = 0.0,
    max_lateness: MaxLateness = 600.0,
    lines_per_file: Annotated[int, typer.Option(min=1, help="Lines per file.")] = 100_000,
) -> None:
    """Write the wire stream (events plus any faults) as JSON lines files."""
    from tollgate.events.writers import write_jsonl

    config = _config(seed, customers, rate, fraud_rate, malformed_rate, duplicate_rate,
                     late_rate, max_lateness)  # fmt: skip
    lines = _wire(config, start, count, days)
    try:
        paths = write_jsonl(lines, directory, lines_per_file=lines_per_file)
    except OSError as exc:
        _fail(f"cannot write {directory}: {exc.strerror or exc}")
    err_console.print(f"wrote {len(paths)} file(s) to {directory}")


@app.command()
def kafka(
    brokers: Annotated[
        str | None, typer.Option(help="Bootstrap servers (default: TOLLGATE_KAFKA_BROKERS).")
    ] = None,
    topic: Annotated[
        str | None, typer.Option(help="Topic (default: TOLLGATE_KAFKA_INPUT_TOPIC).")
    ] = None,
    count: Count = 100_000,
    start: Start = None,
    days: Days = None,
    rate: Annotated[float, typer.Option(help="Mean events per second of event time.")] = 50.0,
    seed: Seed = None,
    customers: Customers = 2000,
    fraud_rate: FraudRate = 0.01,
    malformed_rate: MalformedRate = 0.0,
    duplicate_rate: DuplicateRate = 0.0,
    late_rate: LateRate = 0.0,
    max_lateness: MaxLateness = 600.0,
) -> None:
    """Produce the wire stream to a Kafka topic, one partition per region."""
    from confluent_kafka import KafkaException

    from tollgate.events.writers import produce_to_kafka

    settings = load_settings()
    brokers = brokers or settings.kafka_brokers
    if not brokers:
        _fail("no Kafka brokers: pass --brokers or set TOLLGATE_KAFKA_BROKERS")
    topic = topic or settings.kafka_input_topic
    config = _config(seed, customers, rate, fraud_rate, malformed_rate, duplicate_rate,
                     late_rate, max_lateness)  # fmt: skip
    lines = _wire(config, start, count, days)
    try:
        produced = produce_to_kafka(lines, brokers, topic)
    except KafkaException as exc:
        error = exc.args[0] if exc.args else exc
        _fail(f"kafka at {brokers}: {error.str() if hasattr(error, 'str') else error}")
    err_console.print(f"produced {produced:,} lines to {topic} at {brokers}")


@app.command()
def backfill(
    days: Annotated[
        float, typer.Option(min=0, help="Days of history before the current hour.")
    ] = 7,
    rate: Annotated[float, typer.Option(help="Mean events per second of event time.")] = 1.0,
    seed: Seed = None,
    customers: Customers = 2000,
    fraud_rate: FraudRate = 0.01,
) -> None:
    """Land clean history before the current hour in the landing zone.

    One file per dataset and hour (writer "backfill"): a rerun in the same hour overwrites it.
    """
    from tollgate.events.generator import SyntheticSource
    from tollgate.events.writers import backfill_landing
    from tollgate.lake import Lake

    settings = load_settings()
    config = _config(seed, customers, rate, fraud_rate)
    end = utcnow().replace(minute=0, second=0, microsecond=0)
    lake = Lake.from_settings(settings)
    with err_console.status(f"landing {days:g} days of events into {lake.root / 'landing'}"):
        counts = backfill_landing(lake, SyntheticSource(config), end - timedelta(days=days), end)
    err_console.print(", ".join(f"{n:,} {dataset}" for dataset, n in counts.items()))


@app.command()
def live(
    rate: Annotated[
        float | None, typer.Option(help="Events per second (default: TOLLGATE_SYNTHETIC_RATE).")
    ] = None,
    flush_every: Annotated[
        float, typer.Option(min=0.05, help="Seconds between flushes (fewer, larger files).")
    ] = 5.0,
    seed: Seed = None,
    customers: Customers = 2000,
    fraud_rate: FraudRate = 0.01,
) -> None:
    """Land events in real time from now until Ctrl-C (or SIGTERM).

    Each flush lands one file per dataset and hour (writer "live", increasing epoch).
    """
    from tollgate.events.generator import SyntheticSource
    from tollgate.events.writers import land_events, live_feed
    from tollgate.lake import Lake

    settings = load_settings()
    config = _config(seed, customers, settings.synthetic_rate if rate is None else rate, fraud_rate)
    lake = Lake.from_settings(settings)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    landed = 0
    last_epoch = 0

    def sink(batch: list[Event]) -> None:
        nonlocal landed, last_epoch
        # Milliseconds of the wall clock, never repeating: a restart never overwrites a file.
        last_epoch = max(last_epoch + 1, int(utcnow().timestamp() * 1000))
        landed += sum(land_events(lake, batch, "live", last_epoch).values())
        status.update(f"live: {landed:,} events landed in {lake.root / 'landing'} (Ctrl-C stops)")

    with err_console.status("live: starting") as status:
        live_feed(SyntheticSource(config), sink, stop=stop, flush_every=flush_every)
    err_console.print(f"live: stopped after landing {landed:,} events")
