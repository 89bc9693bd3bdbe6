"""A consumer in a Redis stream's consumer group, as profbot's Slack posters use it (the audit
mirror, the alert poster): entries are acknowledged only once handled, and a failure is retried,
oldest entry first, until it goes through.

Each batch is, in this order: this consumer's own unacknowledged entries (a batch that failed),
entries a stopped consumer (another pid, another replica) left idle for a minute, new entries.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError, ResponseError
from slack_sdk.errors import SlackApiError

from bot.tasks import sleep_or_stop

log = structlog.get_logger("profbot.streams")

Entries = list[tuple[str, dict[str, Any]]]
IDLE_TAKEOVER_MS = 60_000
MAX_BACKOFF_SECONDS = 30.0
# Slack or Redis away: expected, retried quietly. Anything else is a bug, logged with its trace.
EXPECTED_ERRORS = (RedisError, OSError, SlackApiError, TimeoutError)


class GroupConsumer:
    def __init__(self, redis: aioredis.Redis, stream: str, group: str, *, start_id: str, count: int) -> None:
        """``start_id``: where a new group starts reading ("0": all there is, "$": from now on)."""
        self.redis = redis
        self.stream = stream
        self.group = group
        self.start_id = start_id
        self.count = count
        self.consumer = f"{socket.gethostname()}:{os.getpid()}"

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, self.group, id=self.start_id, mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def next_batch(self) -> Entries:
        return await self._read("0") or await self._take_over() or await self._read(">", block_ms=1000)

    async def ack(self, *entry_ids: str) -> None:
        await self.redis.xack(self.stream, self.group, *entry_ids)

    async def _read(self, start: str, block_ms: int | None = None) -> Entries:
        raw: Any = await self.redis.xreadgroup(
            self.group, self.consumer, {self.stream: start}, count=self.count, block=block_ms
        )
        return [(entry_id, fields) for _, entries in raw or [] for entry_id, fields in entries if fields]

    async def _take_over(self) -> Entries:
        raw: Any = await self.redis.xautoclaim(
            self.stream, self.group, self.consumer, min_idle_time=IDLE_TAKEOVER_MS, start_id="0-0", count=self.count
        )
        return [(entry_id, fields) for entry_id, fields in raw[1] if fields]

    async def serve(self, stop: asyncio.Event, handle: Callable[[Entries], Awaitable[None]], name: str) -> None:
        """Hand batches to ``handle`` until ``stop``; after a failure wait (1 s, doubling to 30 s)
        and go on: what ``handle`` did not acknowledge comes back first, in order."""
        backoff = 1.0
        ready = False
        while not stop.is_set():
            try:
                if not ready:
                    await self.ensure_group()
                    ready = True
                await handle(await self.next_batch())
                backoff = 1.0
            except Exception as exc:
                ready = False  # a restarted Redis may have lost the group
                if isinstance(exc, EXPECTED_ERRORS):
                    log.warning(f"{name}_retry", error=f"{type(exc).__name__}: {exc}"[:300], in_seconds=backoff)
                else:
                    log.exception(f"{name}_crashed", in_seconds=backoff)
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
