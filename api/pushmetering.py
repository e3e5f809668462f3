"""Metering of push streams (SSE): one ledger record per window of a stream's messages.

A record is journaled, and durable, before the messages it counts are written, and a write
cancelled before it went out (the client left) is voided by a reversal of its units, so a
stream is billed for what it sent, whatever stops it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace

from api.metering import Delivery, ledger_delivery, record_delivery, record_reversal
from tollgate.contracts import LIST, Terms
from tollgate.usage import NO_TRAIL, Trail
from tollgate.usage import Delivery as LedgerDelivery

SSE_WINDOW_SECONDS = 1.0  # a push stream's messages make one ledger record per window


class SubscriptionMeter:
    """Meters one push stream in window records `<tenant>:sse:<stream>:<n>` (a new window
    every SSE_WINDOW_SECONDS). Before each write goes out, `before_send` journals the
    window's record with its units so far, and waits until that is durable: a kill -9 loses
    nothing sent, and a record rewritten as its window grows is still one record. A write
    cancelled before it went out (the client left) is voided by a reversal of its units.
    Each window records the trail `describe` awaits when the window opens (the watermark and
    quality status then)."""

    def __init__(
        self,
        tenant_id: str,
        product_id: str,
        route: str,
        request_id: str,
        terms: Terms = LIST,
        describe: Callable[[], Awaitable[Trail]] | None = None,
    ) -> None:
        self.tenant_id, self.product_id, self.route = tenant_id, product_id, route
        self.terms = terms
        self.describe = describe
        self.trail = NO_TRAIL
        self.stream_id = uuid.uuid4().hex  # not the client's X-Request-ID: see module doc
        self.request_id = request_id
        self.window = 0
        self.window_started = 0.0
        self.units = self.bytes = 0  # in the current window
        self.voids = 0

    def _window_id(self) -> str:
        return f"{self.tenant_id}:sse:{self.stream_id}:{self.window}"

    async def before_send(self, messages: int, nbytes: int) -> None:
        """Return once `messages` (of `nbytes`) about to be written are durably metered."""
        now = time.monotonic()
        if not self.window or now - self.window_started >= SSE_WINDOW_SECONDS:
            self.window, self.window_started = self.window + 1, now
            self.units = self.bytes = 0
            if self.describe is not None:
                self.trail = await self.describe()
        self.units += messages
        self.bytes += nbytes
        receipt = record_delivery(
            Delivery(
                tenant_id=self.tenant_id,
                product_id=self.product_id,
                units=self.units,
                bytes=self.bytes,
                route=self.route,
                request_id=self.request_id,
                fixed_id=self._window_id(),
                channel="push",
                terms=self.terms,
                trail=self.trail,
            )
        )
        if receipt is None:
            return
        try:
            await receipt.durable()
        except asyncio.CancelledError:  # the client left: this write will not be sent
            self._void(receipt.delivery, messages, nbytes)
            raise

    def _void(self, window: LedgerDelivery, messages: int, nbytes: int) -> None:
        # The unsent part, rated as the window was, then reversed under an id of its own.
        unsent = ledger_delivery(
            Delivery(
                tenant_id=self.tenant_id,
                product_id=self.product_id,
                units=messages,
                bytes=nbytes,
                route=self.route,
                request_id=self.request_id,
                fixed_id=window.delivery_id,
                channel="push",
                terms=self.terms,
                trail=self.trail,
            )
        )
        if unsent is None:
            return
        self.voids += 1
        reversal = replace(unsent, occurred_at=window.occurred_at).reversal()
        record_reversal(replace(reversal, delivery_id=f"{reversal.delivery_id}:{self.voids}"))
