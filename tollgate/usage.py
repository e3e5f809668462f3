"""The usage ledger: every billable delivery recorded once, never lost, never twice.

`UsageLedger.record()` only enqueues, so the request path never waits on the database. A
background thread writes batches with `INSERT ... ON CONFLICT DO NOTHING` keyed by the
delivery id, so a retried request or a replayed batch adds nothing. A batch that still fails
after retries is spilled to a fsynced JSONL file in `spill_dir`; spills are replayed on the
next `start()` (and whenever a later write succeeds) and deleted only once written.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import Connection, Engine
from sqlalchemy.dialects import postgresql, sqlite

from tollgate.db.engine import engine_for
from tollgate.db.models import UsageRecord

log = logging.getLogger(__name__)

DeliveryKind = Literal["query", "records", "messages", "export"]
SPILL_PREFIX = "usage-spill-"
_LEDGER = UsageRecord.__table__
_WRITE_ATTEMPTS = 3
_WIDTHS = {"delivery_id": 128, "tenant_id": 64, "product_id": 64}
_ROUTE_WIDTH = 200


@dataclass(frozen=True)
class Delivery:
    """One successful delivery to a tenant. `delivery_id` is its identity in the ledger."""

    delivery_id: str
    tenant_id: str
    product_id: str
    kind: DeliveryKind
    units: int
    bytes: int = 0
    compute_ms: float = 0.0
    route: str = ""
    occurred_at: datetime = None  # type: ignore[assignment]  # filled in __post_init__
    # How it was rated when it happened (tollgate.rating): the ledger keeps the price.
    channel: str = "query"
    unit_price_micros: int | None = None
    price_basis: str | None = None
    contract_id: str | None = None

    def __post_init__(self) -> None:
        at = self.occurred_at or datetime.now(UTC)
        if at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")
        # The ledger stores UTC; billing cuts days and months in UTC.
        object.__setattr__(self, "occurred_at", at.astimezone(UTC))
        if self.units < 0 or self.bytes < 0:
            raise ValueError("units and bytes cannot be negative")
        # Refuse here what the ledger's columns would refuse later: one bad record must not
        # make a whole batch fail, spill and replay forever.
        for name, width in _WIDTHS.items():
            if not 0 < len(getattr(self, name)) <= width:
                raise ValueError(f"{name} must be 1 to {width} characters")
        object.__setattr__(self, "route", self.route[:_ROUTE_WIDTH])

    def fields(self) -> dict:
        """The fields as a shallow dict (`dataclasses.asdict` deep-copies every value, which
        made it most of the ledger writer's time)."""
        return dict(vars(self))

    def to_json(self) -> str:
        return json.dumps({**self.fields(), "occurred_at": self.occurred_at.isoformat()})

    @classmethod
    def from_json(cls, line: str) -> Delivery:
        raw = json.loads(line)
        return cls(**{**raw, "occurred_at": datetime.fromisoformat(raw["occurred_at"])})


def idempotent_delivery_id(tenant_id: str, idempotency_key: str) -> str:
    """The delivery id of a request carrying an `Idempotency-Key`: retries share it."""
    return f"{tenant_id}:idem:{idempotency_key}"


def export_delivery_id(export_id: str) -> str:
    return f"export:{export_id}"


def insert_deliveries(conn: Connection, deliveries: list[Delivery]) -> None:
    """Insert deliveries within the caller's transaction; ids already recorded are skipped
    (so a delivery can be recorded atomically with the change that completes it)."""
    if not deliveries:
        return
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    recorded_at = datetime.now(UTC)
    rows = [{**d.fields(), "status": "delivered", "recorded_at": recorded_at} for d in deliveries]
    conn.execute(insert(_LEDGER).on_conflict_do_nothing(index_elements=["delivery_id"]), rows)


def write_deliveries(engine: Engine, deliveries: list[Delivery]) -> None:
    """Insert deliveries in one transaction of their own; ids already recorded are skipped."""
    if deliveries:
        with engine.begin() as conn:
            insert_deliveries(conn, deliveries)


class UsageLedger:
    """Batched, crash-safe writer of the usage ledger. Use: start(), record()..., close()."""

    def __init__(
        self,
        metadata_db_url: str,
        spill_dir: Path | str,
        batch_size: int = 500,
        flush_interval: float = 0.25,
        retry_delay: float = 0.05,
    ) -> None:
        self.metadata_db_url = metadata_db_url
        self.spill_dir = Path(spill_dir)
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.retry_delay = retry_delay
        # Appends and pops of a deque are atomic, so recording takes no lock and wakes nobody:
        # the writer wakes once per interval, or once when a full batch is waiting. (A queue
        # woke the writer for every delivery, and each wake-up made the request threads wait
        # for the interpreter lock.)
        self._pending: collections.deque[Delivery] = collections.deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._spill_lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        return engine_for(self.metadata_db_url)

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        """Replay spills left by an earlier run, then start the background writer."""
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        self.replay_spills()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="usage-ledger", daemon=True)
        self._thread.start()

    def record(self, delivery: Delivery) -> None:
        """Enqueue a delivery; returns at once (the write happens off the request path)."""
        self._pending.append(delivery)
        if len(self._pending) >= self.batch_size and not self._wake.is_set():
            self._wake.set()

    def close(self) -> None:
        """Write everything queued (or spill it) and stop the writer. Call on shutdown."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if not self._drain():  # anything recorded after the thread's last look
            # Nowhere durable is left: the process log is the last record an operator has.
            for delivery in self._pending:
                log.critical("usage delivery not recorded: %s", delivery.to_json())
            self._pending.clear()

    def __enter__(self) -> UsageLedger:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pending(self) -> int:
        """Deliveries recorded but not yet written (approximate while the writer runs)."""
        return len(self._pending)

    # -- the writer -------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            self._drain()
        self._drain()

    def _drain(self) -> bool:
        """Write everything pending, in batches of at most `batch_size`. When nothing takes
        a batch, stop: the deliveries stay pending, and the next interval tries again."""
        while self._pending:
            batch: list[Delivery] = []
            while self._pending and len(batch) < self.batch_size:
                batch.append(self._pending.popleft())
            if not self._write_or_spill(batch):
                return False
        return True

    def _write_or_spill(self, batch: list[Delivery]) -> bool:
        """Write the batch, or spill it; False (the batch back in front of the pending
        deliveries) when the database and the spill directory both fail."""
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                write_deliveries(self.engine, batch)
            except Exception as exc:  # any database failure: retry, then spill
                log.warning("usage ledger write failed (attempt %d): %s", attempt + 1, exc)
                time.sleep(self.retry_delay * (2**attempt))
            else:
                if self._spill_files():
                    self.replay_spills()
                return True
        try:
            self._spill(batch)
        except OSError as exc:
            log.error("usage ledger: database and spill directory both failing (%s)", exc)
            self._pending.extendleft(reversed(batch))
            return False
        return True

    # -- spill files ------------------------------------------------------------------
    def _spill_files(self) -> list[Path]:
        return sorted(self.spill_dir.glob(f"{SPILL_PREFIX}*.jsonl"))

    def _spill(self, batch: list[Delivery]) -> Path:
        """Write a batch to its own file durably: tmp, fsync, rename, fsync the directory."""
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        name = f"{SPILL_PREFIX}{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        path = self.spill_dir / name
        tmp = self.spill_dir / f".{name}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(d.to_json() + "\n" for d in batch)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(self.spill_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        log.error("usage ledger unavailable: %d deliveries spilled to %s", len(batch), path)
        return path

    def replay_spills(self) -> int:
        """Write every spill file to the ledger, deleting each once written. Returns the
        number of deliveries replayed; files that still fail stay for the next attempt."""
        replayed = 0
        with self._spill_lock:
            for path in self._spill_files():
                try:
                    lines = path.read_text(encoding="utf-8").splitlines()
                except FileNotFoundError:  # another process replayed it first
                    continue
                deliveries = [Delivery.from_json(line) for line in lines if line.strip()]
                try:
                    for i in range(0, len(deliveries), self.batch_size):
                        write_deliveries(self.engine, deliveries[i : i + self.batch_size])
                except Exception as exc:
                    log.warning("replaying %s failed, kept for later: %s", path.name, exc)
                    break
                path.unlink(missing_ok=True)
                replayed += len(deliveries)
        return replayed
