"""The batch fast path agrees with `parse_event` on every line: verdict, reason and values."""

from __future__ import annotations

import gc
import json
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from streamkit import T0, payment, purchase, view

from tollgate.events import event_to_dict, event_to_json, parse_event
from tollgate.events.fast import parse_batch
from tollgate.events.generator import GeneratorConfig, SyntheticSource

NOW = datetime(2026, 11, 21, tzinfo=UTC)


def _reference(raw: object, now: datetime | None):
    try:
        return parse_event(raw, now), None  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - compared, whatever it is
        return None, exc


def _assert_agrees(raws: list, now: datetime | None = NOW) -> tuple[int, int]:
    got = parse_batch(raws, now)
    assert [r for r, _, _ in got] == raws
    accepted = 0
    for raw, event, error in got:
        expected, expected_error = _reference(raw, now)
        if expected_error is None:
            assert error is None, raw
            # Re-read through the contract: the fast event says exactly what the line said.
            if isinstance(event, msgspec.Struct):
                assert parse_event(msgspec.json.encode(event)) == expected, raw
            else:
                assert event == expected, raw
            assert event.event_type == expected.event_type
            accepted += 1
        else:
            assert event is None, raw
            assert type(error) is type(expected_error), raw
            assert str(error) == str(expected_error), raw
            assert getattr(error, "reason", None) == getattr(expected_error, "reason", None)
    return accepted, len(raws) - accepted


def test_agrees_on_the_generators_lines_good_and_malformed():
    config = GeneratorConfig(seed=11, malformed_rate=0.2, duplicate_rate=0.02, fraud_rate=0.05)
    raws = list(SyntheticSource(config).raw(T0, count=6000))
    accepted, rejected = _assert_agrees(raws)
    assert accepted > 5000 and rejected > 1000
    fast = [e for _, e, _ in parse_batch(raws, NOW) if isinstance(e, msgspec.Struct)]
    assert len(fast) == accepted  # what sources write never needs the slow path
    reasons = {e.reason for _, _, e in parse_batch(raws, NOW) if e is not None}
    assert len(reasons) >= 9  # every kind of malformation the generator makes was seen


def test_agrees_without_a_processing_clock():
    raws = list(SyntheticSource(GeneratorConfig(seed=12, malformed_rate=0.2)).raw(T0, count=500))
    _assert_agrees(raws, now=None)


def _edit(event, **changes) -> bytes:
    d = event_to_dict(event)
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = d
        for p in parents:
            target = target[p]
        if value is _DROP:
            del target[leaf]
        else:
            target[leaf] = value
    return json.dumps(d, ensure_ascii=False).encode()


_DROP = object()
_TIMES = (
    "2026-11-20T12:00:00.1234567Z",  # past microseconds: truncated, not rounded
    "2026-11-20T12:00:00.999999999Z",
    "2026-11-20t12:00:00z",
    "2026-11-20 12:00:00Z",
    "2026-11-20T13:00:00+01:00",
    "2026-11-20T12:00:00+0000",
    "2026-11-20T12:00Z",
    "2026-11-20T12:00:00,5Z",
    "2026-11-20T12:00:00",
    "2026-11-20",
    "2026-02-29T00:00:00Z",
    "1999-12-31T23:59:59Z",
    "2026-11-21T00:04:59Z",
    "2026-11-21T00:05:01Z",
    "2026-11-20T12:00:00Z\n",
    "9999-12-31T23:59:59-05:00",  # past the calendar's end once in UTC
    "0001-01-01T00:00:00+05:00",  # before its start
)


