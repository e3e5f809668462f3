"""Response cache with the tier's TTL, in memory or in Redis.

The key includes everything that shapes an answer for a tenant: the tier (trial delay and
sampling), the residency scope (allowed regions), the product, the route and the canonical
query. Two tenants share an entry only when they would receive the same rows.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict

_MAX_ENTRIES = 10_000


def cache_key(
    tier: str, scope: frozenset[str] | None, product_id: str, route: str, query: dict
) -> str:
    parts = {
        "tier": tier,
        "scope": sorted(scope) if scope is not None else "*",
        "product": product_id,
        "route": route,
        "query": query,
    }
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return f"tollgate:cache:{digest}"


class MemoryCache:
    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry[1]

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        if ttl_seconds <= 0:
            return
        self._entries[key] = (time.monotonic() + ttl_seconds, value)
        self._entries.move_to_end(key)
        while len(self._entries) > _MAX_ENTRIES:
            self._entries.popitem(last=False)


class RedisCache:
    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url)

    def get(self, key: str) -> bytes | None:
        return self._client.get(key)

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        if ttl_seconds > 0:
            self._client.setex(key, ttl_seconds, value)


def make_cache(redis_url: str | None) -> MemoryCache | RedisCache:
    return RedisCache(redis_url) if redis_url else MemoryCache()
