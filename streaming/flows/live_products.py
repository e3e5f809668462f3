"""The live lane: events in, live products, landing zone and quarantine out.

    python -m streaming                                  # recovery on, in the data directory
    python -m bytewax.run streaming.flows.live_products -r <recovery dir> [-w N] [-i I -a ...]
    python -m bytewax.run "streaming.flows.live_products:jsonl_flow('<dir>')" -r <dir>

Reads Kafka when TOLLGATE_KAFKA_BROKERS is set (and writes enriched transaction insights
to the output topic), otherwise the synthetic source at TOLLGATE_SYNTHETIC_RATE events/s.
"""

from __future__ import annotations

from datetime import datetime

from bytewax.dataflow import Dataflow

from streaming.flows.build import FlowOptions, build_flow
from streaming.metrics import serve_metrics
from streaming.runtime import tune_gc
from streaming.sources import BATCH_SIZE, JsonlDirSource, SyntheticEvents
from tollgate.events.generator import GeneratorConfig
from tollgate.settings import get_settings

settings = get_settings()
serve_metrics(settings.stream_metrics_port)
tune_gc()

flow = build_flow(settings)  # raw bytes -> validate -> customers / regions -> sinks


def jsonl_flow(
    directory: str,
    shards: int = 16,
    writers: int = 2,
    lanes: int = 2,
    batch_size: int = BATCH_SIZE,
) -> Dataflow:
    """The same flow over a directory of JSONL files (each file read once), split into
    `lanes` input partitions by customer (fixed for a stream's life, like shards), read
    `batch_size` lines at a time (a stop signal takes effect between batches)."""
    options = FlowOptions(shards=shards, writers=writers)
    source = JsonlDirSource(directory, batch_size=batch_size, lanes=lanes)
    return build_flow(settings, source=source, options=options)


def synthetic_flow(start: str, count: int, customers: int = 2000) -> Dataflow:
    """The same flow over `count` synthetic events from `start`, as fast as they go."""
    config = GeneratorConfig(seed=settings.seed, customers=customers)
    return build_flow(
        settings, source=SyntheticEvents(config, datetime.fromisoformat(start), count)
    )
