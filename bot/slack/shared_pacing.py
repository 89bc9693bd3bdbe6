"""Slack's per-channel pace kept in Redis, so every ``profbot serve`` replica together writes to a
channel at most ``PROFBOT_SLACK_CHANNEL_RATE`` times a second, whatever their number.

Each write takes the channel's next slot in one Lua script, on Redis's clock (the replicas' own
clocks need not agree): the slot is the later of now, the channel's next free slot and the end of
a 429's pause; the script moves the next free slot one interval on and answers how long to wait.
A 429 that Slack gives any replica pauses the channel for its ``Retry-After`` for all of them
(:meth:`SharedChannelPacer.slowed`, called by :class:`SharedRateLimitHandler`).

Redis unavailable: the replica paces on its own (:class:`~bot.slack.pacing.ChannelPacer`), so a
Redis outage slows nothing down beyond what one replica would do, and is logged once."""

from __future__ import annotations

import asyncio
import contextvars

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.slack.pacing import ChannelPacer
from profbot.keys import Keys

log = structlog.get_logger("profbot.slack_pacing")

# KEYS: the channel's next-slot key, its pause key. ARGV: the interval in ms, the keys' TTL in ms.
# Answers the ms to wait before this write.
_TAKE_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local at = math.max(now, tonumber(redis.call('GET', KEYS[1]) or now))
local paused = tonumber(redis.call('GET', KEYS[2]) or 0)
if paused > at then at = paused end
redis.call('SET', KEYS[1], at + tonumber(ARGV[1]), 'PX', at - now + tonumber(ARGV[2]))
return at - now
"""

# KEYS: the pause key. ARGV: the pause in ms. Only ever lengthens a pause.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
if until_ms > tonumber(redis.call('GET', KEYS[1]) or 0) then
  redis.call('SET', KEYS[1], until_ms, 'PX', tonumber(ARGV[1]) + 1000)
end
return until_ms
"""

_KEY_TTL_MS = 60_000  # a channel idle this long forgets its pace

# The channel the current task's paced write goes to: slack_sdk hands a retry handler no JSON
# body (chat.postMessage's ``channel`` is in it), so the pacer notes the channel when the write
# takes its slot, and the 429 handler, running in the same task, reads it.
_writing_to: contextvars.ContextVar[str | None] = contextvars.ContextVar("profbot_slack_writing_to", default=None)


class SharedChannelPacer(ChannelPacer):
    """The deployment's pace per channel, in Redis; this replica's own when Redis fails."""

    def __init__(self, redis: aioredis.Redis, prefix: str, rate: float) -> None:
        super().__init__(rate)
        self.keys = Keys(prefix)
        self._interval_ms = max(1, round(1000 / rate))
        self._take = redis.register_script(_TAKE_SLOT)
        self._pause = redis.register_script(_PAUSE)
        self._redis_failed = False

    async def wait(self, channel: str) -> None:
        _writing_to.set(channel)
        try:
            waited = await self._take(
                keys=[self.keys.slack_pace(channel), self.keys.slack_paused(channel)],
                args=[self._interval_ms, _KEY_TTL_MS],
            )
        except RedisError as exc:
            if not self._redis_failed:
                log.warning("slack_pacing_local", reason=f"Redis: {exc}")
                self._redis_failed = True
            await super().wait(channel)
            return
        if self._redis_failed:
            log.info("slack_pacing_shared")
            self._redis_failed = False
        if int(waited) > 0:
            await asyncio.sleep(int(waited) / 1000)

    async def slowed(self, channel: str, seconds: float) -> None:
        """Slack said 429 on ``channel``: every replica holds its writes there for ``seconds``."""
        try:
            await self._pause(keys=[self.keys.slack_paused(channel)], args=[max(1, round(seconds * 1000))])
        except RedisError as exc:
            log.warning("slack_pause_not_shared", channel=channel, reason=f"Redis: {exc}")


def _retry_after(response: HttpResponse) -> float:
    for name, values in response.headers.items():
        if name.lower() == "retry-after":
            try:
                return max(1.0, float(values[0]))
            except (IndexError, TypeError, ValueError):
                break
    return 1.0


class SharedRateLimitHandler(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler (it waits out ``Retry-After`` and retries), which first tells the
    other replicas: the channel the call wrote to is paused for them as well."""

    def __init__(self, pacer: SharedChannelPacer, max_retry_count: int = 3) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.pacer = pacer

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        channel = _writing_to.get()
        if response is not None and channel is not None:
            await self.pacer.slowed(channel, _retry_after(response))
        await super().prepare_for_next_attempt_async(state=state, request=request, response=response, error=error)
