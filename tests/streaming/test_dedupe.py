"""Dedupe ids: a batch admitted at once holds exactly what adding its ids one by one holds."""

from __future__ import annotations

import numpy as np

from streaming.dedupe import BUCKET_S, SeenIds, id_hashes

HOUR = 1_000 * BUCKET_S


def _one_by_one(seen: SeenIds, hashes: list[int], times: list[float]) -> list[bool]:
    new = []
    for h, at, old in zip(hashes, times, seen.sealed_hits(hashes), strict=True):
        new.append(not (old or h in seen.recent))
        if new[-1]:
            seen.add(h, at)
    return new


def _state(seen: SeenIds) -> tuple:
    return (seen.recent, seen.recent_by_bucket, seen.sealed.tolist(), seen.sealed_bucket.tolist())


def _pair() -> tuple[SeenIds, SeenIds]:
    a, b = SeenIds(24 * 3600.0), SeenIds(24 * 3600.0)
    for seen in (a, b):
        seen.add(id_hashes(["sealed"])[0], HOUR - 10)
        seen.add(id_hashes(["recent"])[0], HOUR + 10)
        seen.advance(HOUR + 5)  # "sealed" is sealed, "recent" is not
    return a, b


def test_an_all_new_batch_is_held_as_one_by_one_and_reported_as_such():
    a, b = _pair()
    hashes = id_hashes([f"e{i}" for i in range(50)])
    times = [HOUR + 20 + i for i in range(50)]
    assert a.admit(hashes, times) is None
    assert _one_by_one(b, hashes, times) == [True] * 50
    assert _state(a) == _state(b)


def test_duplicates_sealed_recent_and_within_the_batch_are_reported_in_order():
    a, b = _pair()
    ids = ["x", "sealed", "y", "recent", "x", "z"]
    times = [HOUR + 20, HOUR - 10, HOUR + 21, HOUR + 10, HOUR + 22, HOUR + 23]
    assert a.admit(id_hashes(ids), times) == [True, False, True, False, False, True]
    _one_by_one(b, id_hashes(ids), times)
    assert _state(a) == _state(b)


def test_a_batch_over_two_hours_is_filed_under_each_events_hour():
    a, b = _pair()
    hashes = id_hashes(["late", "early", "later"])
    times = [HOUR + BUCKET_S + 1, HOUR + 30, HOUR + 2 * BUCKET_S]
    assert a.admit(hashes, times) is None
    _one_by_one(b, hashes, times)
    assert _state(a) == _state(b)
    assert len(a.recent_by_bucket) == 3
    assert np.array_equal(a.sealed, b.sealed)
