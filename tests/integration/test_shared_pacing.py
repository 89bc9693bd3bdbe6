"""Slack's per-channel pace shared through real Redis by several serve replicas (each its own
Redis connection and pacer, as separate processes have): together they write to a channel at the
configured rate, and a 429 that one of them gets holds the channel for all of them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.pacing import ChannelPacer
from bot.slack.shared_pacing import SharedChannelPacer, SharedRateLimitHandler
from profbot.redis_access import connect
from tests.rig.slack_standin import SlackStandIn

RATE = 10.0  # writes a second per channel
WRITES = 8  # per replica


def busiest_second(times: list[float]) -> int:
    """The most writes released within any one second."""
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t - start < 1.0) for i, start in enumerate(times))


async def released(pacers: list[ChannelPacer], channel: str) -> list[float]:
    times: list[float] = []

    async def write(pacer: ChannelPacer) -> None:
        await pacer.wait(channel)
        times.append(time.monotonic())

    await asyncio.gather(*(write(p) for p in pacers for _ in range(WRITES)))
    return times


async def test_three_replicas_together_keep_the_channels_rate(redis_url: str, prefix: str) -> None:
    clients = [connect(redis_url) for _ in range(3)]
    try:
        shared: list[ChannelPacer] = [SharedChannelPacer(c, prefix, RATE) for c in clients]
        times = await released(shared, "C0STORM")
        assert busiest_second(times) <= RATE + 1, sorted(round(t - min(times), 2) for t in times)
        # What each replica pacing alone did: three times the rate (the behaviour this replaces).
        alone = await released([ChannelPacer(RATE) for _ in range(3)], "C0STORM")
        assert busiest_second(alone) > 2 * RATE
    finally:
        for c in clients:
            await c.aclose()


async def test_a_429_on_one_replica_holds_the_channel_for_every_replica(redis_url: str, prefix: str) -> None:
    a_client, b_client = connect(redis_url), connect(redis_url)
    try:
        a, b = SharedChannelPacer(a_client, prefix, RATE), SharedChannelPacer(b_client, prefix, RATE)
        await a.slowed("C0HOT", 1.5)  # Slack told replica a: Retry-After 1.5 s
        started = time.monotonic()
        await b.wait("C0HOT")
        assert time.monotonic() - started >= 1.4
        started = time.monotonic()
        await b.wait("C0COLD")  # another channel is not held
        assert time.monotonic() - started < 0.5
    finally:
        await a_client.aclose()
        await b_client.aclose()


async def test_with_redis_gone_a_replica_paces_on_its_own_and_still_writes(prefix: str) -> None:
    client = connect("redis://127.0.0.1:1/0")  # nothing listens there
    try:
        pacer = SharedChannelPacer(client, prefix, RATE)
        started = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*(pacer.wait("C0X") for _ in range(3))), 10)
        assert time.monotonic() - started >= 2 / RATE - 0.05  # still paced, by this replica alone
    finally:
        await client.aclose()


async def test_slacks_429_to_one_replicas_client_pauses_the_others(redis_url: str, prefix: str) -> None:
    slack = SlackStandIn(channels={"C0HOT"}).start()
    a_client, b_client = connect(redis_url), connect(redis_url)
    try:
        a, b = SharedChannelPacer(a_client, prefix, RATE), SharedChannelPacer(b_client, prefix, RATE)
        slack.rate_limit_next("chat.postMessage", retry_after=2)
        async with aiohttp.ClientSession() as session:
            web = AsyncWebClient(token=slack.token, base_url=slack.api_url, session=session,
                                 retry_handlers=[SharedRateLimitHandler(a)])  # fmt: skip

            async def paced_post() -> Any:  # as SlackPeople writes: its slot first, then the call
                await a.wait("C0HOT")
                return await web.chat_postMessage(channel="C0HOT", text="storm")

            posting = asyncio.create_task(paced_post())
            while not slack.calls_to("chat.postMessage"):  # the 429 came back to replica a
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            started = time.monotonic()
            await b.wait("C0HOT")
            assert time.monotonic() - started >= 1.5  # replica b held for the Retry-After too
            assert (await posting)["ok"]  # and a's own post went once the pause was over
    finally:
        await a_client.aclose()
        await b_client.aclose()
        slack.close()
