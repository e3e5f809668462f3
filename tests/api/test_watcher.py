"""The push watcher: one poll fans each new row out to every matching subscriber."""

from __future__ import annotations

import asyncio
import json

from apiworld import risk_row

from api import watcher as watcher_module
from api.livedata import LiveReader
from api.watcher import LiveWatcher


def test_fan_out_by_region_in_order_and_drop_of_subscribers_that_fall_behind(world, monkeypatch):
    monkeypatch.setattr(watcher_module, "QUEUE_SIZE", 3)
    watcher = LiveWatcher(LiveReader(world.live, world.store), world.catalog)
    dropped: list[str] = []
    watcher.on_drop = dropped.append
    world.live_rows("transaction-risk", [risk_row(0, "EU")])  # before anyone listens

    async def scenario():
        everyone = watcher.subscribe("transaction-risk", None)
        eu_only = watcher.subscribe("transaction-risk", frozenset({"EU"}))
        product = world.catalog.product("transaction-risk")
        await watcher.start_position(product)
        world.live_rows("transaction-risk", [risk_row(1, "EU"), risk_row(2, "APAC")])
        assert await watcher.poll_once() == 2
        assert await watcher.poll_once() == 0  # nothing new: nothing sent twice
        got_all = [
            json.loads(everyone.queue.get_nowait().frame.split(b"data: ")[1])["transaction_id"]
            for _ in range(everyone.queue.qsize())
        ]
        got_eu = [eu_only.queue.get_nowait().region for _ in range(eu_only.queue.qsize())]
        # Now neither reads: five more rows overflow both queues of 3.
        world.live_rows("transaction-risk", [risk_row(i, "EU") for i in range(3, 8)])
        await watcher.poll_once()
        return got_all, got_eu, everyone, eu_only

    got_all, got_eu, everyone, eu_only = asyncio.run(scenario())
    assert got_all == ["tx-00001", "tx-00002"]
    assert got_eu == ["EU"]
    assert everyone.dropped and dropped == ["transaction-risk", "transaction-risk"]
    assert watcher.subscriber_count("transaction-risk") == 0
