"""How the live-products dataflow is put together; `live_products` builds it from settings.

Kept apart from the flow module so tests can build flows with their own sources and sinks
without building the default one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import bytewax.operators as op
from bytewax.connectors.kafka import KafkaSink, KafkaSource
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import Sink

from streaming.customers import RISK, CustomerShard, Timing
from streaming.partitions import ClockedSource
from streaming.recovery import stream_first_epoch
from streaming.regions import RegionMinutes
from streaming.sinks import (
    EpochFileSink,
    LandingFiles,
    LiveStoreSink,
    QuarantineFiles,
    insight_messages,
)
from streaming.sources import kafka_payload, kafka_source, live_synthetic
from streaming.validate import QUARANTINE, route, shard_names
from tollgate.catalog import load_catalog
from tollgate.db.engine import make_engine
from tollgate.events.writers import ensure_topic
from tollgate.lake import Lake
from tollgate.livestore import LiveStore
from tollgate.settings import Settings


@dataclass(frozen=True)
class FlowOptions:
    # Shards and writers name recovery state and files: keep them fixed for a stream's life.
    shards: int = 16
    writers: int = 2
    timing: Timing = field(default_factory=Timing)


def build_flow(
    settings: Settings,
    source: Source | None = None,
    sinks: dict[str, Sink] | None = None,
    options: FlowOptions = FlowOptions(),
) -> Dataflow:
    """The live-products dataflow. `sinks` may replace any of: live, landing, quarantine, kafka."""
    sinks = {**default_sinks(settings, options), **(sinks or {})}
    flow = Dataflow("live_products")
    if source is None:
        source = kafka_source(settings) if settings.kafka_enabled else live_synthetic(settings)
    payload = kafka_payload if isinstance(source, KafkaSource) else None
    timing = options.timing
    clocked = ClockedSource(source, timing.clock_rules(), payload)
    partitions = clocked.list_parts()
    shards = shard_names(options.shards)
    batches = op.input("events", flow, clocked)  # PartitionBatch, one per source batch
    routed = op.flat_map(
        "route", batches, lambda b: route(b, options.shards)
    )  # (shard, (partition, [Event], [time], [watermark], watermark)) | ("quarantine", [rec])
    split = op.branch("split_rejected", routed, lambda kv: kv[0] != QUARANTINE)
    per_customer = op.stateful_batch(
        "customers", split.trues, lambda resume: CustomerShard(timing, partitions, resume)
    )  # (shard, Produced)
    land = op.filter_map("landing_events", per_customer, _land)  # (shard, [Event])
    op.output("landing", land, sinks["landing"])
    facts = op.flat_map(
        "region_facts", per_customer, _region_items
    )  # (region, (region, shard, {minute: Minute} | None, watermark | None))
    per_region = op.stateful_batch(
        "regions",
        facts,
        lambda resume: RegionMinutes(timing.allowed_lateness_s, shards, resume),
    )  # (region, Produced)
    produced = op.merge("products", per_customer, per_region)  # (key, Produced)
    live = op.flat_map("live_rows", produced, lambda kv: kv[1].live)  # (product, [row], mark)
    op.output("live_store", live, sinks["live"])
    side = op.filter_map("late_events", produced, _side)  # (key, [record])
    rejected = op.merge("quarantined", split.falses, side)  # (key, [record])
    op.output("quarantine", rejected, sinks["quarantine"])
    if "kafka" in sinks:
        risk = op.filter_map("risk_rows", live, lambda b: b[1] if b[0] == RISK else None)
        messages = op.flat_map("insights", risk, insight_messages)  # KafkaSinkMessage
        op.output("kafka_insights", messages, sinks["kafka"])
    return flow


def default_sinks(settings: Settings, options: FlowOptions) -> dict[str, Sink]:
    """The real sinks; creates the live store tables if missing."""
    catalog = load_catalog(settings.catalog_path)
    LiveStore(catalog).create_all(make_engine(settings.live_store_url))
    lake = Lake.from_settings(settings)
    first = stream_first_epoch()
    sinks: dict[str, Sink] = {
        "live": LiveStoreSink(settings.live_store_url, catalog),
        "landing": EpochFileSink(LandingFiles(lake), options.writers, first),
        "quarantine": EpochFileSink(QuarantineFiles(lake), options.writers, first),
    }
    if settings.kafka_enabled:
        # Created up front: messages produced while a broker auto-creates a topic can be lost.
        ensure_topic(settings.kafka_brokers, settings.kafka_output_topic)
        sinks["kafka"] = KafkaSink(settings.kafka_brokers.split(","), settings.kafka_output_topic)
    return sinks


def _land(kv: tuple) -> tuple | None:
    return (kv[0], kv[1].land) if kv[1].land else None


def _side(kv: tuple) -> tuple | None:
    return (kv[0], kv[1].side) if kv[1].side else None


def _region_items(kv: tuple) -> list[tuple]:
    shard = kv[0]
    return [(r, (r, shard, facts, mark)) for r, facts, mark in kv[1].regions]
