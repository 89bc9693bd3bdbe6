"""A change request's audited writes in real Redis: the request and its audit event are one write
(the store's script), so no process killed in between can leave a move unaudited; a move refused
writes no event; and the audit mirror reads these events as it reads every other, in order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.stores.audit_feed import AuditFeed
from profbot.approvals.model import PENDING, ChangeRequest, PlannedStep, RequestState
from profbot.approvals.store import ApprovalStore
from profbot.audit import AuditEvent, AuditKind, AuditLog
from profbot.errors import RedisUnavailable
from profbot.keys import Keys
from profbot.ops.contract import OpKind
from profbot.redis_access import connect


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    redis = connect(redis_url)
    yield redis
    await redis.aclose()


def request() -> ChangeRequest:
    return ChangeRequest(
        procedure="INC-PROF-001", action="restart", kind=OpKind.CHANGE, label="restart pyroscope", host="h1",
        target="pyroscope", impact="x", requested_by="U1", channel="C1", thread_ts="1.2",
        state=RequestState.AWAITING_CONFIRMATION, expires_at=time.time() + 900,
        steps=[PlannedStep(op="container.restart", params={"container": "pyroscope", "stop_timeout": 10},
                           kind=OpKind.CHANGE, text="podman restart pyroscope")],
    )  # fmt: skip


async def entries(client: aioredis.Redis, prefix: str) -> list[dict[str, str]]:
    raw: list = await client.xrange(Keys(prefix).audit)  # type: ignore[assignment]
    return [dict(fields) for _, fields in raw]


async def test_a_move_is_audited_in_the_same_write_and_a_refused_move_is_not(
    client: aioredis.Redis, prefix: str
) -> None:
    store, trail = ApprovalStore(client, prefix), AuditLog(client, prefix)
    r = request()
    requested = AuditEvent.about(AuditKind.REQUESTED, r, actor="U1", outcome=r.impact)
    assert await store.create(r, requested) == r.id
    assert await store.create(request(), requested) == r.id  # the same change again: not stored, not audited

    def confirmed(x: ChangeRequest) -> AuditEvent:
        return AuditEvent.about(AuditKind.CONFIRMED, x, actor="U1")

    moved, _ = await store.transition(r.id, RequestState.RUNNING, PENDING, None, confirmed)
    assert moved
    # Nothing else was called: the event is in the stream, as the trail reads it back.
    assert [(e.kind, e.actor, e.request_id, e.thread_ts) for e in await trail.latest(10)] == [
        (AuditKind.CONFIRMED, "U1", r.id, "1.2"),
        (AuditKind.REQUESTED, "U1", r.id, "1.2"),
    ]
    moved, current = await store.transition(r.id, RequestState.RUNNING, PENDING, None, confirmed)  # a late click
    assert not moved and current is not None and current.state is RequestState.RUNNING
    assert [e["event"] for e in await entries(client, prefix)] == ["requested", "confirmed"]

    # Its entry is the one the trail itself writes for the same event.
    verified = AuditEvent.about(AuditKind.VERIFIED, r, actor=None, outcome="ok: ready")
    await store.update(r.id, lambda x: setattr(x, "verification", "ready"), lambda _: verified)
    await trail.append(verified)
    by_store, by_trail = (await entries(client, prefix))[-2:]
    assert by_store == by_trail == verified.to_fields()


async def test_a_move_whose_audit_cannot_be_written_is_not_made(client: aioredis.Redis, prefix: str) -> None:
    store = ApprovalStore(client, prefix)
    r = request()
    await store.create(r)
    await client.set(Keys(prefix).audit, "not a stream")  # XADD fails: the script writes nothing

    def confirmed(x: ChangeRequest) -> AuditEvent:
        return AuditEvent.about(AuditKind.CONFIRMED, x, actor="U1")

    with pytest.raises(RedisUnavailable, match="WRONGTYPE"):
        await store.transition(r.id, RequestState.RUNNING, PENDING, None, confirmed)
    stored = await store.get(r.id)
    assert stored is not None and stored.state is RequestState.AWAITING_CONFIRMATION


async def test_the_audit_mirror_reads_events_written_with_moves_in_order_with_the_others(
    client: aioredis.Redis, prefix: str
) -> None:
    store, trail, feed = ApprovalStore(client, prefix), AuditLog(client, prefix), AuditFeed(client, prefix)
    await feed.entries.ensure_group()  # the mirror's group, reading from now on
    r = request()
    await trail.append(AuditEvent(kind=AuditKind.DESTROY_OPENED, actor="U1", outcome="before"))
    await store.create(r, AuditEvent.about(AuditKind.REQUESTED, r, actor="U1"))

    def cancelled(x: ChangeRequest) -> AuditEvent:
        return AuditEvent.about(AuditKind.CANCELLED, x, actor="U1")

    assert (await store.transition(r.id, RequestState.CANCELLED, PENDING, None, cancelled))[0]
    await trail.append(AuditEvent(kind=AuditKind.REFUSED, actor="U2", outcome="after"))

    mirrored: list[AuditEvent] = []
    stop = asyncio.Event()

    async def mirror(event: AuditEvent) -> float:
        mirrored.append(event)
        if len(mirrored) == 4:
            stop.set()
        return 0.0

    await asyncio.wait_for(feed.serve(stop, mirror), 30)
    assert [e.kind for e in mirrored] == [
        AuditKind.DESTROY_OPENED, AuditKind.REQUESTED, AuditKind.CANCELLED, AuditKind.REFUSED,
    ]  # fmt: skip
    assert mirrored[2].request_id == r.id and mirrored[2].actor == "U1"
