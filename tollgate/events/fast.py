"""A fast path for the event contract: a batch of raw lines decoded by msgspec.

`parse_batch` accepts exactly what `parse_event` accepts, with the same reason codes: a line
is taken on the fast path only if it is a plainly valid event (a subset of the contract,
e.g. event times in the RFC 3339 form every source writes); anything else, whether broken
or merely unusual, goes through `parse_event` itself, which decides. Fast-path events are
msgspec structs with the attribute names of the contract's models (`event_type`,
`payload.amount_cents`, `labels.is_fraud`, ...), so readers need not care which path an
event took. They are for the stream lane's hot path; `parse_event` stays the contract.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal

import msgspec
from msgspec import Meta, Struct

from tollgate.events.contract import (
    EARLIEST_EVENT_TIME,
    MAX_AMOUNT_CENTS,
    MAX_CLOCK_SKEW,
    Event,
    InvalidEvent,
    parse_event,
)

Region = Literal["US-West", "US-East", "EU", "APAC"]
Name = Annotated[str, Meta(min_length=1, max_length=128)]
Cents = Annotated[int, Meta(ge=0, le=MAX_AMOUNT_CENTS)]
Count = Annotated[int, Meta(ge=1, le=1000)]
AwareTime = Annotated[datetime, Meta(tz=True)]
# msgspec rounds fractions of a second past microseconds where the contract truncates, and
# would read JSON escapes inside a time: such lines (no source writes them) take the slow path.
_LONG_FRACTION = re.compile(rb"\.[0-9]{7}")


# Untracked by the cyclic GC (events hold only strings, numbers and other events' parts, so
# they cannot form a cycle): the collector then never walks the events in flight.
class _Strict(Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    pass


class PageViewPayload(_Strict):
    category: Name
    product_sku: Name


class SearchPayload(_Strict):
    query: Annotated[str, Meta(min_length=1, max_length=512)]
    category: Name


class AddToCartPayload(_Strict):
    category: Name
    product_sku: Name
    quantity: Count
    price_cents: Cents


class CheckoutPayload(_Strict):
    cart_value_cents: Cents
    items: Count


class PurchasePayload(_Strict):
    order_id: Name
    category: Name
    amount_cents: Cents


class CardTransactionPayload(_Strict):
    transaction_id: Name
    amount_cents: Cents
    currency: Annotated[str, Meta(pattern=r"^[A-Z]{3}\Z")]
    merchant_id: Name
    merchant_category: Name
    card_id: Name
    card_region: Region
    ip_region: Region
    channel: Literal["web", "app", "pos"]


class FraudLabels(_Strict):
    is_fraud: bool
    pattern: Literal["none", "burst", "geo_mismatch", "amount_spike", "new_device"] = "none"


class _Envelope(_Strict, tag_field="event_type"):
    event_id: Annotated[str, Meta(min_length=1, max_length=64)]
    customer_id: Name
    region: Region
    event_time: AwareTime
    session_id: Name
    device_id: Name


class PageView(_Envelope, tag="page_view"):
    event_type: ClassVar[str] = "page_view"
    payload: PageViewPayload


class Search(_Envelope, tag="search"):
    event_type: ClassVar[str] = "search"
    payload: SearchPayload


class AddToCart(_Envelope, tag="add_to_cart"):
    event_type: ClassVar[str] = "add_to_cart"
    payload: AddToCartPayload


class Checkout(_Envelope, tag="checkout"):
    event_type: ClassVar[str] = "checkout"
    payload: CheckoutPayload


class Purchase(_Envelope, tag="purchase"):
    event_type: ClassVar[str] = "purchase"
    payload: PurchasePayload


class CardTransaction(_Envelope, tag="card_transaction"):
    event_type: ClassVar[str] = "card_transaction"
    payload: CardTransactionPayload
    labels: FraudLabels | None = None


FastEvent = PageView | Search | AddToCart | Checkout | Purchase | CardTransaction
_DECODER = msgspec.json.Decoder(FastEvent)


def parse_batch(
    raws: Iterable[bytes | str], now: datetime | None = None
) -> list[tuple[object, Event | FastEvent | None, InvalidEvent | Exception | None]]:
    """Parse each raw line: `(raw, event, None)` or `(raw, None, error)`, in input order.

    The error is what `parse_event(raw, now)` raises (an `InvalidEvent` with its reason,
    or another exception for input that is not even text). Event times are aware UTC
    datetimes on both paths.
    """
    latest = now + MAX_CLOCK_SKEW if now is not None else None
    decode, long_fraction = _DECODER.decode, _LONG_FRACTION.search
    raws = raws if isinstance(raws, list) else list(raws)
    # Escapes and long fractions are looked for once in the whole batch, where they are
    # usually absent, and only then line by line.
    try:
        whole = b"\n".join(raws)
        plain = whole.find(b"\\") == -1 and long_fraction(whole) is None
    except TypeError:  # not all bytes
        plain = False
    out: list = []
    for raw in raws:
        # `find`, not `in`: `bytes in bytes` first tries its argument as an int and raises
        # (and discards) a TypeError each time.
        if type(raw) is not bytes or (not plain and (raw.find(b"\\") != -1 or long_fraction(raw))):
            out.append(_slow(raw, now))
            continue
        try:
            event = decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
            # Invalid UTF-8 inside a string surfaces as UnicodeDecodeError, not DecodeError.
            out.append(_slow(raw, now))
            continue
        at = event.event_time
        if at.tzinfo is not UTC:
            try:
                at = at.astimezone(UTC)
            except OverflowError:  # past the calendar's end in UTC: the contract says why
                out.append(_slow(raw, now))
                continue
            msgspec.structs.force_setattr(event, "event_time", at)
        if at < EARLIEST_EVENT_TIME or (latest is not None and at > latest):
            out.append(_slow(raw, now))
            continue
        out.append((raw, event, None))
    return out


def _slow(raw: object, now: datetime | None) -> tuple:
    try:
        return (raw, parse_event(raw, now), None)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - the caller decides what each error means
        # Kept without its traceback and context: their frames reach back to the caller's,
        # whose results hold this error, a cycle that would keep the whole batch of lines
        # and events alive until the next garbage collection.
        exc.__traceback__ = exc.__context__ = exc.__cause__ = None
        return (raw, None, exc)
