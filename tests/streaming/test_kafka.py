"""The flow between real Kafka topics (tansu): input partitioned by region, insights out."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from bytewax.testing import run_main
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from sqlalchemy import create_engine, text
from streamkit import T0, payment, raw, view

from streaming.flows.build import FlowOptions, build_flow
from streaming.sources import kafka_source
from tollgate.events.writers import produce_to_kafka


def _consume(brokers: str, topic: str, expected: int, timeout_s: float = 30) -> list[dict]:
    consumer = Consumer({"bootstrap.servers": brokers, "group.id": f"t-{uuid.uuid4().hex}"})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    # Assigned, not subscribed: no group rebalance to wait for, every partition from the start.
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    out: list[dict] = []
    polls = int(timeout_s / 0.5)
    for _ in range(polls):
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            out.append({"key": msg.key().decode(), **json.loads(msg.value())})
        if len(out) >= expected:
            break
    consumer.close()
    return out


@pytest.mark.kafka
def test_kafka_in_live_store_and_kafka_out(settings, kafka_brokers):
    suffix = uuid.uuid4().hex[:8]
    settings = settings.model_copy(
        update={
            "kafka_brokers": kafka_brokers,
            "kafka_input_topic": f"events-{suffix}",
            "kafka_output_topic": f"insights-{suffix}",
        }
    )
    events = []
    for i, region in enumerate(["EU", "APAC", "US-West", "US-East"] * 5):
        at = T0 + timedelta(seconds=10 * i)
        events += [view(f"c-{i}", at=at, region=region), payment(f"c-{i}", at=at, region=region)]
    # Poison: invalid UTF-8 inside a JSON string (it once stopped the flow), and no value.
    poison = raw(view("c-x", at=T0))[0].replace(b'"c-x"', b'"c-\xffx"')
    lines = raw(*events) + [b"not an event", poison, b""]
    assert produce_to_kafka(lines, kafka_brokers, settings.kafka_input_topic) == len(lines)

    flow = build_flow(settings, kafka_source(settings, tail=False), options=FlowOptions(4, 1))
    run_main(flow, epoch_interval=timedelta(0))

    payments = {e.payload.transaction_id: e for e in events if e.event_type == "card_transaction"}
    engine = create_engine(settings.live_store_url)
    with engine.connect() as conn:
        scored = dict(
            conn.execute(text("SELECT transaction_id, region FROM live_transaction_risk")).all()
        )
    engine.dispose()
    assert scored == {t: e.region for t, e in payments.items()}
    quarantined = [
        json.loads(line)
        for path in settings.lake_dir.glob("quarantine/*/*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert sorted(r["reason"] for r in quarantined) == ["bad_json"] * 3

    messages = _consume(kafka_brokers, settings.kafka_output_topic, len(payments))
    assert sorted(m["key"] for m in messages) == sorted(payments)
    assert all(m["key"] == m["transaction_id"] and 0 <= m["fraud_score"] <= 1 for m in messages)
    assert all(m["risk_level"] in ("low", "medium", "high", "critical") for m in messages)
