"""The change feed on real Redis: another process hears every request id announced, its own
announcements it ignores, a stranger's garbage on the channel changes nothing, and a Redis that
comes back (clients killed) is subscribed to again."""

from __future__ import annotations

import asyncio
import json

import redis.asyncio as aioredis

from bot.stores.change_feed import RedisChangeFeed
from profbot.keys import Keys
from profbot.redis_access import connect


async def test_announcements_reach_other_processes_and_survive_a_lost_connection(redis_url: str, prefix: str) -> None:
    listener = f"{prefix}-listener"  # named, so the test kills its own connection and no one else's
    here, there = connect(redis_url), aioredis.Redis.from_url(redis_url, client_name=listener, decode_responses=True)
    moved_here, moved_there = RedisChangeFeed(here, prefix), RedisChangeFeed(there, prefix)
    heard: asyncio.Queue[str] = asyncio.Queue()

    async def on_change(request_id: str) -> None:
        await heard.put(request_id)

    stop = asyncio.Event()
    listening = asyncio.create_task(moved_there.serve(stop, on_change))
    try:

        async def announced_until_heard(request_id: str) -> str:
            # Pub/sub keeps nothing for a subscriber not yet subscribed: announce until heard.
            for _ in range(100):
                await moved_here.announce(request_id)
                try:
                    return await asyncio.wait_for(heard.get(), 0.1)
                except TimeoutError:
                    continue
            raise AssertionError(f"{request_id} never heard")

        assert await announced_until_heard("a" * 32) == "a" * 32
        await moved_there.announce("b" * 32)  # its own: already shown where it was moved
        await here.publish(Keys(prefix).changes_feed, "; rm -rf /")  # not ours: ignored
        await here.publish(Keys(prefix).changes_feed, json.dumps({"id": 7}))
        await moved_here.announce("c" * 32)
        assert await asyncio.wait_for(heard.get(), 5) == "c" * 32

        # Redis drops the listener's connection: it subscribes again and goes on hearing.
        [subscribed] = [c for c in await here.client_list(_type="pubsub") if c["name"] == listener]
        await here.client_kill_filter(_id=subscribed["id"])
        while not heard.empty():
            heard.get_nowait()
        assert await announced_until_heard("d" * 32) == "d" * 32
        assert heard.empty()
    finally:
        stop.set()
        await asyncio.wait_for(listening, 5)
        await here.aclose()
        await there.aclose()
