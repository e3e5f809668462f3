"""Column-built landing tables hold the contract's row-built rows, for both parse paths.

Rows of one event type are built together, so a key's rows come in another order than the
events': a landing file is a set of rows, compared here in event-id order."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pyarrow as pa
from streamkit import T0

from streaming.sinks.landing import landing_tables
from tollgate.events import parse_event
from tollgate.events.fast import parse_batch
from tollgate.events.generator import GeneratorConfig, SyntheticSource
from tollgate.events.landing import landing_dataset, landing_row, landing_table
from tollgate.lake import utc_hour

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def _row_built(events) -> dict:
    groups = defaultdict(list)
    for e in events:
        groups[(landing_dataset(e), *utc_hour(e.event_time))].append(landing_row(e))
    return {key: landing_table(key[0], rows) for key, rows in groups.items()}


def test_column_built_tables_equal_row_built_ones():
    config = GeneratorConfig(seed=4, fraud_rate=0.05, malformed_rate=0.05)
    raws = list(SyntheticSource(config).raw(T0 - timedelta(seconds=30), count=4000))
    fast = [e for _, e, _ in parse_batch(raws, NOW) if e is not None]
    slow = [e for e in map(_parse_or_none, raws) if e is not None]
    expected = _row_built(slow)
    assert len(expected) >= 3  # more than one hour, both datasets
    for events in (fast, slow):
        got = _by_key(landing_tables(events))
        assert got.keys() == expected.keys()
        for key, table in got.items():
            assert table.equals(_sorted(expected[key])), key


def test_transactions_without_labels_land_null_labels():
    raws = list(SyntheticSource(GeneratorConfig(seed=5, fraud_rate=0.05)).raw(T0, count=2000))
    stripped = [r.split(b',"labels":')[0] + b"}" if b'"labels"' in r else r for r in raws]
    events = [e for _, e, _ in parse_batch(stripped, NOW)]
    assert all(e is not None for e in events)
    got = _by_key(landing_tables(events))
    for key, table in _row_built(map(_parse_or_none, stripped)).items():
        assert got[key].equals(_sorted(table))
        if key[0] == "card_transactions":
            assert table.column("is_fraud").null_count == table.num_rows


def _by_key(parts: list) -> dict:
    tables = defaultdict(list)
    for key, table in parts:
        tables[key].append(table)
    return {key: _sorted(pa.concat_tables(t)) for key, t in tables.items()}


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by("event_id").combine_chunks()


def _parse_or_none(raw: bytes):
    try:
        return parse_event(raw, NOW)
    except ValueError:
        return None
