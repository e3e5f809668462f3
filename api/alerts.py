"""Usage alerts off the request path: requests note their rate-limit use in memory; a
background task emits the thresholds reached, sends due webhooks, and now and then checks
monthly quotas, spend caps and schema deprecations (`tollgate.webhooks`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from sqlalchemy import Engine

from tollgate.catalog import Catalog
from tollgate.clock import utcnow
from tollgate.settings import Settings
from tollgate.webhooks.alerts import (
    check_monthly_usage,
    check_schema_deprecations,
    rate_limit_alerts,
    reached,
)
from tollgate.webhooks.sender import WebhookSender

log = logging.getLogger("tollgate.api.alerts")
TICK_SECONDS = 1.0
MONTHLY_CHECK_SECONDS = 30.0


class UsageAlerts:
    def __init__(self, engine: Engine, settings: Settings, catalog: Catalog):
        self.engine, self.catalog = engine, catalog
        self.sender = WebhookSender(engine, settings)
        # (tenant, threshold, hour) already handed on by this process, and those waiting.
        self._seen: set[tuple[str, int, str]] = set()
        self._pending: dict[tuple[str, int, str], tuple[str, int, int]] = {}
        self._last_monthly = 0.0

    def note_rate(self, tenant_id: str, tier: str, limit: int, remaining: int) -> None:
        """Called per request with its rate-limit decision: memory only."""
        used = limit - remaining
        if used * 100 < 80 * limit:
            return
        hour = f"{utcnow():%Y-%m-%dT%H}"
        for t in reached(used, limit):
            key = (tenant_id, t, hour)
            if key not in self._seen:
                self._seen.add(key)
                self._pending[key] = (tier, used, limit)

    def tick(self) -> None:
        """Emit what requests noted, send what is due, check the monthly budgets."""
        pending, self._pending = self._pending, {}
        now = utcnow()
        hour = f"{now:%Y-%m-%dT%H}"
        self._seen = {k for k in self._seen if k[2] == hour}  # an old hour's keys go
        for (tenant_id, _, _), (tier, used, limit) in sorted(pending.items()):
            rate_limit_alerts(self.engine, tenant_id, tier, used, limit, now)
        if time.monotonic() - self._last_monthly >= MONTHLY_CHECK_SECONDS:
            self._last_monthly = time.monotonic()
            check_monthly_usage(self.engine, self.catalog, now)
            check_schema_deprecations(self.engine, self.catalog, now)
        self.sender.run_due(now)

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(TICK_SECONDS)
                try:
                    await asyncio.to_thread(self.tick)
                except Exception:  # a database hiccup must not stop the alerts for good
                    log.exception("usage alerts failed; retrying")
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.tick)

    def close(self) -> None:
        self.sender.close()
