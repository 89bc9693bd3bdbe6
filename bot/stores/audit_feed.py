"""What feeds the audit mirror: the audit stream, read through a consumer group. An entry is
acknowledged only once the mirror took it, so nothing is lost while the front end is down."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
import structlog
from pydantic import ValidationError

from profbot.audit import AuditEvent
from profbot.keys import Keys
from profbot.streams import Entries, GroupConsumer

log = structlog.get_logger("profbot.audit")

MIRROR_GROUP = "slack-mirror"


class AuditFeed:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        # "$": a new mirror starts with what happens from now on, not years of history.
        self.entries = GroupConsumer(redis, Keys(prefix).audit, MIRROR_GROUP, start_id="$", count=20)

    async def serve(self, stop: asyncio.Event, mirror: Callable[[AuditEvent], Awaitable[None]]) -> None:
        async def handle(batch: Entries) -> None:
            for entry_id, fields in batch:
                try:
                    event = AuditEvent.from_fields(fields)
                except ValidationError:
                    log.warning("audit_entry_unreadable", entry_id=entry_id)
                else:
                    await mirror(event)
                await self.entries.ack(entry_id)

        await self.entries.serve(stop, handle, "audit_mirror")
