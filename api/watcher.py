"""Push: one watcher per process tails the live store and fans changes out to subscribers.

The watcher polls each subscribed product's change feed (rows ordered by processed_at,
key) every `interval` seconds, serialises each new row once, and puts it on every
matching subscriber's queue. Clients never poll; a subscriber that falls `QUEUE_SIZE`
events behind is closed (it can resume with Last-Event-ID).

The feed assumes writers stamp processed_at at commit time, in order: a row committed
later with an earlier processed_at than one already sent would be skipped by live push
(it is still served by the lookup and recent routes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sse_starlette import ServerSentEvent

from api.cursor import encode_cursor
from api.livedata import LiveReader, Position, order_column, to_json_row
from tollgate.catalog import Catalog, Product
from tollgate.schema_versions import VersionShape

log = logging.getLogger("tollgate.api.push")
QUEUE_SIZE = 10_000
_BATCH = 5_000


@dataclass(frozen=True)
class PushEvent:
    id: str
    position: Position
    region: str | None
    event_at: datetime
    frame: bytes  # the encoded SSE event, built once and sent to every subscriber
    # The same event in older schema versions some subscriber asked for, by version.
    older: Mapping[str, bytes] = field(default_factory=dict)

    def frame_for(self, sub: Subscriber) -> bytes:
        return self.older.get(sub.shape.name, self.frame) if sub.shape else self.frame


def _frame(row: dict, event_id: str) -> bytes:
    data = json.dumps(to_json_row(row), separators=(",", ":"))
    return ServerSentEvent(data=data, id=event_id, event="record").encode()


def push_event(product: Product, row: dict, shapes: Iterable[VersionShape] = ()) -> PushEvent:
    """The event of a stored row: its frame in the current schema version, and one in each
    older version of `shapes`."""
    position = (row[order_column(product)], row[product.key_column])
    event_id = encode_cursor({"pa": position[0].isoformat(), "k": position[1]})
    region = row.get(product.region_column) if product.region_column else None
    older = {s.name: _frame(s.project(row), event_id) for s in shapes if not s.identity}
    return PushEvent(
        event_id, position, region, row[product.time_column], _frame(row, event_id), older
    )


@dataclass(eq=False)
class Subscriber:
    product_id: str
    regions: frozenset[str] | None
    # The schema version the stream was opened for; None: the current one.
    shape: VersionShape | None = None
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    dropped: bool = False

    def wants(self, event: PushEvent) -> bool:
        return self.regions is None or event.region in self.regions


class LiveWatcher:
    def __init__(self, reader: LiveReader, catalog: Catalog, interval: float = 0.02):
        self.reader, self.catalog, self.interval = reader, catalog, interval
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._positions: dict[str, Position | None] = {}
        self.on_drop = lambda product_id: None

    def subscribe(
        self,
        product_id: str,
        regions: frozenset[str] | None,
        shape: VersionShape | None = None,
    ) -> Subscriber:
        sub = Subscriber(product_id, regions, shape)
        self._subscribers.setdefault(product_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        subs = self._subscribers.get(sub.product_id)
        if subs is not None:
            subs.discard(sub)

    async def start_position(self, product: Product) -> None:
        """Start tailing `product` from its newest row, if not tailing it already."""
        if product.id not in self._positions:
            position = await asyncio.to_thread(self.reader.latest_position, product)
            self._positions.setdefault(product.id, position)

    def subscriber_count(self, product_id: str) -> int:
        return len(self._subscribers.get(product_id, ()))

    async def poll_once(self) -> int:
        """Fetch and fan out each subscribed product's new rows; returns rows seen."""
        seen = 0
        for product_id, subs in list(self._subscribers.items()):
            if not subs:
                # Nobody listens: forget the position so a later subscriber starts from now.
                self._positions.pop(product_id, None)
                continue
            product = self.catalog.product(product_id)
            if product_id not in self._positions:
                self._positions[product_id] = await asyncio.to_thread(
                    self.reader.latest_position, product
                )
                continue
            rows = await asyncio.to_thread(
                self.reader.changes_after, product, self._positions[product_id], _BATCH
            )
            shapes = {s.shape.name: s.shape for s in subs if s.shape is not None}
            for row in rows:
                event = push_event(product, row, shapes.values())
                self._positions[product_id] = event.position
                self._fan_out(event, subs)
            seen += len(rows)
        return seen

    def _fan_out(self, event: PushEvent, subs: set[Subscriber]) -> None:
        for sub in list(subs):
            if not sub.wants(event):
                continue
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                sub.dropped = True
                subs.discard(sub)
                self.on_drop(sub.product_id)

    async def run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception:  # a store hiccup must not end push for the whole process
                log.exception("live watcher poll failed")
            await asyncio.sleep(self.interval)

    async def close(self, task: asyncio.Task) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
