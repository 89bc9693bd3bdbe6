"""What feeds the alert threads: the ledger's inbox stream, read through a consumer group that
any number of bot replicas share, one replica per alert group at a time (a redis-py Lock).

Entries are grouped by alert group, so a storm of notifications for one group is one update; an
entry is acknowledged only after its group's thread is up to date, or the group was parked because
the channel refuses the bot (its state stays in the ledger; the poster brings parked groups up to
date once the channel takes the bot: bot/usecases/alerts.py). When the front end is down the
poster waits and carries on from the oldest unacknowledged entry, in order (profbot/streams.py). A
group another replica holds is left pending and comes back.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import redis.asyncio as aioredis
import structlog
from redis.exceptions import LockError

from profbot.keys import Keys
from profbot.streams import Entries, GroupConsumer

log = structlog.get_logger("profbot.alerts")

POSTER_GROUP = "slack-posters"
LOCK_SECONDS = 600.0  # longer than any group's sync, pacer waits and front-end retries included
LOCK_WAIT_SECONDS = 5.0


class Poster(Protocol):
    """What brings the alert threads up to date (bot/usecases/alerts.py ``AlertThreads``)."""

    async def sync(self, gid: str) -> object: ...

    def wake(self) -> None: ...

    async def parked_due(self) -> list[str]: ...


class AlertInbox:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self.entries = GroupConsumer(redis, self.keys.alert_inbox, POSTER_GROUP, start_id="0", count=500)

    async def serve(self, stop: asyncio.Event, poster: Poster) -> None:
        async def handle(batch: Entries) -> None:
            order: dict[str, list[str]] = {}
            for entry_id, fields in batch:
                order.setdefault(str(fields["group"]), []).append(entry_id)
            if order:
                poster.wake()  # something new: a channel that refused the bot is tried again, once
            for gid, entry_ids in order.items():
                if await self._synced(gid, poster):
                    await self.entries.ack(*entry_ids)
            for gid in await poster.parked_due():
                await self._synced(gid, poster)

        await self.entries.serve(stop, handle, "alert_post")

    async def _synced(self, gid: str, poster: Poster) -> bool:
        """Bring ``gid`` up to date under its lock; False when another replica is on it (our
        entries stay pending and come back)."""
        # A Lock object per group and batch, so its token is this task's alone.
        lock = self.redis.lock(
            self.keys.alert_group_lock(gid), timeout=LOCK_SECONDS, blocking_timeout=LOCK_WAIT_SECONDS,
            thread_local=False,
        )  # fmt: skip
        if not await lock.acquire():
            return False
        try:
            await poster.sync(gid)
        finally:
            try:
                await lock.release()
            except LockError:  # it expired and another took it: nothing of ours to release
                log.warning("alert_lock_lost", group=gid)
        return True
