"""The alert inbox on a real Redis: no alert group stalls the others, whether its update keeps
failing (a bug, an entry no code can handle) or another replica holds it (or died holding it)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.stores.alert_inbox import MAX_TRIES, AlertInbox
from profbot.audit import AuditLog
from profbot.keys import Keys
from profbot.redis_access import connect


class Poster:
    """Brings groups up to date as the alert threads would; group "broken" always fails as a bug would."""

    def __init__(self) -> None:
        self.synced: list[str] = []
        self.tries: dict[str, int] = {}

    async def sync(self, gid: str) -> object:
        self.tries[gid] = self.tries.get(gid, 0) + 1
        if gid == "broken":
            raise TypeError("can't compare offset-naive and offset-aware datetimes")
        self.synced.append(gid)
        return None

    def wake(self) -> None:
        pass

    async def parked_due(self) -> list[str]:
        return []


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = connect(redis_url)
    yield client
    await client.aclose()


async def until(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.05)


async def serving(redis: aioredis.Redis, prefix: str, poster: Poster) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    return stop, asyncio.create_task(AlertInbox(redis, prefix).serve(stop, poster))


async def test_a_group_whose_update_keeps_failing_is_dead_lettered_and_the_rest_go_on(
    redis: aioredis.Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    poster = Poster()
    await redis.xadd(keys.alert_inbox, {"group": "broken"})
    await redis.xadd(keys.alert_inbox, {"group": "fine"})
    stop, task = await serving(redis, prefix, poster)
    try:
        await until(lambda: "fine" in poster.synced)
        await until(lambda: poster.tries.get("broken", 0) >= MAX_TRIES, timeout=45)  # 1, 2, 4, 8 s apart
        await redis.xadd(keys.alert_inbox, {"group": "later"})  # what comes after still gets through
        await until(lambda: "later" in poster.synced)
    finally:
        stop.set()
        await task
    dead: Any = await redis.xrange(keys.alert_dead_letters)
    assert [fields["group"] for _, fields in dead] == ["broken"]
    assert "TypeError" in dead[0][1]["error"]
    assert poster.tries["broken"] == MAX_TRIES  # set aside, not tried for ever
    pending = await redis.xpending(keys.alert_inbox, "slack-posters")
    assert pending["pending"] == 0
    [event] = [e for e in await AuditLog(redis, prefix).latest(10) if e.kind.value == "dead_letter"]
    assert "not posted after 5 tries" in (event.outcome or "")  # what /prof audit shows operators


async def test_a_group_held_by_a_replica_that_died_does_not_hold_up_the_others(
    redis: aioredis.Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    poster = Poster()
    # A replica died holding group "held": its lock lapses on its own, a few seconds from now.
    await redis.set(keys.alert_group_lock("held"), "a-dead-replicas-token", px=12_000)
    await redis.xadd(keys.alert_inbox, {"group": "held"})
    stop, task = await serving(redis, prefix, poster)
    try:
        await asyncio.sleep(0.5)  # the poster has met the held group and left its entry pending
        for n in range(3):
            await redis.xadd(keys.alert_inbox, {"group": f"other-{n}"})
        await until(lambda: {"other-0", "other-1", "other-2"} <= set(poster.synced))
        assert await redis.exists(keys.alert_group_lock("held"))  # they did not wait for it to lapse
        assert "held" not in poster.synced
        await until(lambda: "held" in poster.synced, timeout=30)  # and once it lapsed, its update came
    finally:
        stop.set()
        await task
