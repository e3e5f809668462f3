"""The wire's faults: malformed lines, re-deliveries and late deliveries.

Clean events keep their bytes; faults are added around them, so the valid lines of the
wire, deduplicated by event id, are exactly the source's events. A late event is held back
and released only after an event with a later event time went out, so it is truly out of
order; a re-delivery repeats the same bytes within a minute. Every malformed line fails
`parse_event` with a reason (a far-future time only against a processing clock).
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tollgate.events.contract import MAX_AMOUNT_CENTS, Event, event_to_dict, event_to_json

if TYPE_CHECKING:
    from tollgate.events.generator import GeneratorConfig

MAX_REDELIVERY_DELAY_SECONDS = 60.0
_AMOUNT_FIELDS = ("amount_cents", "price_cents", "cart_value_cents")
_ENVELOPE_FIELDS = ("customer_id", "region", "event_time", "session_id", "device_id",
                    "event_type", "payload")  # fmt: skip


def wire_lines(
    events: Iterator[Event], config: GeneratorConfig, rng: random.Random
) -> Iterator[bytes]:
    max_late = config.max_lateness.total_seconds()
    redelivery_delay = min(MAX_REDELIVERY_DELAY_SECONDS, max_late)
    # Malformed lines are added per clean line so that they are `malformed_rate` of all lines.
    bad_chance = config.malformed_rate / (1 - config.malformed_rate)
    held: list[tuple[float, int, bytes, Event]] = []
    held_count = 0

    def deliver(line: bytes, event: Event) -> Iterator[bytes]:
        if bad_chance and rng.random() < bad_chance:
            yield malformed_line(event, rng)
        yield line

    for event in events:
        line = event_to_json(event)
        ts = event.event_time.timestamp()
        if config.late_rate and rng.random() < config.late_rate:
            held_count += 1
            heapq.heappush(held, (ts + rng.uniform(1.0, max_late), held_count, line, event))
        else:
            yield from deliver(line, event)
        if config.duplicate_rate and rng.random() < config.duplicate_rate:
            held_count += 1
            heapq.heappush(held, (ts + rng.uniform(0.0, redelivery_delay), held_count, line, event))
        # Released after the current event went out: an event later than them preceded them.
        while held and held[0][0] <= ts:
            _, _, held_line, held_event = heapq.heappop(held)
            yield from deliver(held_line, held_event)
    while held:
        _, _, held_line, held_event = heapq.heappop(held)
        yield from deliver(held_line, held_event)


def _bad_json(d: dict, rng: random.Random) -> bytes:
    # Any proper prefix of a JSON object is invalid JSON: a line cut in transit.
    text = json.dumps(d).encode()
    return text[: rng.randrange(1, len(text) - 1)]


def _not_an_object(d: dict, rng: random.Random) -> bytes:
    return json.dumps([d]).encode()


def _missing_field(d: dict, rng: random.Random) -> bytes:
    del d[rng.choice(_ENVELOPE_FIELDS)]
    return json.dumps(d).encode()


def _wrong_type(d: dict, rng: random.Random) -> bytes:
    d["customer_id"] = rng.randrange(10**6)
    return json.dumps(d).encode()


def _unknown_event_type(d: dict, rng: random.Random) -> bytes:
    d["event_type"] = rng.choice(("page_veiw", "refund", "PURCHASE", "click"))
    return json.dumps(d).encode()


def _unknown_region(d: dict, rng: random.Random) -> bytes:
    d["region"] = rng.choice(("Mars", "eu-west-1", "us", "LATAM"))
    return json.dumps(d).encode()


def _absurd_value(d: dict, rng: random.Random) -> bytes:
    amounts = [f for f in _AMOUNT_FIELDS if f in d["payload"]]
    if not amounts:
        return _wrong_type(d, rng)
    d["payload"][rng.choice(amounts)] = rng.choice(
        (-rng.randrange(1, 10**5), MAX_AMOUNT_CENTS * 1000)
    )
    return json.dumps(d).encode()


def _shifted_time(delta: timedelta) -> Callable[[dict, random.Random], bytes]:
    def shift(d: dict, rng: random.Random) -> bytes:
        at = datetime.fromisoformat(d["event_time"].replace("Z", "+00:00"))
        d["event_time"] = (at + delta).isoformat()
        return json.dumps(d).encode()

    return shift


def _unknown_field(d: dict, rng: random.Random) -> bytes:
    d[rng.choice(("debug", "ip_address", "user_agent"))] = "x"
    return json.dumps(d).encode()


def _ancient_time(d: dict, rng: random.Random) -> bytes:
    d["event_time"] = "1970-01-01T00:00:00Z"
    return json.dumps(d).encode()


MALFORMATIONS: tuple[Callable[[dict, random.Random], bytes], ...] = (
    _bad_json, _not_an_object, _missing_field, _wrong_type, _unknown_event_type,
    _unknown_region, _absurd_value, _shifted_time(timedelta(days=3650)), _ancient_time,
    _unknown_field,
)  # fmt: skip


def malformed_line(event: Event, rng: random.Random) -> bytes:
    """A broken copy of an event under its own id (so it never shadows the real one)."""
    d = event_to_dict(event)
    d["event_id"] = f"{event.event_id}-bad"
    return rng.choice(MALFORMATIONS)(d, rng)
