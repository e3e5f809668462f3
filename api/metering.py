"""The metering hook: every successful product delivery passes through `record_delivery`.

One process-wide `UsageLedger` (started in the app's lifespan by `start_metering`, closed,
so flushed, by `stop_metering` on shutdown or SIGTERM) receives them off the request path.
A delivery with an Idempotency-Key gets the id `<tenant>:idem:<key>:<request fingerprint>`
(`api.delivery` adds the fingerprint), so a retry is delivered again but the ledger keeps one
record, while the key reused for another request is billed again. Any other delivery gets
a fresh server-side id (the client-chosen X-Request-ID must not be able to suppress
billing). Each delivery is rated as it is recorded (`tollgate.rating.rate`): its channel,
the contract terms the entitlement gate decided, and the price in force now.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

from tollgate.catalog import Catalog
from tollgate.clock import utcnow
from tollgate.contracts import LIST, Terms
from tollgate.prices import Channel
from tollgate.rating import rate
from tollgate.settings import Settings
from tollgate.usage import Delivery as LedgerDelivery
from tollgate.usage import UsageLedger, idempotent_delivery_id

log = logging.getLogger("tollgate.api.metering")
_ID_WIDTH = 128  # the ledger's delivery_id column
SSE_FLUSH_SECONDS = 1.0  # a subscription's messages become one ledger record at most this often


@dataclass(frozen=True)
class Delivery:
    """What the API delivered: `units` are the rows (or pushed messages) in the answer,
    over `channel`, under `terms` (what the entitlement gate decided for the request)."""

    tenant_id: str
    product_id: str
    units: int
    bytes: int
    route: str
    request_id: str
    idempotency_key: str | None = None
    compute_ms: float = 0.0
    # A caller that needs a deterministic id (a push stream's n-th batch) sets it.
    fixed_id: str | None = None
    channel: Channel = "query"
    terms: Terms = LIST
    _fresh_id: str = field(default_factory=lambda: uuid.uuid4().hex, repr=False)

    @property
    def delivery_id(self) -> str:
        if self.idempotency_key:
            key = self.idempotency_key
            if len(idempotent_delivery_id(self.tenant_id, key)) > _ID_WIDTH:
                key = hashlib.sha256(key.encode()).hexdigest()[:48]  # still one id per key
            return idempotent_delivery_id(self.tenant_id, key)
        return self.fixed_id or f"{self.tenant_id}:req:{self._fresh_id}"


class _Meter:
    def __init__(self, ledger: UsageLedger, catalog: Catalog) -> None:
        self.ledger, self.catalog = ledger, catalog

    def to_ledger(self, d: Delivery) -> LedgerDelivery:
        now = utcnow()
        rating = rate(self.catalog.product(d.product_id), d.channel, d.terms, d.units, now)
        return LedgerDelivery(
            delivery_id=d.delivery_id,
            tenant_id=d.tenant_id,
            product_id=d.product_id,
            bytes=d.bytes,
            compute_ms=d.compute_ms,
            route=d.route,
            occurred_at=now,
            **rating.fields(),
        )


_meter: _Meter | None = None
_lock = threading.Lock()


def start_metering(settings: Settings, catalog: Catalog) -> UsageLedger:
    """Start this process's ledger (replaying spills an earlier run left)."""
    global _meter
    ledger = UsageLedger(settings.metadata_db_url, settings.data_dir / "usage-spill")
    ledger.start()
    with _lock:
        if _meter is not None:
            _meter.ledger.close()
        _meter = _Meter(ledger, catalog)
    return ledger


def stop_metering() -> None:
    """Write every recorded delivery (or spill it) and stop the ledger."""
    global _meter
    with _lock:
        meter, _meter = _meter, None
    if meter is not None:
        meter.ledger.close()


def record_delivery(delivery: Delivery) -> None:
    """Record one billable delivery; returns at once (the ledger writes in batches)."""
    meter = _meter
    if meter is None:
        # Only an app built without its lifespan (a bare unit test) gets here.
        log.warning("no usage ledger running: delivery %s not metered", delivery.delivery_id)
        return
    try:
        meter.ledger.record(meter.to_ledger(delivery))
    except (KeyError, ValueError):  # the answer went out; a metering bug must not fail it
        log.exception("delivery %s could not be metered", delivery.delivery_id)


class SubscriptionMeter:
    """Meters one push subscription: messages sent are recorded as a ledger record every
    SSE_FLUSH_SECONDS and when the stream ends, with ids `<tenant>:sse:<request>:<n>`, so a
    record is never counted twice and a stream cut short loses at most the unflushed batch."""

    def __init__(
        self, tenant_id: str, product_id: str, route: str, request_id: str, terms: Terms = LIST
    ) -> None:
        self.tenant_id, self.product_id, self.route = tenant_id, product_id, route
        self.terms = terms
        self.stream_id = uuid.uuid4().hex  # not the client's X-Request-ID: see module doc
        self.request_id = request_id
        self.pending = self.pending_bytes = 0
        self.flushes = 0
        self.last_flush = time.monotonic()

    def sent(self, messages: int, nbytes: int) -> None:
        self.pending += messages
        self.pending_bytes += nbytes
        if time.monotonic() - self.last_flush >= SSE_FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        if not self.pending:
            return
        self.flushes += 1
        record_delivery(
            Delivery(
                tenant_id=self.tenant_id,
                product_id=self.product_id,
                units=self.pending,
                bytes=self.pending_bytes,
                route=self.route,
                request_id=self.request_id,
                fixed_id=f"{self.tenant_id}:sse:{self.stream_id}:{self.flushes}",
                channel="push",
                terms=self.terms,
            )
        )
        self.pending = self.pending_bytes = 0
