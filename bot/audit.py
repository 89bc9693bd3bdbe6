"""The audit trail: every request, decision, execution and result, appended to a Redis stream.

Redis is the record; Slack is a mirror. :class:`AuditMirror` copies the stream to
``PROFBOT_AUDIT_CHANNEL`` through a consumer group and acknowledges an entry only once Slack took
it, so while Slack is down entries wait in order and nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError, ResponseError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from profbot.approvals import ChangeRequest
from profbot.bus import redis_errors

log = structlog.get_logger("profbot.audit")

AUDIT_MAXLEN = 100_000
MIRROR_GROUP = "slack-mirror"
# Slack errors that no retry can fix: the entry is kept in Redis and the mirror moves on.
PERMANENT_SLACK_ERRORS = {"channel_not_found", "not_in_channel", "is_archived", "invalid_blocks", "msg_too_long"}


class AuditLog:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.stream = f"{prefix}:audit"

    async def append(
        self,
        event: str,
        *,
        actor: str | None,
        request: ChangeRequest | None = None,
        outcome: str | None = None,
        **fields: str | None,
    ) -> str:
        entry: dict[Any, Any] = {"event": event, "at": f"{time.time():.3f}", "actor": actor or ""}
        if request is not None:
            entry.update(
                request_id=request.id,
                procedure=request.procedure,
                action=request.action,
                target=request.target,
                host=request.host,
                channel=request.channel,
                thread_ts=request.thread_ts or request.message_ts or "",
                kind=request.kind.value,
            )
        entry.update({k: v for k, v in fields.items() if v is not None})
        if outcome is not None:
            entry["outcome"] = outcome[:2000]
        with redis_errors():
            entry_id = await self.redis.xadd(self.stream, entry, maxlen=AUDIT_MAXLEN, approximate=True)
        log.info("audit", audit_event=event, actor=actor, request=request.id if request else None)
        return str(entry_id)

    async def latest(self, count: int) -> list[dict[str, Any]]:
        with redis_errors():
            raw: Any = await self.redis.xrevrange(self.stream, count=count)
        return [dict(fields) for _, fields in raw]

    async def events_for(self, request_id: str) -> list[dict[str, Any]]:
        with redis_errors():
            raw: Any = await self.redis.xrange(self.stream)
        return [dict(f) for _, f in raw if f.get("request_id") == request_id]


class AuditMirror:
    """Copies the audit stream to a Slack channel, in order, retrying while Slack is down."""

    def __init__(self, audit: AuditLog, client: AsyncWebClient, channel: str) -> None:
        self.audit = audit
        self.client = client
        self.channel = channel
        self.consumer = f"{socket.gethostname()}:{os.getpid()}"

    async def run(self, stop: asyncio.Event) -> None:
        redis = self.audit.redis
        while not stop.is_set():
            try:
                await self._ensure_group(redis)
                break
            except (RedisError, OSError) as exc:
                log.warning("audit_mirror_redis", error=str(exc))
                await _sleep_or_stop(stop, 2)
        backoff = 1.0
        while not stop.is_set():
            try:
                # Our own unacknowledged entries first (a post that failed), then new ones.
                entries = (
                    await self._read(redis, "0")
                    or await self._take_over(redis)
                    or await self._read(redis, ">", block_ms=1000)
                )
                for entry_id, fields in entries:
                    await self._post(fields)
                    await redis.xack(self.audit.stream, MIRROR_GROUP, entry_id)
                backoff = 1.0
            except (RedisError, OSError, SlackApiError, TimeoutError) as exc:
                # Slack or Redis down: the entry stays pending and is posted when it is back.
                log.warning("audit_mirror_retry", error=str(exc)[:300], in_seconds=backoff)
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 30.0)
            except Exception:
                log.exception("audit_mirror_crashed")
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 30.0)

    async def _ensure_group(self, redis: aioredis.Redis) -> None:
        try:
            # "$": the mirror starts with what happens from now on, not years of history.
            await redis.xgroup_create(self.audit.stream, MIRROR_GROUP, id="$", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read(self, redis: aioredis.Redis, start: str, block_ms: int | None = None) -> list[tuple[str, Any]]:
        raw: Any = await redis.xreadgroup(
            MIRROR_GROUP, self.consumer, {self.audit.stream: start}, count=20, block=block_ms
        )
        return [(entry_id, fields) for _, entries in raw or [] for entry_id, fields in entries if fields]

    async def _take_over(self, redis: aioredis.Redis) -> list[tuple[str, Any]]:
        """Entries a stopped bot (another pid, another replica) left unposted for a minute."""
        raw: Any = await redis.xautoclaim(
            self.audit.stream, MIRROR_GROUP, self.consumer, min_idle_time=60_000, start_id="0-0", count=20
        )
        return [(entry_id, fields) for entry_id, fields in raw[1] if fields]

    async def _post(self, fields: dict[str, Any]) -> None:
        try:
            await self.client.chat_postMessage(
                channel=self.channel, **messages.audit_mirror_message(fields).as_kwargs()
            )
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            if error in PERMANENT_SLACK_ERRORS:
                log.error("audit_mirror_refused", error=error, channel=self.channel)
                return
            raise


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
