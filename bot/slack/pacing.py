"""Pacing writes per channel, as Slack wants them."""

from __future__ import annotations

import asyncio
import time


class ChannelPacer:
    """At most ``rate`` Slack writes per second per channel (chat.postMessage allows about one per
    second per channel, slack-platform.md); callers wait their turn instead of collecting 429s."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def wait(self, channel: str) -> None:
        async with self._lock:
            now = time.monotonic()
            at = max(now, self._next.get(channel, now))
            self._next[channel] = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)
