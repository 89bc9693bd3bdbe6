"""One clock for deadlines that cross machines: Redis's.

A job's deadline is set by the bot and checked by a runner on another host; with their clocks
apart (no NTP on a lab VM, a suspended laptop), every job could expire at once or never. Both
sides read time as their own clock plus its offset from Redis's (``TIME``, measured at the middle
of the round trip and refreshed every 30 s), so a deadline means the same instant on both.
"""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis
import structlog

from profbot.redis_access import REDIS_DOWN

log = structlog.get_logger("profbot.clock")

REFRESH_SECONDS = 30.0
SKEW_WARNING_SECONDS = 2.0


class RedisClock:
    def __init__(self, redis: aioredis.Redis, *, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self.redis = redis
        self.refresh_seconds = refresh_seconds
        self.offset = 0.0  # Redis's clock minus ours, in seconds
        self._synced_at: float | None = None  # monotonic
        self._lock = asyncio.Lock()

    async def now(self) -> float:
        """Epoch seconds on Redis's clock (ours plus the last offset measured, if Redis is away)."""
        if self._synced_at is None or time.monotonic() - self._synced_at > self.refresh_seconds:
            async with self._lock:
                if self._synced_at is None or time.monotonic() - self._synced_at > self.refresh_seconds:
                    await self._sync()
        return time.time() + self.offset

    async def _sync(self) -> None:
        try:
            before = time.time()
            seconds, micros = await self.redis.time()
            after = time.time()
        except REDIS_DOWN:
            return  # keep the last offset; the caller's Redis call will say Redis is away
        offset = seconds + micros / 1e6 - (before + after) / 2
        if abs(offset) > SKEW_WARNING_SECONDS and abs(offset - self.offset) > SKEW_WARNING_SECONDS:
            log.warning("clock_skew", seconds=round(offset, 3), hint="this host's clock is off from Redis's: run NTP")
        self.offset = offset
        self._synced_at = time.monotonic()
