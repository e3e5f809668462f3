"""The input event contract: what every source must deliver and every lane may rely on.

An event is one JSON object. The envelope (event id, type, customer, region, event time,
session and device) is common; the payload is typed by `event_type`. Card transactions
may carry `labels`, the ground truth the synthetic source knows (a real feed learns it
from chargebacks later): lanes may land and evaluate it, never score with it.

`parse_event` turns raw bytes into an `Event` or raises `InvalidEvent` with a reason code,
so a stream can quarantine bad input with the reason instead of crashing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

REGIONS: tuple[str, ...] = ("US-West", "US-East", "EU", "APAC")
Region = Literal["US-West", "US-East", "EU", "APAC"]

# Upper bound on any money amount: $1M in one event is an error, not a purchase.
MAX_AMOUNT_CENTS = 100_000_000
# How far ahead of the processing clock an event time may be before it is rejected.
MAX_CLOCK_SKEW = timedelta(minutes=5)
# Event times before this are corrupt, not late.
EARLIEST_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)


class EventType(StrEnum):
    PAGE_VIEW = "page_view"
    SEARCH = "search"
    ADD_TO_CART = "add_to_cart"
    CHECKOUT = "checkout"
    PURCHASE = "purchase"
    CARD_TRANSACTION = "card_transaction"


BEHAVIOR_EVENT_TYPES = frozenset(t for t in EventType if t is not EventType.CARD_TRANSACTION)


class Reason(StrEnum):
    """Why an event was quarantined."""

    BAD_JSON = "bad_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    UNKNOWN_REGION = "unknown_region"
    ABSURD_VALUE = "absurd_value"
    FUTURE_EVENT_TIME = "future_event_time"
    ANCIENT_EVENT_TIME = "ancient_event_time"
    UNKNOWN_FIELD = "unknown_field"


class InvalidEvent(ValueError):
    def __init__(self, reason: Reason, message: str):
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


Cents = Annotated[int, Field(ge=0, le=MAX_AMOUNT_CENTS)]
Name = Annotated[str, Field(min_length=1, max_length=128)]


class PageViewPayload(_Model):
    category: Name
    product_sku: Name


class SearchPayload(_Model):
    query: Annotated[str, Field(min_length=1, max_length=512)]
    category: Name


class AddToCartPayload(_Model):
    category: Name
    product_sku: Name
    quantity: Annotated[int, Field(ge=1, le=1000)]
    price_cents: Cents


class CheckoutPayload(_Model):
    cart_value_cents: Cents
    items: Annotated[int, Field(ge=1, le=1000)]


class PurchasePayload(_Model):
    order_id: Name
    category: Name
    amount_cents: Cents


class CardTransactionPayload(_Model):
    transaction_id: Name
    amount_cents: Cents
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    merchant_id: Name
    merchant_category: Name
    card_id: Name
    card_region: Region
    # Where the session that made the payment was, by IP: a mismatch with the card's
    # region is a fraud signal.
    ip_region: Region
    channel: Literal["web", "app", "pos"]


class FraudLabels(_Model):
    is_fraud: bool
    pattern: Literal["none", "burst", "geo_mismatch", "amount_spike", "new_device"] = "none"


class _Envelope(_Model):
    event_id: Annotated[str, Field(min_length=1, max_length=64)]
    customer_id: Name
    region: Region
    event_time: AwareDatetime
    session_id: Name
    device_id: Name

    @field_validator("event_time")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        try:
            return v.astimezone(UTC)
        except OverflowError:
            # Year 1 or 9999 shifted past the calendar's end by its offset: keep the wall
            # time as UTC (off by under a day), so the range checks reject it with a reason
            # instead of an OverflowError escaping the parser.
            return v.replace(tzinfo=UTC)


class PageView(_Envelope):
    event_type: Literal["page_view"]
    payload: PageViewPayload


class Search(_Envelope):
    event_type: Literal["search"]
    payload: SearchPayload


class AddToCart(_Envelope):
    event_type: Literal["add_to_cart"]
    payload: AddToCartPayload


class Checkout(_Envelope):
    event_type: Literal["checkout"]
    payload: CheckoutPayload


class Purchase(_Envelope):
    event_type: Literal["purchase"]
    payload: PurchasePayload


class CardTransaction(_Envelope):
    event_type: Literal["card_transaction"]
    payload: CardTransactionPayload
    labels: FraudLabels | None = None


BehaviorEvent = PageView | Search | AddToCart | Checkout | Purchase
Event = Annotated[
    PageView | Search | AddToCart | Checkout | Purchase | CardTransaction,
    Field(discriminator="event_type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(raw: bytes | str, now: datetime | None = None) -> Event:
    """Parse and validate one raw event; raise `InvalidEvent` with a reason code.

    `now` is the processing clock, used only to reject event times from the future.
    """
    try:
        event = EVENT_ADAPTER.validate_json(raw)
    except ValidationError as exc:
        raise _classify(raw, exc) from None
    if event.event_time < EARLIEST_EVENT_TIME:
        raise InvalidEvent(Reason.ANCIENT_EVENT_TIME, f"event_time {event.event_time} is corrupt")
    if now is not None and event.event_time > now + MAX_CLOCK_SKEW:
        raise InvalidEvent(
            # The message names the allowed skew, not `now`: replays must quarantine alike.
            Reason.FUTURE_EVENT_TIME,
            f"event_time {event.event_time} is more than {MAX_CLOCK_SKEW} ahead of the clock",
        )
    return event


def event_to_json(event: Event) -> bytes:
    """The wire form of an event (what sources write and `parse_event` reads)."""
    return event.model_dump_json(exclude_none=True).encode()


def event_to_dict(event: Event) -> dict:
    return event.model_dump(mode="json", exclude_none=True)


def _classify(raw: bytes | str, exc: ValidationError) -> InvalidEvent:
    err = exc.errors(include_url=False)[0]
    kind, loc = err["type"], ".".join(str(p) for p in err["loc"])
    if kind == "json_invalid":
        return InvalidEvent(Reason.BAD_JSON, err["msg"])
    # Tag errors are reported at the root too, so they must be told apart before NOT_AN_OBJECT.
    if kind == "union_tag_not_found":
        return InvalidEvent(Reason.MISSING_FIELD, "event_type is missing")
    if kind == "union_tag_invalid":
        return InvalidEvent(Reason.UNKNOWN_EVENT_TYPE, f"unknown event_type {_tag(raw)!r}")
    if not err["loc"]:
        return InvalidEvent(Reason.NOT_AN_OBJECT, "an event must be a JSON object")
    if kind == "missing":
        return InvalidEvent(Reason.MISSING_FIELD, f"{loc} is missing")
    if kind == "extra_forbidden":
        return InvalidEvent(Reason.UNKNOWN_FIELD, f"{loc} is not part of the contract")
    if kind == "literal_error" and err["loc"][-1] in ("region", "card_region", "ip_region"):
        return InvalidEvent(Reason.UNKNOWN_REGION, f"{loc}: {err['input']!r} is not a region")
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return InvalidEvent(Reason.ABSURD_VALUE, f"{loc}: {err['msg']}")
    return InvalidEvent(Reason.WRONG_TYPE, f"{loc}: {err['msg']}")


def _tag(raw: bytes | str) -> object:
    try:
        return json.loads(raw).get("event_type")
    except (ValueError, AttributeError):
        return None
