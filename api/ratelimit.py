"""Per-tenant hourly budgets with the `limits` library (moving window).

In memory by default; in Redis when `TOLLGATE_REDIS_URL` is set, so every API process
draws on one budget per tenant. A refused request does not consume budget: the moving
window's `hit` only records an entry when it is under the limit.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItemPerHour
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from tollgate.catalog import Catalog


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


class TenantRateLimits:
    def __init__(self, catalog: Catalog, redis_url: str | None):
        uri = redis_url if redis_url else "memory://"
        self.in_memory = not redis_url
        self.storage = storage_from_string(uri)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.items = {
            name: RateLimitItemPerHour(tier.rate_limit_per_hour, namespace="tollgate")
            for name, tier in catalog.tiers.items()
        }

    def hit(self, tenant_id: str, tier: str) -> RateDecision:
        """Spend one request of the tenant's budget if any is left."""
        item = self.items[tier]
        allowed = self.limiter.hit(item, tenant_id)
        stats = self.limiter.get_window_stats(item, tenant_id)
        reset = max(0, math.ceil(stats.reset_time - time.time()))
        return RateDecision(allowed, item.amount, max(0, stats.remaining), reset)
