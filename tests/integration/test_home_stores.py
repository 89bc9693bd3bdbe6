"""What the App Home reads, in real Redis: each person's latest requests and the requests waiting
for a decision, Pyroscope's last known health per host, who opened their home; all bounded."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.stores.home import HEALTH_TTL_SECONDS, RedisHealthRecords, RedisHomeViewers
from bot.usecases.home import VIEWERS_SECONDS
from bot.usecases.home_model import HealthSeen
from handlers.findings import Severity
from profbot.approvals.model import ChangeRequest, PlannedStep, RequestState
from profbot.approvals.store import BY_USER_KEPT, REQUEST_TTL_SECONDS, ApprovalStore
from profbot.keys import Keys
from profbot.ops.contract import OpKind
from profbot.redis_access import connect


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    redis = connect(redis_url)
    yield redis
    await redis.aclose()


def request(n: int, by: str, state: RequestState = RequestState.AWAITING_CONFIRMATION) -> ChangeRequest:
    return ChangeRequest(
        procedure="INC-PROF-003", action="restart", kind=OpKind.CHANGE, label=f"Restart s{n}", host="h1",
        target=f"s{n}", impact="x", requested_by=by, channel="C1", state=state, created_at=time.time() + n,
        expires_at=time.time() + 900,
        steps=[PlannedStep(op="container.restart", params={"container": f"s{n}"}, kind=OpKind.CHANGE, text="restart")],
    )  # fmt: skip


async def test_a_person_s_latest_requests_are_kept_newest_first_and_bounded(
    client: aioredis.Redis, prefix: str
) -> None:
    store = ApprovalStore(client, prefix)
    for n in range(BY_USER_KEPT + 5):
        await store.create(request(n, "U1"))
    await store.create(request(100, "U2"))
    refused = request(101, "U1")
    refused.target = "s0"  # s0 is held by U1's first request: not filed, so not theirs to see
    await store.create(refused)
    [newest] = await store.requested_by("U1", 1)
    await store.transition(newest.id, RequestState.CANCELLED, {RequestState.AWAITING_CONFIRMATION})

    mine = await store.requested_by("U1", 100)
    assert [r.label for r in mine] == [f"Restart s{n}" for n in reversed(range(5, BY_USER_KEPT + 5))]
    assert 0 < await client.ttl(Keys(prefix).changes_by("U1")) <= REQUEST_TTL_SECONDS
    assert [r.label for r in await store.requested_by("U2")] == ["Restart s100"]
    waiting = await store.pending(100)
    assert len(waiting) == BY_USER_KEPT + 5 and all(r.state.pending for r in waiting)
    assert f"Restart s{BY_USER_KEPT + 4}" not in [r.label for r in waiting]  # cancelled: no longer waiting


async def test_the_last_health_per_host_is_kept_and_what_cannot_be_read_is_left_out(
    client: aioredis.Redis, prefix: str
) -> None:
    records = RedisHealthRecords(client, prefix)
    now = time.time()
    await records.record(HealthSeen(host="h1", verdict=Severity.OK, summary="fine", at=now - 60, procedure="HEALTH"))
    await records.record(HealthSeen(host="h1", verdict=Severity.CRITICAL, summary="down", at=now,
                                    procedure="INC-PROF-001"))  # fmt: skip
    await records.record(HealthSeen(host="h2", verdict=Severity.OK, summary="fine", at=now, procedure="HEALTH"))
    await client.hset(Keys(prefix).health_last, "h3", '{"written": "by another version"}')

    latest = await records.latest()

    assert sorted(latest) == ["h1", "h2"]
    assert (latest["h1"].verdict, latest["h1"].summary) == (Severity.CRITICAL, "down")
    assert 0 < await client.ttl(Keys(prefix).health_last) <= HEALTH_TTL_SECONDS


async def test_who_opened_their_home_is_remembered_for_a_week(client: aioredis.Redis, prefix: str) -> None:
    viewers = RedisHomeViewers(client, prefix)
    now = time.time()
    await viewers.opened("U0OLD", now - VIEWERS_SECONDS - 10)
    await viewers.opened("U0DAY", now - 86400)
    await viewers.opened("U0NOW", now)

    assert await viewers.recent(now - 3600) == {"U0NOW"}
    assert await viewers.recent(now - VIEWERS_SECONDS) == {"U0DAY", "U0NOW"}
    assert await client.zscore(Keys(prefix).home_viewers, "U0OLD") is None  # dropped, not only left unread
    assert 0 < await client.ttl(Keys(prefix).home_viewers) <= VIEWERS_SECONDS
