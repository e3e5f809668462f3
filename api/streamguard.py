"""Open push streams stay under the checks every request passes.

A stream is authenticated once, when it opens; it may then run for hours. The guard
re-checks the standing of every open stream's credential and tenant every
`interval` seconds (one read per credential, not per stream, through the credential
store's short cache): a stream whose key or client was revoked, whose key expired or whose
tenant was suspended gets a `StreamClosed` on its queue, sends a last `closed` event saying
why, and ends; nothing after it is sent or billed. The checks read the shared metadata
database, so a revocation made anywhere reaches streams on every replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from api.auth import CredentialStore, Principal
from api.watcher import Subscriber

log = logging.getLogger("tollgate.api.push")


@dataclass(frozen=True)
class StreamClosed:
    """Put on a subscriber's queue: the stream must end, for this reason."""

    code: str
    message: str


class StreamGuard:
    def __init__(self, credentials: CredentialStore, interval: float = 1.0) -> None:
        self.credentials, self.interval = credentials, interval
        self._streams: dict[Subscriber, Principal] = {}

    def watch(self, sub: Subscriber, principal: Principal) -> None:
        self._streams[sub] = principal

    def forget(self, sub: Subscriber) -> None:
        self._streams.pop(sub, None)

    async def check_once(self) -> int:
        """Close the streams whose caller may no longer be served; returns how many."""
        if not self._streams:
            return 0
        callers = set(self._streams.values())
        refusals = await asyncio.to_thread(
            lambda: {p: self.credentials.standing(p) for p in callers}
        )
        closed = 0
        for sub, principal in list(self._streams.items()):
            refusal = refusals.get(principal)
            if refusal is None:
                continue
            self._streams.pop(sub, None)
            with contextlib.suppress(asyncio.QueueFull):  # a full queue is being dropped anyway
                sub.queue.put_nowait(StreamClosed(refusal.code, refusal.message))
            closed += 1
        return closed

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check_once()
            except Exception:  # a database hiccup: check again next round
                log.exception("checking open streams failed")
