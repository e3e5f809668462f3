"""Open push streams per tenant, held against the tier's connection limit.

In this process by default; with `TOLLGATE_REDIS_URL`, in Redis, so the limit holds across
every API replica. There each open stream is a member of the tenant's sorted set, scored by
when its lease lapses: the process holding it renews its leases every LEASE_SECONDS / 3,
so the streams of a replica that died stop counting within LEASE_SECONDS. Admission and
renewal run as Lua scripts on Redis' own clock: no race between replicas, no clock skew.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import redis

log = logging.getLogger("tollgate.api.push")
LEASE_SECONDS = 30
_PREFIX = "tollgate:sse:"

# KEYS[1]: the tenant's set; ARGV: lease seconds, member, limit. 1 if admitted.
_ADMIT = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1e6
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], t + tonumber(ARGV[1]), ARGV[2])
redis.call('EXPIRE', KEYS[1], math.ceil(2 * tonumber(ARGV[1])))
return 1
"""
# KEYS: the tenants' sets; ARGV[1]: lease seconds, then one member per key.
_RENEW = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1e6
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', t + tonumber(ARGV[1]), ARGV[i + 1])
  redis.call('EXPIRE', key, math.ceil(2 * tonumber(ARGV[1])))
end
return #KEYS
"""


class ConnectionBudget:
    def __init__(self, redis_url: str | None, lease_seconds: float = LEASE_SECONDS) -> None:
        self.lease_seconds = lease_seconds
        self._local: dict[str, int] = {}
        self._leases: dict[str, str] = {}  # lease -> tenant, of the streams open here
        self._redis = redis.Redis.from_url(redis_url) if redis_url else None
        if self._redis is not None:
            self._admit = self._redis.register_script(_ADMIT)
            self._renew = self._redis.register_script(_RENEW)

    @property
    def shared(self) -> bool:
        return self._redis is not None

    def acquire(self, tenant_id: str, limit: int) -> str | None:
        """A lease for one more open stream, or None when the tenant has `limit` open."""
        lease = uuid.uuid4().hex
        if self._redis is not None:
            if not self._admit(keys=[_PREFIX + tenant_id], args=[self.lease_seconds, lease, limit]):
                return None
        elif self._local.get(tenant_id, 0) >= limit:
            return None
        self._local[tenant_id] = self._local.get(tenant_id, 0) + 1
        self._leases[lease] = tenant_id
        return lease

    def release(self, lease: str) -> None:
        tenant_id = self._leases.pop(lease, None)
        if tenant_id is None:
            return
        left = self._local.get(tenant_id, 1) - 1
        if left:
            self._local[tenant_id] = left
        else:
            self._local.pop(tenant_id, None)  # memory stays with the tenants streaming now
        if self._redis is not None:
            self._redis.zrem(_PREFIX + tenant_id, lease)

    def open_here(self, tenant_id: str) -> int:
        return self._local.get(tenant_id, 0)

    def renew(self) -> int:
        """Renew the leases of this process's open streams; returns how many."""
        leases = list(self._leases.items())
        if self._redis is None or not leases:
            return 0
        keys = [_PREFIX + tenant for _, tenant in leases]
        return int(
            self._renew(keys=keys, args=[self.lease_seconds, *(lease for lease, _ in leases)])
        )

    async def run(self) -> None:
        while self._redis is not None:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                await asyncio.to_thread(self.renew)
            except redis.RedisError:
                log.exception("renewing push stream leases failed")

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
