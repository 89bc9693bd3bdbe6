"""The audit trail: every request, decision, execution and result, appended to a Redis stream.

Redis is the record; Slack is a mirror. :class:`AuditMirror` copies the stream to
``PROFBOT_AUDIT_CHANNEL`` through a consumer group and acknowledges an entry only once Slack took
it, so while Slack is down entries wait in order and nothing is lost.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis.asyncio as aioredis
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.stream_consumer import Entries, GroupConsumer
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


class AuditMirror:
    """Copies the audit stream to a Slack channel, in order, retrying while Slack is down."""

    def __init__(self, audit: AuditLog, client: AsyncWebClient, channel: str) -> None:
        self.client = client
        self.channel = channel
        # "$": a new mirror starts with what happens from now on, not years of history.
        self.entries = GroupConsumer(audit.redis, audit.stream, MIRROR_GROUP, start_id="$", count=20)

    async def run(self, stop: asyncio.Event) -> None:
        await self.entries.serve(stop, self._mirror, "audit_mirror")

    async def _mirror(self, entries: Entries) -> None:
        for entry_id, fields in entries:
            await self._post(fields)
            await self.entries.ack(entry_id)

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
