"""The usage ledger's records: every billable delivery recorded once, never lost, never twice.

A `Delivery` is keyed by its delivery id, so writing it again (a replayed journal, a retried
batch) adds nothing; a record only ever grows (a push stream's window record is rewritten as
its window fills). A delivery the server knows was not sent is voided by a reversal record
(`reversal()`: negative units, its own id), never deleted, so the ledger keeps its history.
`tollgate.usage_writer.UsageLedger` is the process-wide writer behind the API.

Each record also carries its delivery trail (`Trail`): the schema version it was served in,
the snapshot version (batch, exports) or the live watermark, the freshness at delivery and
the product's quality status then, so an invoice line can be traced to what was delivered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime
from typing import Literal

import msgspec
from sqlalchemy import Connection, Engine
from sqlalchemy.dialects import postgresql, sqlite

from tollgate.db.bulk import BulkInsert
from tollgate.db.models import UsageRecord

DeliveryKind = Literal["query", "records", "messages", "export"]
# A reversal voids the delivery its id names: its units and bytes are the negated original.
DeliveryStatus = Literal["delivered", "reversal"]
BILLED_STATUSES = ("delivered", "reversal")
_LEDGER = UsageRecord.__table__
_JSON = msgspec.json.Encoder()  # a journal line per answer: json.dumps took 4x as long
_WIDTHS = {"delivery_id": 128, "tenant_id": 64, "product_id": 64}
_ROUTE_WIDTH = 200
_TRAIL_WIDTHS = {"schema_version": 16, "snapshot_version": 32, "quality_status": 16}


@dataclass(frozen=True)
class Trail:
    """What a delivery delivered, besides its units: the lanes that meter deliveries (the
    API's answers and pushes, export jobs) fill it in, billing and the buyer read it."""

    schema_version: str | None = None
    snapshot_version: str | None = None  # a batch answer's or export's published version
    watermark_at: datetime | None = None  # the data's newest time (a live watermark)
    freshness_seconds: float | None = None  # delivery time minus `watermark_at`
    quality_status: str | None = None  # healthy | stale | degraded | ... at delivery

    def fields(self) -> dict:
        return dict(vars(self))


NO_TRAIL = Trail()


def trail_at(
    delivered_at: datetime,
    schema_version: str | None,
    watermark_at: datetime | None,
    quality_status: str | None,
    snapshot_version: str | None = None,
) -> Trail:
    """The trail of a delivery made at `delivered_at` of data as new as `watermark_at`."""
    freshness = None
    if watermark_at is not None:
        if watermark_at.tzinfo is None:  # a manifest may hold naive UTC
            watermark_at = watermark_at.replace(tzinfo=UTC)
        freshness = round(max(0.0, (delivered_at - watermark_at).total_seconds()), 3)
    return Trail(schema_version, snapshot_version, watermark_at, freshness, quality_status)


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
    status: DeliveryStatus = "delivered"
    # The delivery trail (see `Trail`); None where it was not known (older records).
    schema_version: str | None = None
    snapshot_version: str | None = None
    watermark_at: datetime | None = None
    freshness_seconds: float | None = None
    quality_status: str | None = None

    def __post_init__(self) -> None:
        # Each field is set again only when it changes: a metered answer makes one of these.
        at = self.occurred_at or datetime.now(UTC)
        if at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")
        # The ledger stores UTC; billing cuts days and months in UTC.
        if at is not self.occurred_at or at.tzinfo is not UTC:
            object.__setattr__(self, "occurred_at", at.astimezone(UTC))
        sign = -1 if self.status == "reversal" else 1
        if sign * self.units < 0 or sign * self.bytes < 0:
            raise ValueError("units and bytes cannot be negative (a reversal's, positive)")
        # Refuse here what the ledger's columns would refuse later: one bad record must not
        # make a whole batch fail, spill and replay forever.
        for name, width in _WIDTHS.items():
            if not 0 < len(getattr(self, name)) <= width:
                raise ValueError(f"{name} must be 1 to {width} characters")
        if len(self.route) > _ROUTE_WIDTH:
            object.__setattr__(self, "route", self.route[:_ROUTE_WIDTH])
        for name, width in _TRAIL_WIDTHS.items():
            value = getattr(self, name)
            if value is not None and len(value) > width:
                object.__setattr__(self, name, value[:width])
        wm = self.watermark_at
        if wm is not None and wm.tzinfo is not UTC:
            object.__setattr__(
                self, "watermark_at", (wm if wm.tzinfo else wm.replace(tzinfo=UTC)).astimezone(UTC)
            )

    def fields(self) -> dict:
        """The fields as a shallow dict (`dataclasses.asdict` deep-copies every value, which
        made it most of the ledger writer's time)."""
        return dict(vars(self))

    def reversal(self) -> Delivery:
        """The record voiding this delivery: same tenant, product, time and price, negated
        units (so its amount nets the original's out)."""
        return replace(
            self,
            delivery_id=reversal_id(self.delivery_id),
            units=-self.units,
            bytes=-self.bytes,
            compute_ms=0.0,
            status="reversal",
        )

    def to_json(self) -> str:
        return self.journal_line()[:-1].decode()

    def journal_line(self) -> bytes:
        """The delivery as one line of the usage journal: `to_json()`, UTF-8, newline-ended."""
        fields = self.fields()
        fields["occurred_at"] = self.occurred_at.isoformat()
        if self.watermark_at is not None:
            fields["watermark_at"] = self.watermark_at.isoformat()
        return _JSON.encode(fields) + b"\n"

    @classmethod
    def from_json(cls, line: str) -> Delivery:
        raw = json.loads(line)
        raw["occurred_at"] = datetime.fromisoformat(raw["occurred_at"])
        if raw.get("watermark_at"):
            raw["watermark_at"] = datetime.fromisoformat(raw["watermark_at"])
        return cls(**raw)


def reversal_id(delivery_id: str) -> str:
    """The id of the reversal of `delivery_id` (one reversal per delivery at most)."""
    voided = f"void:{delivery_id}"
    if len(voided) <= _WIDTHS["delivery_id"]:
        return voided
    return "void:" + hashlib.sha256(delivery_id.encode()).hexdigest()


def idempotent_delivery_id(tenant_id: str, idempotency_key: str) -> str:
    """The delivery id of a request carrying an `Idempotency-Key`: retries share it."""
    return f"{tenant_id}:idem:{idempotency_key}"


def export_delivery_id(export_id: str) -> str:
    return f"export:{export_id}"


def _ledger_upsert(insert: Callable) -> BulkInsert:
    """The ledger's insert in `insert`'s dialect (what it does: `insert_deliveries`)."""
    stmt = insert(_LEDGER)
    excluded = stmt.excluded
    grow = stmt.on_conflict_do_update(
        index_elements=["delivery_id"],
        set_={"units": excluded.units, "bytes": excluded.bytes},
        where=excluded.units > _LEDGER.c.units,
    )
    return BulkInsert(grow, [*(f.name for f in dataclass_fields(Delivery)), "recorded_at"])


_UPSERTS = {
    "postgresql": _ledger_upsert(postgresql.insert),
    "sqlite": _ledger_upsert(sqlite.insert),
}


def insert_deliveries(conn: Connection, deliveries: list[Delivery]) -> None:
    """Insert deliveries within the caller's transaction (so a delivery can be recorded
    atomically with the change that completes it). An id already recorded is left as it is,
    unless this record of it is larger: a window record that grew since it was written."""
    if not deliveries:
        return
    recorded_at = datetime.now(UTC)
    rows = [{**d.fields(), "recorded_at": recorded_at} for d in deliveries]
    _UPSERTS["postgresql" if conn.dialect.name == "postgresql" else "sqlite"](conn, rows)


def write_deliveries(engine: Engine, deliveries: list[Delivery]) -> None:
    """Insert deliveries in one transaction of their own; ids already recorded are skipped."""
    if deliveries:
        with engine.begin() as conn:
            insert_deliveries(conn, deliveries)
