"""The input event contract: valid events round-trip, and every bad input gets its reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tollgate.events.contract import (
    MAX_AMOUNT_CENTS,
    CardTransaction,
    InvalidEvent,
    PageView,
    Reason,
    event_to_dict,
    event_to_json,
    parse_event,
)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def page_view(**changes) -> dict:
    event = {
        "event_id": "ev-1",
        "event_type": "page_view",
        "customer_id": "cust-1",
        "region": "EU",
        "event_time": "2026-05-01T11:59:00Z",
        "session_id": "s-1",
        "device_id": "dev-1",
        "payload": {"category": "books", "product_sku": "book-0001"},
    }
    event.update(changes)
    return event


def card_transaction(**payload_changes) -> dict:
    payload = {
        "transaction_id": "tx-1",
        "amount_cents": 1999,
        "currency": "USD",
        "merchant_id": "m-1",
        "merchant_category": "books",
        "card_id": "card-1",
        "card_region": "EU",
        "ip_region": "EU",
        "channel": "web",
    }
    payload.update(payload_changes)
    return page_view(event_type="card_transaction", payload=payload)


def reason_of(raw: bytes | str, now: datetime | None = NOW) -> Reason:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(raw, now=now)
    return caught.value.reason


def dumps(d: object) -> bytes:
    return json.dumps(d).encode()


def test_valid_events_round_trip_through_the_wire_form():
    view = parse_event(dumps(page_view()), now=NOW)
    assert isinstance(view, PageView) and view.event_time == NOW - timedelta(minutes=1)
    assert parse_event(event_to_json(view), now=NOW) == view
    labelled = card_transaction()
    labelled["labels"] = {"is_fraud": True, "pattern": "burst"}
    tx = parse_event(dumps(labelled), now=NOW)
    assert isinstance(tx, CardTransaction) and tx.labels.is_fraud
    assert event_to_dict(tx)["labels"] == {"is_fraud": True, "pattern": "burst"}


def test_event_time_offsets_are_normalised_to_utc():
    event = parse_event(dumps(page_view(event_time="2026-05-01T13:59:00+02:00")), now=NOW)
    assert event.event_time == NOW - timedelta(minutes=1)
    assert event.event_time.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"event_id": "ev-1", "event_type": ', Reason.BAD_JSON),
        (b"\xff\xfe not utf-8", Reason.BAD_JSON),
        (dumps([page_view()]), Reason.NOT_AN_OBJECT),
        (b"42", Reason.NOT_AN_OBJECT),
        (dumps({k: v for k, v in page_view().items() if k != "customer_id"}), Reason.MISSING_FIELD),
        (dumps({k: v for k, v in page_view().items() if k != "event_type"}), Reason.MISSING_FIELD),
        (dumps(page_view(payload={"category": "books"})), Reason.MISSING_FIELD),
        (dumps(page_view(customer_id=17)), Reason.WRONG_TYPE),
        (dumps(page_view(event_time="yesterday")), Reason.WRONG_TYPE),
        (dumps(page_view(event_time="2026-05-01T11:59:00")), Reason.WRONG_TYPE),  # no zone
        (dumps(card_transaction(amount_cents="19.99")), Reason.WRONG_TYPE),
        (dumps(page_view(event_type="refund")), Reason.UNKNOWN_EVENT_TYPE),
        (dumps(page_view(region="Mars")), Reason.UNKNOWN_REGION),
        (dumps(card_transaction(ip_region="eu-west-1")), Reason.UNKNOWN_REGION),
        (dumps(card_transaction(amount_cents=-5)), Reason.ABSURD_VALUE),
        (dumps(card_transaction(amount_cents=MAX_AMOUNT_CENTS + 1)), Reason.ABSURD_VALUE),
        (dumps(page_view(event_time="2026-05-01T12:30:00Z")), Reason.FUTURE_EVENT_TIME),
        (dumps(page_view(event_time="1999-12-31T23:59:59Z")), Reason.ANCIENT_EVENT_TIME),
        # Offsets that push a time past either end of the calendar once in UTC.
        (dumps(page_view(event_time="9999-12-31T23:59:59-05:00")), Reason.FUTURE_EVENT_TIME),
        (dumps(page_view(event_time="0001-01-01T00:00:00+05:00")), Reason.ANCIENT_EVENT_TIME),
        (dumps(page_view(debug=True)), Reason.UNKNOWN_FIELD),
        (dumps(card_transaction(cvv="123")), Reason.UNKNOWN_FIELD),
    ],
)
def test_each_bad_input_is_rejected_with_its_reason(raw: bytes, reason: Reason):
    assert reason_of(raw) is reason


def test_every_reason_code_is_reachable():
    reached = {
        reason_of(raw)
        for raw in (
            b"{",
            b"[]",
            dumps(page_view(session_id=None)),
            dumps({k: v for k, v in page_view().items() if k != "device_id"}),
            dumps(page_view(event_type="click")),
            dumps(page_view(region="LATAM")),
            dumps(card_transaction(amount_cents=10**12)),
            dumps(page_view(event_time="2027-01-01T00:00:00Z")),
            dumps(page_view(event_time="1970-01-01T00:00:00Z")),
            dumps(page_view(extra=1)),
        )
    }
    assert reached == set(Reason)


def test_clock_skew_is_tolerated_and_no_clock_means_no_future_check():
    slightly_ahead = dumps(page_view(event_time="2026-05-01T12:04:00Z"))
    assert parse_event(slightly_ahead, now=NOW).event_id == "ev-1"
    far_ahead = dumps(page_view(event_time="2036-05-01T12:00:00Z"))
    assert parse_event(far_ahead).event_id == "ev-1"
    assert reason_of(far_ahead) is Reason.FUTURE_EVENT_TIME


def test_the_error_names_its_reason():
    with pytest.raises(InvalidEvent, match=r"^unknown_region: .*region: 'Mars' is not a region"):
        parse_event(dumps(page_view(region="Mars")))
