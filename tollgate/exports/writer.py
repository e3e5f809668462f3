"""Write an export to disk: streamed batch by batch in CSV, Parquet or JSON Lines, so
memory stays flat whatever its size; beside the destination then renamed into place, so a
reader (or a restarted job) never sees half a file; hashed (SHA-256) as it is written."""

from __future__ import annotations

import hashlib
import io
import os
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tollgate.exports.spec import (
    BATCH_ROWS,
    FORMATS,
    ExportError,
    ExportResult,
    ExportSpec,
    export_batches,
    projected_schema,
)

ROW_GROUP_ROWS = 122_880  # DuckDB's default row group, for a like-for-like file


def _read_ahead(batches: Iterator[pa.RecordBatch], depth: int = 2) -> Iterator[pa.RecordBatch]:
    """Decode the next batches on a thread while the caller encodes this one (Arrow releases
    the GIL on both sides); at most `depth` batches wait, so memory stays bounded."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def offer(item: object) -> bool:
        """Queue an item unless the consumer has gone away."""
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not offer(batch):
                    return
            offer(done)
        except BaseException as exc:  # handed to the consumer, raised there
            offer(exc)

    worker = threading.Thread(target=produce, name="export-read-ahead", daemon=True)
    worker.start()
    try:
        while (item := ready.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


class _HashingSink(io.RawIOBase):
    """A write-only file that hashes and counts what passes through it."""

    def __init__(self, raw: io.BufferedWriter) -> None:
        self._raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        view = memoryview(data).cast("B")
        self._raw.write(view)
        self.digest.update(view)
        self.size += view.nbytes
        return view.nbytes


def write_export(
    spec: ExportSpec,
    dest: Path,
    progress: Callable[[int], None] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> ExportResult:
    """Write the export to `dest` atomically; `progress(rows_done)` after every batch (an
    exception raised from it cancels the export and leaves no file behind)."""
    if spec.fmt not in FORMATS:
        raise ExportError(f"format {spec.fmt!r} is not one of {', '.join(FORMATS)}")
    schema = projected_schema(spec)
    batches = _read_ahead(export_batches(spec, batch_rows))
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp")
    rows = 0
    try:
        with open(tmp, "wb") as raw:
            sink = _HashingSink(raw)
            write_batch, finish = _writer(spec.fmt, sink, schema)
            for batch in batches:
                if batch.num_rows:
                    write_batch(batch)
                    rows += batch.num_rows
                    if progress is not None:
                        progress(rows)
            finish()
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        batches.close()  # stops the read-ahead thread at once, even on failure
    return ExportResult(dest, rows, sink.size, sink.digest.hexdigest())


def _writer(fmt: str, sink: _HashingSink, schema: pa.Schema):
    """(write one batch, finish) for a format; every format gets a header or footer even
    when no row matches, so an empty export is still a valid file."""
    if fmt == "csv":
        csv_writer = pacsv.CSVWriter(sink, schema)
        return csv_writer.write_batch, csv_writer.close
    if fmt == "parquet":
        return _ParquetRowGroups(sink, schema).write_batch_and_finish()
    import polars as pl  # only JSON Lines needs it; keeps the other formats' memory lower

    def write_jsonl(batch: pa.RecordBatch) -> None:
        pl.from_arrow(batch).write_ndjson(sink)

    return write_jsonl, lambda: None


class _ParquetRowGroups:
    """Gathers scan batches into row groups of ~ROW_GROUP_ROWS: one row group per small
    batch would make a slower, bigger file; a bounded buffer keeps memory flat."""

    def __init__(self, sink: _HashingSink, schema: pa.Schema) -> None:
        self._writer = pq.ParquetWriter(sink, schema, compression="snappy")
        self._pending: list[pa.RecordBatch] = []
        self._rows = 0

    def write_batch_and_finish(self):
        return self.write_batch, self.finish

    def write_batch(self, batch: pa.RecordBatch) -> None:
        self._pending.append(batch)
        self._rows += batch.num_rows
        if self._rows >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._writer.write_table(pa.Table.from_batches(self._pending))
        self._pending, self._rows = [], 0
        pa.default_memory_pool().release_unused()

    def finish(self) -> None:
        self._flush()
        self._writer.close()
