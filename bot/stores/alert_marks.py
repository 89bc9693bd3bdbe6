"""What people did in an alert group's thread, in Redis (keys: profbot/keys.py): the silence made
from it and who took it on. One small JSON value per group, beside the ledger's own keys, kept as
long as a resolved group is (the ledger's retention)."""

from __future__ import annotations

import redis.asyncio as aioredis

from bot.usecases.silence_model import AlertMarks
from profbot.keys import Keys
from profbot.redis_access import redis_errors


class RedisAlertMarks:
    def __init__(self, redis: aioredis.Redis, prefix: str, retention_seconds: int) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self.retention = retention_seconds

    async def marks(self, gid: str) -> AlertMarks | None:
        with redis_errors():
            raw = await self.redis.get(self.keys.alert_marks(gid))
        return AlertMarks.model_validate_json(raw) if raw else None

    async def put(self, gid: str, marks: AlertMarks) -> None:
        with redis_errors():
            await self.redis.set(self.keys.alert_marks(gid), marks.model_dump_json(), ex=self.retention)
