"""Per-tenant hourly budgets and failed-login throttling with `limits`' sliding window counter.

The sliding window counter keeps two counters per tenant and window (this hour's and the
last hour's, weighted by how much of it still overlaps the last 60 minutes), so memory does
not grow with a tenant's traffic, as a moving window's one entry per request did. With
`TOLLGATE_REDIS_URL` the counters live in Redis and every API process draws on one budget;
without it they live in this process and its log (`api.ratestore`), so a restart, kill -9
included, refills nothing. A refused request does not consume budget.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from limits import RateLimitItemPerHour, RateLimitItemPerMinute
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from api.ratestore import DurableMemoryStorage
from tollgate.catalog import Catalog

# Failed authentications one client address may make per minute before it gets 429s.
FAILED_LOGINS_PER_MINUTE = 20
_SUSPECT_SECONDS = 60.0
_MAX_SUSPECTS = 100_000


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        """IETF RateLimit-* fields (draft-ietf-httpapi-ratelimit-headers)."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }


def make_storage(redis_url: str | None, state_dir: Path | None) -> Storage:
    if redis_url:
        return storage_from_string(redis_url)
    return DurableMemoryStorage(state_dir) if state_dir is not None else MemoryStorage()


class TenantRateLimits:
    def __init__(self, catalog: Catalog, storage: Storage):
        self.storage = storage
        self.in_memory = isinstance(storage, MemoryStorage)
        self._one_pass = isinstance(storage, DurableMemoryStorage)
        self.limiter = SlidingWindowCounterRateLimiter(storage)
        self.items = {
            name: RateLimitItemPerHour(tier.rate_limit_per_hour, namespace="tollgate")
            for name, tier in catalog.tiers.items()
        }

    def hit(self, tenant_id: str, tier: str) -> RateDecision:
        """Spend one request of the tenant's budget if any is left."""
        item = self.items[tier]
        if self._one_pass:  # the embedded counters: one read of the window, not two
            allowed, remaining, reset_at = self.storage.acquire_sliding_window_stats(
                item.key_for(tenant_id), item.amount, item.get_expiry()
            )
        else:
            allowed = self.limiter.hit(item, tenant_id)
            stats = self.limiter.get_window_stats(item, tenant_id)
            remaining, reset_at = stats.remaining, stats.reset_time
        reset = max(0, math.ceil(reset_at - time.time()))
        return RateDecision(allowed, item.amount, max(0, remaining), reset)

    def close(self) -> None:
        if isinstance(self.storage, DurableMemoryStorage):
            self.storage.close()


class FailedLogins:
    """Throttles repeated failed authentications per client address (429 + Retry-After).

    Only an address this process saw fail recently is checked against the shared counter,
    so a good request costs no Redis round trip; a guesser spread over replicas gets at
    most one more try per replica before the shared count stops it."""

    def __init__(self, storage: Storage, per_minute: int = FAILED_LOGINS_PER_MINUTE):
        self.limiter = SlidingWindowCounterRateLimiter(storage)
        self.item = RateLimitItemPerMinute(per_minute, namespace="tollgate-auth")
        self._suspects: dict[str, float] = {}

    def retry_after(self, address: str) -> int | None:
        """Seconds to wait when `address` has failed too often, else None."""
        seen = self._suspects.get(address)
        if seen is None or seen < time.monotonic() - _SUSPECT_SECONDS:
            return None
        if self.limiter.test(self.item, address):
            return None
        stats = self.limiter.get_window_stats(self.item, address)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def failed(self, address: str) -> None:
        if len(self._suspects) >= _MAX_SUSPECTS:
            cutoff = time.monotonic() - _SUSPECT_SECONDS
            self._suspects = {a: t for a, t in self._suspects.items() if t >= cutoff}
        self._suspects[address] = time.monotonic()
        self.limiter.hit(self.item, address)
