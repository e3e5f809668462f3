"""Events: the input contract every source delivers, and the synthetic source."""

from tollgate.events.contract import (
    BEHAVIOR_EVENT_TYPES,
    REGIONS,
    AddToCart,
    CardTransaction,
    Checkout,
    Event,
    EventType,
    FraudLabels,
    InvalidEvent,
    PageView,
    Purchase,
    Reason,
    Search,
    event_to_dict,
    event_to_json,
    parse_event,
)

__all__ = [
    "BEHAVIOR_EVENT_TYPES",
    "REGIONS",
    "AddToCart",
    "CardTransaction",
    "Checkout",
    "Event",
    "EventType",
    "FraudLabels",
    "InvalidEvent",
    "PageView",
    "Purchase",
    "Reason",
    "Search",
    "event_to_dict",
    "event_to_json",
    "parse_event",
]
