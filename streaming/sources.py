"""Sources of raw events for the live lane: synthetic, a JSONL directory, or Kafka.

Every source yields raw payloads (bytes); validation happens in the flow, so a source never
decides what is a good event. Event time always comes from the event itself.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path

from bytewax.connectors.kafka import KafkaSource, KafkaSourceMessage
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from tollgate.clock import utcnow
from tollgate.events import event_to_json
from tollgate.events.generator import GeneratorConfig, SyntheticSource
from tollgate.settings import Settings

# Lines per batch a replay reads (a paced source hands over what is due, up to this). Every
# batch costs a call per shard and region and a live store transaction: larger batches
# made a replay about a tenth cheaper in CPU than batches of 1,000.
BATCH_SIZE = 5000


class JsonlDirSource(FixedPartitionedSource[bytes, tuple[str, int]]):
    """The `*.jsonl` files of a directory, read once, in name order, line by line.

    Split into `lanes` partitions by customer: every lane reads every file and keeps the
    lines of its customers (by a hash of the raw `customer_id`; a line without one goes to
    lane 0), so each lane is in the files' order, and each customer's events stay in that
    order whichever worker reads them: the products (risk, journeys) do not depend on how
    many workers there are. Resumes at the (file, byte offset) of the last snapshot, so
    replay after a crash is exact.
    """

    def __init__(self, directory: Path, batch_size: int = BATCH_SIZE, lanes: int = 1):
        self.directory = Path(directory)
        self.batch_size = batch_size
        self.lanes = lanes

    def list_parts(self) -> list[str]:
        return ["jsonl"] if self.lanes == 1 else [f"jsonl-{i}" for i in range(self.lanes)]

    def build_part(self, step_id: str, for_part: str, resume_state: tuple[str, int] | None):
        files = sorted(self.directory.glob("*.jsonl"))
        lane = 0 if self.lanes == 1 else int(for_part.rsplit("-", 1)[1])
        position = resume_state or ("", 0)
        return _JsonlPartition(files, position, self.batch_size, lane, self.lanes)


_CUSTOMER = re.compile(rb'"customer_id"\s*:\s*"((?:[^"\\]|\\.)*)"')


def lane_of(line: bytes, lanes: int) -> int:
    found = _CUSTOMER.search(line)
    return zlib.crc32(found.group(1)) % lanes if found else 0


class _JsonlPartition(StatefulSourcePartition[bytes, tuple[str, int]]):
    def __init__(
        self, files: list[Path], position: tuple[str, int], batch_size: int, lane: int, lanes: int
    ):
        name, offset = position
        self.files = [f for f in files if f.name >= name]
        self.batch_size, self.lane, self.lanes = batch_size, lane, lanes
        self.file = None
        self._open(offset if self.files and self.files[0].name == name else 0)

    def _open(self, offset: int) -> None:
        if self.file is not None:
            self.file.close()
        self.file = open(self.files[0], "rb") if self.files else None  # noqa: SIM115
        if self.file is not None:
            self.file.seek(offset)

    def next_batch(self) -> list[bytes]:
        while self.file is not None:
            lines = [line.rstrip(b"\r\n") for line in islice(self.file, self.batch_size)]
            if lines:
                if self.lanes == 1:
                    return [line for line in lines if line]
                lane, lanes = self.lane, self.lanes
                return [line for line in lines if line and lane_of(line, lanes) == lane]
            self.files.pop(0)
            self._open(0)
        raise StopIteration

    def snapshot(self) -> tuple[str, int]:
        if self.file is None:
            return ("\uffff", 0)  # past every file name: nothing left to read
        return self.files[0].name, self.file.tell()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


class SyntheticEvents(FixedPartitionedSource[bytes, tuple[str, int]]):
    """The deterministic synthetic source, in process.

    Replay (`paced` False, the default when `count` is given): the wire stream from `start`
    as fast as it goes, malformed lines, duplicates and late deliveries included. Live
    (`paced`, the default without `count`): events stamped from the moment the stream
    first started, each emitted once the wall clock reaches its event time. Either way it
    resumes by regenerating and skipping what the last snapshot had emitted.
    """

    def __init__(
        self,
        config: GeneratorConfig,
        start: datetime | None = None,
        count: int | None = None,
        batch_size: int = BATCH_SIZE,
        paced: bool | None = None,
    ):
        self.config, self.start, self.count, self.batch_size = config, start, count, batch_size
        self.paced = count is None if paced is None else paced

    def list_parts(self) -> list[str]:
        return ["synthetic"]

    def build_part(self, step_id: str, for_part: str, resume_state: tuple[str, int] | None):
        start, done = resume_state or ((self.start or utcnow()).isoformat(), 0)
        source = SyntheticSource(self.config)
        begin = datetime.fromisoformat(start)
        if not self.paced:
            lines = source.raw(begin, count=self.count)
            return _SyntheticPartition(start, islice(lines, done, None), done, self.batch_size)
        events = source.events(begin, count=self.count)
        timed = ((e.event_time, event_to_json(e)) for e in events)
        return _PacedPartition(start, islice(timed, done, None), done, self.batch_size)


class _SyntheticPartition(StatefulSourcePartition[bytes, tuple[str, int]]):
    def __init__(self, start: str, lines: Iterator[bytes], done: int, batch_size: int):
        self.start, self.lines, self.done, self.batch_size = start, lines, done, batch_size

    def next_batch(self) -> list[bytes]:
        batch = list(islice(self.lines, self.batch_size))
        if not batch:
            raise StopIteration
        self.done += len(batch)
        return batch

    def snapshot(self) -> tuple[str, int]:
        return self.start, self.done


class _PacedPartition(StatefulSourcePartition[bytes, tuple[str, int]]):
    def __init__(self, start: str, timed: Iterator, done: int, batch_size: int):
        self.start, self.timed, self.done, self.batch_size = start, timed, done, batch_size
        self.pending = next(self.timed, None)

    def next_batch(self) -> list[bytes]:
        if self.pending is None:
            raise StopIteration
        now, batch = utcnow(), []
        while self.pending is not None and self.pending[0] <= now and len(batch) < self.batch_size:
            batch.append(self.pending[1])
            self.pending = next(self.timed, None)
        self.done += len(batch)
        return batch

    def next_awake(self) -> datetime | None:
        if self.pending is None:
            return None
        # Wake for the next event, but at least every 100 ms so epochs keep closing.
        return min(self.pending[0], utcnow() + timedelta(milliseconds=100))

    def snapshot(self) -> tuple[str, int]:
        return self.start, self.done


def kafka_source(settings: Settings, tail: bool = True) -> KafkaSource:
    """The input topic (partitioned by region); offsets live in Bytewax's recovery store."""
    return KafkaSource(
        brokers=settings.kafka_brokers.split(","),
        topics=[settings.kafka_input_topic],
        tail=tail,
        raise_on_errors=False,
    )


def kafka_payload(item: object) -> object:
    """A Kafka message's value; a consumer error passes on as itself and is quarantined."""
    return item.value if isinstance(item, KafkaSourceMessage) else item


def live_synthetic(settings: Settings) -> SyntheticEvents:
    """The demo's default source: synthetic events at `settings.synthetic_rate` per second."""
    return SyntheticEvents(
        GeneratorConfig(seed=settings.seed, events_per_second=settings.synthetic_rate)
    )
