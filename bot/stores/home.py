"""What the homes read that nothing else keeps, in Redis (keys: profbot/keys.py): Pyroscope's last
known health per host, and who opened their home lately. Both bounded: one entry per host, kept a
month after the last check; viewers for a week, the most recent ``VIEWERS_KEPT`` of them."""

from __future__ import annotations

import redis.asyncio as aioredis
import structlog
from pydantic import ValidationError

from bot.usecases.home import VIEWERS_SECONDS
from bot.usecases.home_model import HealthSeen
from profbot.keys import Keys
from profbot.redis_access import redis_errors

log = structlog.get_logger("profbot.home")

HEALTH_TTL_SECONDS = 30 * 24 * 3600
VIEWERS_KEPT = 1000


class RedisHealthRecords:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.key = Keys(prefix).health_last

    async def record(self, seen: HealthSeen) -> None:
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(self.key, seen.host, seen.model_dump_json())
                pipe.expire(self.key, HEALTH_TTL_SECONDS)
                await pipe.execute()

    async def latest(self) -> dict[str, HealthSeen]:
        with redis_errors():
            raw = await self.redis.hgetall(self.key)
        seen: dict[str, HealthSeen] = {}
        for host, doc in raw.items():
            try:
                record = HealthSeen.model_validate_json(doc)
            except ValidationError:  # written by another version of profbot: not checked, as far as we know
                log.warning("health_record_unreadable", host=str(host)[:100])
                continue
            seen[record.host] = record
        return seen


class RedisHomeViewers:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.key = Keys(prefix).home_viewers

    async def opened(self, user: str, at: float) -> None:
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zadd(self.key, {user: at})
                pipe.zremrangebyscore(self.key, "-inf", at - VIEWERS_SECONDS)
                pipe.zremrangebyrank(self.key, 0, -(VIEWERS_KEPT + 1))
                pipe.expire(self.key, int(VIEWERS_SECONDS))
                await pipe.execute()

    async def recent(self, since: float) -> set[str]:
        with redis_errors():
            users = await self.redis.zrangebyscore(self.key, since, "+inf")
        return {u.decode() if isinstance(u, bytes) else str(u) for u in users}
