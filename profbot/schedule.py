"""Scheduled work that runs once per deployment, however many ``profbot serve`` replicas there
are: each piece holds a lease in Redis (``P:schedule:NAME``, the holder's name, with a TTL) and
only its holder runs it. The holder renews the lease every round; a holder that dies stops
renewing, and within ``ttl`` another replica takes the lease and the work goes on there.

A round that fails is logged and the next one comes; Redis unavailable, nobody holds the lease
and the work waits for Redis, as everything it does needs Redis anyway."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from profbot.aio import sleep_or_stop
from profbot.keys import Keys
from profbot.streams import default_consumer_name

log = structlog.get_logger("profbot.schedule")

# KEYS: the lease. ARGV: this holder, the TTL in ms. 1 when this holder holds it (taken or renewed).
_HOLD = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class ScheduleLease:
    def __init__(self, redis: aioredis.Redis, prefix: str, name: str, ttl: float, holder: str | None = None) -> None:
        self.key = Keys(prefix).schedule_lease(name)
        self.name = name
        self.ttl_ms = max(1000, round(ttl * 1000))
        self.holder = holder or default_consumer_name()
        self._hold = redis.register_script(_HOLD)
        self._release = redis.register_script(_RELEASE)
        self.held = False

    async def hold(self) -> bool:
        """Take or renew the lease; whether this replica holds it now."""
        held = bool(await self._hold(keys=[self.key], args=[self.holder, self.ttl_ms]))
        if held != self.held:
            log.info("schedule_lease_taken" if held else "schedule_lease_elsewhere", work=self.name, holder=self.holder)
        self.held = held
        return held

    async def release(self) -> None:
        await self._release(keys=[self.key], args=[self.holder])
        self.held = False


async def run_scheduled(
    lease: ScheduleLease, stop: asyncio.Event, work: Callable[[], Awaitable[object]], every: float
) -> None:
    """``work`` every ``every`` seconds on the replica holding ``lease``, until ``stop``; the lease
    is released on the way out, so a replica stopped on purpose hands it over at once."""
    try:
        while not stop.is_set():
            try:
                if await lease.hold():
                    await work()
            except RedisError as exc:
                log.warning("scheduled_redis_unavailable", work=lease.name, error=str(exc)[:300])
            except Exception as exc:  # scheduled work must outlive any one failure
                log.warning("scheduled_failed", work=lease.name, error=str(exc)[:300])
            await sleep_or_stop(stop, every)
    finally:
        if lease.held:
            with contextlib.suppress(RedisError, asyncio.CancelledError):  # else it lapses within its TTL
                await asyncio.shield(lease.release())