@pytest.mark.parametrize("at", ["2026-11-20T12:00:00.1234567Z", "2026-11-2\\u0030T12:00:00Z"])
def test_an_unusual_line_among_plain_ones_is_still_looked_at_closely(at):
    # The batch is searched for escapes and long fractions as a whole first: one such line
    # among many plain ones must still take the careful path, and the plain ones not.
    plain = list(SyntheticSource(GeneratorConfig(seed=13)).raw(T0, count=200))
    unusual = _edit(view(at=T0), event_time=at).replace(b"\\\\", b"\\")
    assert (b"\\" in unusual) or (b".1234567" in unusual)
    raws = [*plain[:100], unusual, *plain[100:]]
    accepted, _ = _assert_agrees(raws)
    assert accepted == len(raws)
    got = parse_batch(raws, NOW)
    assert not isinstance(got[100][1], msgspec.Struct)  # the contract's own parser read it
    assert all(isinstance(e, msgspec.Struct) for i, (_, e, _) in enumerate(got) if i != 100)


@pytest.mark.parametrize("at", _TIMES)
def test_agrees_on_event_time_forms(at):
    _assert_agrees([_edit(view(at=T0), event_time=at), _edit(payment(at=T0), event_time=at)])


@pytest.mark.parametrize(
    "changes",
    [
        {"customer_id": ""},
        {"customer_id": "c" * 128},
        {"customer_id": "c" * 129},
        {"customer_id": "é" * 128},
        {"customer_id": "é" * 129},
        {"customer_id": "😀" * 128},
        {"event_id": "e" * 64},
        {"event_id": "e" * 65},
        {"customer_id": True},
        {"customer_id": None},
        {"customer_id": _DROP},
        {"region": "eu"},
        {"event_type": 3},
        {"event_type": _DROP},
        {"payload__amount_cents": 1.0},
        {"payload__amount_cents": True},
        {"payload__amount_cents": "100"},
        {"payload__amount_cents": -0},
        {"payload__amount_cents": 100_000_000},
        {"payload__amount_cents": 100_000_001},
        {"payload__amount_cents": 10**30},
        {"payload__currency": "usd"},
        {"payload__currency": "USD\n"},
        {"payload__currency": "USDX"},
        {"payload__channel": "atm"},
        {"payload__ip_region": "Mars"},
        {"payload__extra": 1},
        {"labels": None},
        {"labels": {"is_fraud": True}},
        {"labels": {"is_fraud": 1}},
        {"labels": {"is_fraud": False, "pattern": "other"}},
        {"labels": {"is_fraud": False, "extra": 1}},
        {"debug": "x"},
    ],
)
def test_agrees_on_edited_fields(changes):
    _assert_agrees([_edit(payment(at=T0), **changes)])


def test_agrees_on_lines_that_are_not_events():
    good = event_to_json(purchase(at=T0))
    raws = [
        b"",
        b"null",
        b"[]",
        b"{}",
        b"\xff\xfe",
        good + b" ",
        b" " + good,
        good + b"x",
        good.replace(b"purchase", b"purch\\u0061se"),
        good.replace(b'"category"', b'"category":"x","category"'),  # a repeated key
        good.decode(),  # text, not bytes
        12,
        None,
    ]
    _assert_agrees(raws)


def test_fast_events_carry_utc_times():
    raw = _edit(view(at=T0), event_time="2026-11-20T14:00:00+02:00")
    ((_, event, _),) = parse_batch([raw], NOW)
    assert event.event_time == T0 and event.event_time.utcoffset() == timedelta(0)


def test_rejected_lines_leave_no_reference_cycles_behind():
    # A rejected line's error must not reach back (by its traceback) to the batch's results:
    # that cycle kept every batch with a bad line in memory until a garbage collection.
    # Only the batch's own objects are watched: a thread another test left running may
    # leave garbage of its own meanwhile.
    raws = [*(event_to_json(view()) for _ in range(3)), b"{not json", b'{"event_type":"refund"}']
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        got = parse_batch(raws, NOW)
        assert [error is not None for _, _, error in got] == [False] * 3 + [True] * 2
        errors = [error for _, _, error in got if error is not None]
        watched = {id(got): list, **{id(e): type(e) for e in errors}}
        del got, errors
        gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection finds unreachable stays to look at
        gc.collect()
        held = [type(o) for o in gc.garbage if watched.get(id(o)) is type(o)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()
    assert held == []
