"""Change requests moved, told to the front ends of other processes (Redis pub/sub; key in
profbot/keys.py).

A request filed in a terminal may be approved in Slack, or a Slack request run by another replica:
the process that moved it shows it where it can, and announces its id here; every other process
shows it where *it* can (its own terminal lines, its Slack messages). Only the id travels; the
request itself is read from the approval store, so a late or repeated announcement shows the
request as it stands. Pub/sub forgets what nobody heard: a front end down meanwhile shows the
request as stored the next time it is asked (`request ID`, the message's own buttons).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
import structlog

from profbot import retry
from profbot.errors import ProfbotError
from profbot.keys import Keys
from profbot.redis_access import REDIS_DOWN, redis_errors

log = structlog.get_logger("profbot.changes")

OnChange = Callable[[str], Awaitable[None]]


class RedisChangeFeed:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.channel = Keys(prefix).changes_feed
        self.origin = uuid.uuid4().hex  # this process: it already showed what it moved itself

    async def announce(self, request_id: str) -> None:
        with redis_errors():
            await self.redis.publish(self.channel, json.dumps({"id": request_id, "origin": self.origin}))

    async def serve(self, stop: asyncio.Event, on_change: OnChange) -> None:
        """Hand other processes' announcements to ``on_change`` until ``stop``; after Redis went
        away, subscribe again (1 s, doubling to 30 s)."""
        while not stop.is_set():
            await retry.unless_stopped(
                lambda: self._listen(stop, on_change), on=REDIS_DOWN, what="change_feed", stop=stop,
                initial=1.0, cap=30.0,
            )  # fmt: skip

    async def _listen(self, stop: asyncio.Event, on_change: OnChange) -> None:
        async with self.redis.pubsub(ignore_subscribe_messages=True) as subscription:
            await subscription.subscribe(self.channel)
            while not stop.is_set():
                message = await subscription.get_message(timeout=0.5)
                if message is None:
                    continue
                request_id = self._other_process(message.get("data"))
                if request_id is None:
                    continue
                try:
                    await on_change(request_id)
                except ProfbotError as exc:  # the front end or Redis away: this one update is lost
                    log.warning("change_not_shown", request=request_id, error=str(exc))
                except Exception:  # a bug shows in the log; the feed goes on for the next request
                    log.exception("change_not_shown", request=request_id)

    def _other_process(self, data: object) -> str | None:
        try:
            announced = json.loads(data) if isinstance(data, (bytes, str)) else None
        except ValueError:
            announced = None
        if not isinstance(announced, dict) or not isinstance(announced.get("id"), str):
            log.warning("change_announcement_unreadable")
            return None
        if announced.get("origin") == self.origin:
            return None
        return str(announced["id"])[:64]
