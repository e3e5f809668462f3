"""The metering hook: every successful product delivery passes through `record_delivery`.

One process-wide `UsageLedger` (started in the app's lifespan by `start_metering`, closed,
so written to the database, by `stop_metering` on shutdown or SIGTERM) journals each
delivery; `record_delivery` returns a `Receipt`, and the answer leaves only once the
receipt is durable (`MeteredResponse`), so a kill -9 never loses an answered delivery.
When the client is gone before the answer is sent, the receipt voids it with a reversal.
A delivery with an Idempotency-Key has the id its stored answer chose (`api.idempotency`);
any other gets a fresh server-side id (the client-chosen X-Request-ID must not be able to
suppress billing). Each delivery is rated as it is recorded (`tollgate.rating.rate`): its
channel, the contract terms the entitlement gate decided, and the price in force now.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass, field

from fastapi import Response
from starlette.types import Receive, Scope, Send

from api.edge import raw_header_name
from api.errors import ApiError, error_response
from api.ids import new_ordered_id
from tollgate.catalog import Catalog
from tollgate.clock import utcnow
from tollgate.contracts import LIST, Terms
from tollgate.prices import Channel
from tollgate.rating import rate
from tollgate.settings import Settings
from tollgate.usage import NO_TRAIL, Trail
from tollgate.usage import Delivery as LedgerDelivery
from tollgate.usage_journal import JournalError
from tollgate.usage_writer import UsageLedger

log = logging.getLogger("tollgate.api.metering")


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
    compute_ms: float = 0.0
    # A caller that needs a deterministic id (a stored idempotent answer's, a push window's).
    fixed_id: str | None = None
    channel: Channel = "query"
    terms: Terms = LIST
    # What was delivered: schema and snapshot version or watermark, freshness, quality.
    trail: Trail = NO_TRAIL
    _fresh_id: str = field(default_factory=new_ordered_id, repr=False)

    @property
    def delivery_id(self) -> str:
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
            **d.trail.fields(),
        )


_meter: _Meter | None = None
_lock = threading.Lock()


def journal_dir(settings: Settings):
    return settings.data_dir / "usage-journal"


def start_metering(settings: Settings, catalog: Catalog) -> UsageLedger:
    """Start this process's ledger (replaying what an earlier run left in the journal)."""
    global _meter
    ledger = UsageLedger(settings.metadata_db_url, journal_dir(settings))
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


def ledger_delivery(delivery: Delivery) -> LedgerDelivery | None:
    """The ledger record of a delivery (None with no ledger running: a bare unit test)."""
    meter = _meter
    if meter is None:
        log.warning("no usage ledger running: delivery %s not metered", delivery.delivery_id)
        return None
    return meter.to_ledger(delivery)


def record_delivery(delivery: Delivery) -> Receipt | None:
    """Journal one billable delivery; send its answer only once the receipt is durable.

    Raises a 503 `metering_unavailable` when the journal cannot take it: an answer that
    cannot be billed is not given."""
    meter = _meter
    record = ledger_delivery(delivery)
    if meter is None or record is None:
        return None
    try:
        return Receipt(meter.ledger, meter.ledger.record(record), record)
    except JournalError:
        log.exception("delivery %s could not be journaled", delivery.delivery_id)
        raise _unavailable() from None


def _unavailable() -> ApiError:
    return ApiError(
        503,
        "metering_unavailable",
        "the answer could not be metered; nothing was billed, try again",
        headers={"Retry-After": "1"},
    )


class Receipt:
    """A journaled delivery: await `durable()` before its answer goes out; `void()` it when
    the answer was not sent."""

    def __init__(self, ledger: UsageLedger, ticket: int, delivery: LedgerDelivery) -> None:
        self.ledger, self.ticket, self.delivery = ledger, ticket, delivery

    async def durable(self) -> None:
        await self.ledger.durable(self.ticket)

    async def void(self) -> None:
        self.ledger.void(self.delivery)


def client_gone(receive: Receive) -> bool:
    """True when the client has already closed the connection (without waiting for it).

    Each `receive()` is stepped once by hand: a message it has at hand comes back at once,
    and one it would wait for means the client is still there, so that wait is closed
    unstarted. (Cancelling the wait through a cancel scope cost a task repr per answer.)"""
    while True:
        step = receive().__await__()
        try:
            step.send(None)
        except StopIteration as done:
            if done.value["type"] == "http.disconnect":
                return True
            continue  # the request's own (empty) body: look again
        step.close()
        return False


_JSON_TYPE = (b"content-type", b"application/json")


class MeteredResponse(Response):
    """A JSON answer that leaves only once its delivery is durable in the ledger, and is
    voided instead of sent when the client has gone."""

    media_type = "application/json"

    def __init__(self, content: bytes, receipt, headers: dict[str, str]) -> None:
        # The head as `Response.__init__` makes it (the given headers, then length and type),
        # without its checks: a delivery's headers never set the length or the type.
        self.status_code, self.body, self.background = 200, content, None
        self.raw_headers = [
            *((raw_header_name(name), value.encode("latin-1")) for name, value in headers.items()),
            (b"content-length", str(len(content)).encode("latin-1")),
            _JSON_TYPE,
        ]
        self.receipt = receipt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        receipt = self.receipt
        if receipt is not None:
            try:
                await receipt.durable()
            except JournalError:
                await _unavailable_response()(scope, receive, send)
                return
            if client_gone(receive):
                await receipt.void()
                return
        await super().__call__(scope, receive, send)


def _unavailable_response() -> Response:
    e = _unavailable()
    return error_response(e.status, e.code, e.message, e.details, e.headers)


def record_reversal(reversal: LedgerDelivery) -> None:
    """Journal a reversal of what was recorded but not sent (no ledger running: nothing)."""
    meter = _meter
    if meter is not None:
        with contextlib.suppress(JournalError):  # a journal that failed holds no record to void
            meter.ledger.record(reversal)
