"""File sinks written once per (writer, epoch): the landing zone and the quarantine.

Delivery: exactly-once in content. A writer buffers what it receives during an epoch and
writes it when Bytewax snapshots the epoch, to files named by (writer, epoch). On resume,
the writer deletes its files from epochs after the one it resumes from (written, but never
committed) before Bytewax replays those events, so nothing is lost and nothing lands twice.
A stream with recovery that has not committed yet resumes from the stream's first epoch
(`streaming.recovery`), so a crash before the first snapshot is undone the same way.
Temporary files a kill left mid-write are removed when the writer starts.
"""

from __future__ import annotations

import json
import os
import time
import zlib
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Protocol

import pyarrow as pa
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from streaming.sinks.landing import landing_tables
from tollgate.events import Event
from tollgate.events.landing import write_landing_file
from tollgate.lake import LANDING_DATASETS, Lake


class EpochFiles(Protocol):
    def prepare(self, items: list) -> list:
        """What the writer buffers of a batch of items until the epoch ends."""
        ...

    def write(self, writer: str, epoch: int, prepared: list) -> None: ...
    def files_of(self, writer: str) -> Iterator[Path]: ...
    def temp_files_of(self, writer: str) -> Iterator[Path]: ...


class EpochFileSink(FixedPartitionedSink[list, int]):
    """A fixed set of writers `w0..w{n-1}`; items are routed to a writer by their key."""

    def __init__(self, files: EpochFiles, writers: int, first_epoch: int | None = None):
        """`first_epoch`: the stream's (with recovery); None numbers epochs from the clock."""
        self.files = files
        self.writers = writers
        self.first_epoch = first_epoch

    def list_parts(self) -> list[str]:
        return [f"w{i}" for i in range(self.writers)]

    def part_fn(self, item_key: str) -> int:
        return zlib.crc32(item_key.encode())

    def build_part(self, step_id: str, for_part: str, resume_state: int | None):
        first = resume_state if resume_state is not None else self.first_epoch
        if first is None:
            # No recovery: epochs numbered from the wall clock never overwrite what an
            # earlier stream landed.
            first = time.time_ns() // 1_000_000
        else:
            for path in self.files.files_of(for_part):
                if _epoch_of(path) >= first:  # written by a run that never committed it
                    path.unlink(missing_ok=True)
        for path in self.files.temp_files_of(for_part):
            path.unlink(missing_ok=True)
        return _EpochFilePartition(self.files, for_part, first)


class _EpochFilePartition(StatefulSinkPartition[list, int]):
    def __init__(self, files: EpochFiles, writer: str, epoch: int):
        self.files, self.writer, self.epoch = files, writer, epoch
        self.buffer: list = []

    def write_batch(self, values: list[list]) -> None:
        # Prepared on arrival, while the items are fresh in memory, not all at epoch end.
        self.buffer.extend(self.files.prepare([item for items in values for item in items]))

    def snapshot(self) -> int:
        self._flush()
        return self.epoch

    def close(self) -> None:
        self._flush()

    def _flush(self) -> None:
        if self.buffer:
            self.files.write(self.writer, self.epoch, self.buffer)
            self.buffer = []
            self.epoch += 1


class LandingFiles:
    """Events as Parquet landing rows, one file per (dataset, event date, hour, writer, epoch)."""

    def __init__(self, lake: Lake):
        self.lake = lake

    def prepare(self, events: list[Event]) -> list[tuple[tuple[str, date, int], pa.Table]]:
        """The events' landing tables, by (dataset, event date, event hour)."""
        return landing_tables(events)

    def write(self, writer: str, epoch: int, parts: list[tuple[tuple, pa.Table]]) -> None:
        groups: dict[tuple[str, date, int], list[pa.Table]] = defaultdict(list)
        for key, table in parts:
            groups[key].append(table)
        for (dataset, day, hour), tables in groups.items():
            path = self.lake.landing_file(dataset, day, hour, writer=writer, epoch=epoch)
            write_landing_file(path, pa.concat_tables(tables).combine_chunks())

    def files_of(self, writer: str) -> Iterator[Path]:
        for dataset in LANDING_DATASETS:
            yield from self.lake.landing_dir(dataset).glob(
                f"event_date=*/event_hour=*/part-{writer}-*.parquet"
            )

    def temp_files_of(self, writer: str) -> Iterator[Path]:
        for dataset in LANDING_DATASETS:
            yield from self.lake.landing_dir(dataset).glob(
                f"event_date=*/event_hour=*/.part-{writer}-*.tmp"
            )


class QuarantineFiles:
    """Quarantine records as JSONL, one file per (day received, writer, epoch)."""

    def __init__(self, lake: Lake):
        self.lake = lake

    def prepare(self, records: list[dict]) -> list[dict]:
        return records

    def write(self, writer: str, epoch: int, records: list[dict]) -> None:
        groups: dict[date, list[dict]] = defaultdict(list)
        for r in records:
            groups[datetime.fromisoformat(r["received_at"]).date()].append(r)
        for day, rows in groups.items():
            path = self.lake.quarantine_file(day, writer=writer, epoch=epoch)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
            os.replace(tmp, path)

    def files_of(self, writer: str) -> Iterator[Path]:
        yield from self.lake.quarantine_dir().glob(f"event_date=*/part-{writer}-*.jsonl")

    def temp_files_of(self, writer: str) -> Iterator[Path]:
        yield from self.lake.quarantine_dir().glob(f"event_date=*/.part-{writer}-*.tmp")


def _epoch_of(path: Path) -> int:
    return int(path.name.split(".", 1)[0].rsplit("-", 1)[1])
