"""What feeds the audit mirror: the audit stream, read through a consumer group. An entry is
acknowledged only once the mirror took it, so nothing is lost while the front end is down; while
the channel refuses the bot the mirror holds, its entries pending, in order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
import structlog
from pydantic import ValidationError

from profbot.aio import sleep_or_stop
from profbot.audit import AuditEvent
from profbot.keys import Keys
from profbot.streams import Entries, GroupConsumer

log = structlog.get_logger("profbot.audit")

MIRROR_GROUP = "slack-mirror"


class AuditFeed:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        # "$": a new mirror starts with what happens from now on, not years of history.
        self.entries = GroupConsumer(redis, Keys(prefix).audit, MIRROR_GROUP, start_id="$", count=20)

    async def serve(self, stop: asyncio.Event, mirror: Callable[[AuditEvent], Awaitable[float]]) -> None:
        """``mirror``: 0 once it took an event, else the seconds to hold before it is tried again."""

        async def handle(batch: Entries) -> None:
            for entry_id, fields in batch:
                try:
                    event = AuditEvent.from_fields(fields)
                except ValidationError:
                    log.warning("audit_entry_unreadable", entry_id=entry_id)
                else:
                    hold = await mirror(event)
                    if hold > 0:  # it and those after it stay pending, and come back first, in order
                        await sleep_or_stop(stop, hold)
                        return
                await self.entries.ack(entry_id)

        await self.entries.serve(stop, handle, "audit_mirror")
