"""Sources: the JSONL directory reads files in order and resumes exactly where it stopped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streaming.sources import JsonlDirSource, SyntheticEvents
from tollgate.events import parse_event
from tollgate.events.generator import GeneratorConfig


def _read_all(part) -> list[bytes]:
    out = []
    while True:
        try:
            out += part.next_batch()
        except StopIteration:
            return out


@pytest.fixture
def jsonl_dir(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "part-00000.jsonl").write_bytes(b"a1\na2\n\na3\n")
    (d / "part-00001.jsonl").write_bytes(b"b1\nb2\r\n")
    return d


def test_files_are_one_partition_read_in_name_order(jsonl_dir):
    source = JsonlDirSource(jsonl_dir, batch_size=2)
    assert source.list_parts() == ["jsonl"]
    assert _read_all(source.build_part("in", "jsonl", None)) == [b"a1", b"a2", b"a3", b"b1", b"b2"]


@pytest.mark.parametrize("batches_before", [0, 1, 2, 3])
def test_resume_from_a_snapshot_continues_without_gap_or_repeat(jsonl_dir, batches_before):
    source = JsonlDirSource(jsonl_dir, batch_size=2)
    part = source.build_part("in", "jsonl", None)
    seen = []
    for _ in range(batches_before):
        seen += part.next_batch()
    state = part.snapshot()
    rest = _read_all(source.build_part("in", "jsonl", state))
    assert seen + rest == [b"a1", b"a2", b"a3", b"b1", b"b2"]


def test_synthetic_replay_resumes_on_the_same_lines():
    config = GeneratorConfig(seed=1, customers=50, malformed_rate=0.05)
    source = SyntheticEvents(config, datetime(2026, 11, 20, tzinfo=UTC), count=300, batch_size=40)
    whole = _read_all(source.build_part("in", "synthetic", None))
    part = source.build_part("in", "synthetic", None)
    head = part.next_batch() + part.next_batch()
    tail = _read_all(source.build_part("in", "synthetic", part.snapshot()))
    assert head + tail == whole and len(whole) >= 300


def test_live_synthetic_events_are_emitted_once_their_time_has_come():
    config = GeneratorConfig(seed=1, customers=50, events_per_second=200)
    start = datetime.now(UTC) - timedelta(seconds=2)
    part = SyntheticEvents(config, start).build_part("in", "synthetic", None)
    now = datetime.now(UTC)
    times = [parse_event(line).event_time for line in part.next_batch()]
    assert times and all(start <= t <= now for t in times)
    assert part.next_awake() is not None
