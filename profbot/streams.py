"""A consumer in a Redis stream's consumer group: the one reader of streams in profbot (the job
bus on each runner, the audit mirror, the alert poster).

Entries are acknowledged only once handled. Reading comes in three kinds, which the two ways of
serving below combine:

- this consumer's own unacknowledged entries (``read_pending``): a batch that failed, or what a
  runner had taken before it restarted under the same consumer name;
- entries another consumer (a stopped replica) left idle for a minute (``take_over``);
- new entries (``read_new``).

:meth:`GroupConsumer.serve` hands batches to one handler at a time, each batch being, in order,
own pending, taken over, new: what a failed handler did not acknowledge comes back first, in order,
after a backoff (:mod:`profbot.retry`). The runner reads its own pending once at start and then
only new entries, as its jobs run concurrently (runner/worker.py).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from profbot import retry
from profbot.errors import DeliveryError, RedisUnavailable
from profbot.redis_access import REDIS_DOWN

Entries = list[tuple[str, dict[str, Any]]]
IDLE_TAKEOVER_MS = 60_000
MAX_BACKOFF_SECONDS = 30.0
# Redis or a front end away: expected, retried quietly. Anything else is a bug, logged with its trace.
EXPECTED_OUTAGES: tuple[type[BaseException], ...] = (*REDIS_DOWN, TimeoutError, RedisUnavailable, DeliveryError)


def default_consumer_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _entries(raw: Any) -> Entries:
    """XREADGROUP's answer (RESP2 list or RESP3 dict) as (entry id, fields) pairs. An entry trimmed
    from the stream while pending comes back with no fields: kept, so the caller can acknowledge it."""
    if not raw:
        return []
    streams = raw.values() if isinstance(raw, dict) else (entries for _name, entries in raw)
    return [(str(entry_id), dict(fields or {})) for entries in streams for entry_id, fields in entries]


class GroupConsumer:
    def __init__(
        self,
        redis: aioredis.Redis,
        stream: str,
        group: str,
        *,
        start_id: str,
        count: int,
        consumer: str | None = None,
        new_with_pending: bool = False,
    ) -> None:
        """``start_id``: where a new group starts reading ("0": all there is, "$": from now on).
        ``consumer``: this reader's name in the group (default host:pid). ``new_with_pending``:
        a batch holds new entries besides pending ones, so entries left pending (their alert
        group held by another replica) never keep the new ones waiting."""
        self.redis = redis
        self.stream = stream
        self.group = group
        self.start_id = start_id
        self.count = count
        self.consumer = consumer or default_consumer_name()
        self.new_with_pending = new_with_pending

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, self.group, id=self.start_id, mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read_pending(self, count: int | None = None) -> Entries:
        return await self._read("0", count or self.count)

    async def read_new(self, count: int | None = None, block_ms: int | None = 1000) -> Entries:
        """New entries, waiting up to ``block_ms``; a stream or group deleted meanwhile is made again."""
        try:
            return await self._read(">", count or self.count, block_ms)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.ensure_group()
            return []

    async def take_over(self) -> Entries:
        raw: Any = await self.redis.xautoclaim(
            self.stream, self.group, self.consumer, min_idle_time=IDLE_TAKEOVER_MS, start_id="0-0", count=self.count
        )
        return [(entry_id, fields) for entry_id, fields in raw[1] if fields]

    async def next_batch(self) -> Entries:
        """Own pending entries with fields, else ones taken over, else new ones (with
        ``new_with_pending``: new ones after the others, read without waiting when there are any)."""
        pending = await self.read_pending()
        await self.ack(*(entry_id for entry_id, fields in pending if not fields))  # trimmed meanwhile
        pending = [entry for entry in pending if entry[1]]
        if not self.new_with_pending:
            return pending or await self.take_over() or [entry for entry in await self.read_new() if entry[1]]
        earlier = pending or await self.take_over()
        new = await self.read_new(block_ms=None if earlier else 1000)
        return earlier + [entry for entry in new if entry[1]]

    async def ack(self, *entry_ids: str) -> None:
        if entry_ids:
            await self.redis.xack(self.stream, self.group, *entry_ids)

    async def _read(self, start: str, count: int, block_ms: int | None = None) -> Entries:
        raw: Any = await self.redis.xreadgroup(
            self.group, self.consumer, {self.stream: start}, count=count, block=block_ms
        )
        return _entries(raw)

    async def serve(self, stop: asyncio.Event, handle: Callable[[Entries], Awaitable[None]], name: str) -> None:
        """Hand batches to ``handle`` until ``stop``. After any failure (Redis or the front end
        away: expected; anything else: a bug, logged with its trace) wait (1 s, doubling to 30 s,
        with jitter) and go on: what ``handle`` did not acknowledge comes back first."""

        ready = False

        async def one_batch() -> None:
            nonlocal ready
            try:
                if not ready:
                    await self.ensure_group()
                    ready = True
                await handle(await self.next_batch())
            except Exception:
                ready = False  # a restarted Redis may have lost the group
                raise

        while not stop.is_set():
            await retry.unless_stopped(
                one_batch, on=(Exception,), what=name, stop=stop, initial=1.0, cap=MAX_BACKOFF_SECONDS,
                expected=EXPECTED_OUTAGES,
            )  # fmt: skip
