"""Offered remediations in Redis: what a report's buttons stand for (keys: profbot/keys.py).

A button carries an offer's id, never the remediation itself: what comes back from a front end can
only select one of profbot's own offers. Offers expire after a week; an old button then says so.
"""

from __future__ import annotations

import uuid

import redis.asyncio as aioredis

from handlers.findings import Remediation
from profbot.keys import Keys
from profbot.redis_access import redis_errors

OFFER_TTL_SECONDS = 7 * 24 * 3600


class RedisOfferStore:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.keys = Keys(prefix)

    async def put(self, remedy: Remediation) -> str:
        offer_id = uuid.uuid4().hex
        with redis_errors():
            await self.redis.set(self.keys.offer(offer_id), remedy.model_dump_json(), ex=OFFER_TTL_SECONDS)
        return offer_id

    async def get(self, offer_id: str) -> Remediation | None:
        with redis_errors():
            raw = await self.redis.get(self.keys.offer(offer_id))
        return Remediation.model_validate_json(raw) if raw else None
