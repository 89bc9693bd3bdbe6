"""Pacing writes per channel, as Slack wants them; and background work in turns, behind the acks."""

from __future__ import annotations

import asyncio
import time
from collections import deque


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


class Turns:
    """Background work in turns, one per pass of the event loop, so acknowledgements are never
    queued behind a burst of it.

    asyncio runs, in each pass, every callback that was ready when the pass began. When a health
    check that many people waited for ends, every one of them would render and post in the same
    pass, and a slash command that arrived meanwhile would wait for all of it (Slack's 3 s, and
    the ack latency's p99). Taking a turn before that work lets one go per pass: requests that
    arrived are read and answered between two turns."""

    def __init__(self) -> None:
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._pumping = False

    async def take(self) -> None:
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[None] = loop.create_future()
        self._waiting.append(turn)
        if not self._pumping:
            self._pumping = True
            loop.call_soon(self._next_turn, loop)
        await turn

    def _next_turn(self, loop: asyncio.AbstractEventLoop) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():  # a waiter cancelled meanwhile gives its turn away
                turn.set_result(None)
                break
        if self._waiting:
            loop.call_soon(self._next_turn, loop)
        else:
            self._pumping = False
