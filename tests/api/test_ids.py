"""Per-request identifiers: delivery ids sort by the time they were made."""

from __future__ import annotations

import re
import time

from api.ids import new_id, new_ordered_id
from api.metering import Delivery


def test_ordered_ids_are_32_hex_digits_sorting_by_time_and_never_repeat():
    ids = []
    for _ in range(5):
        ids += [new_ordered_id() for _ in range(1000)]
        time.sleep(0.002)
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    # Ids of different milliseconds are in the order they were made.
    stamps = [i[:12] for i in ids]
    assert stamps == sorted(stamps) and len(set(stamps)) >= 5
    now_ms = time.time_ns() // 1_000_000
    assert 0 <= now_ms - int(ids[-1][:12], 16) < 5_000


def test_a_delivery_id_is_ordered_and_a_request_id_is_random():
    first = Delivery("acme", "transaction-risk", 1, 10, "/v1/x", "r1").delivery_id
    time.sleep(0.002)
    second = Delivery("acme", "transaction-risk", 1, 10, "/v1/x", "r2").delivery_id
    assert first.startswith("acme:req:") and first < second
    assert len({new_id()[:12] for _ in range(100)}) > 90  # no time prefix shared
