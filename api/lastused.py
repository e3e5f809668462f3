"""Records when each API key was last used, off the request path.

Requests only note the time in memory; a background task writes the newest time per key
in one batch every few seconds (and once more on shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from sqlalchemy import Engine, or_, update

from tollgate.db.models import ApiKey

log = logging.getLogger("tollgate.api.lastused")
FLUSH_SECONDS = 5.0


class LastUsedRecorder:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._pending: dict[str, datetime] = {}

    def note(self, key_id: str, at: datetime) -> None:
        self._pending[key_id] = at

    def flush(self) -> int:
        """Write the pending times; returns how many keys were updated.

        A failed write keeps its times for the next flush (a time noted since is newer and
        wins). A time never moves a key's last use back: other API processes write it too.
        """
        pending, self._pending = self._pending, {}
        if not pending:
            return 0
        try:
            with self.engine.begin() as conn:
                for key_id, at in pending.items():
                    conn.execute(
                        update(ApiKey)
                        .where(ApiKey.key_id == key_id)
                        .where(or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < at))
                        .values(last_used_at=at)
                    )
        except Exception:
            for key_id, at in pending.items():
                self._pending.setdefault(key_id, at)
            raise
        return len(pending)

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(FLUSH_SECONDS)
                try:
                    await asyncio.to_thread(self.flush)
                except Exception:  # a database hiccup must not stop recording for good
                    log.exception("recording API keys' last use failed; retrying")
        finally:
            with contextlib.suppress(Exception):
                self.flush()
