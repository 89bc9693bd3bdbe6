"""Change requests in real Redis: one state change wins however many try at once, and a request
that left its pending states never goes back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from profbot.approvals.model import PENDING, ChangeRequest, PlannedStep, RequestState
from profbot.approvals.store import ApprovalStore
from profbot.errors import NotApproved
from profbot.ops.contract import OpKind
from profbot.redis_access import connect


@pytest.fixture
async def store(redis_url: str, prefix: str) -> AsyncIterator[ApprovalStore]:
    client = connect(redis_url)
    yield ApprovalStore(client, prefix)
    await client.aclose()


def request(state: RequestState = RequestState.AWAITING_CONFIRMATION, ttl: float = 900) -> ChangeRequest:
    return ChangeRequest(
        procedure="INC-PROF-001", action="restart", kind=OpKind.CHANGE, label="restart pyroscope", host="h1",
        target="pyroscope", impact="x", requested_by="U1", channel="C1", state=state, expires_at=time.time() + ttl,
        steps=[PlannedStep(op="container.restart", params={"container": "pyroscope", "stop_timeout": 10},
                           kind=OpKind.CHANGE, text="podman restart pyroscope")],
    )  # fmt: skip


async def test_fifty_concurrent_confirmations_move_it_once(store: ApprovalStore) -> None:
    r = request()
    await store.create(r)

    async def confirm(user: str) -> bool:
        moved, _ = await store.transition(r.id, RequestState.RUNNING, PENDING, lambda x: setattr(x, "decided_by", user))
        return moved

    results = await asyncio.gather(*(confirm(f"U{i}") for i in range(50)))
    assert results.count(True) == 1
    stored = await store.get(r.id)
    assert stored is not None and stored.state is RequestState.RUNNING
    assert stored.decided_by == f"U{results.index(True)}"


@pytest.mark.parametrize("final", [RequestState.EXPIRED, RequestState.REJECTED, RequestState.CANCELLED])
async def test_a_closed_request_cannot_be_revived(store: ApprovalStore, final: RequestState) -> None:
    r = request()
    await store.create(r)
    assert (await store.transition(r.id, final, PENDING))[0]
    moved, current = await store.transition(r.id, RequestState.RUNNING, PENDING)
    assert not moved and current is not None and current.state is final
    with pytest.raises(NotApproved, match=f"is {final.value}, not approved to run"):
        await store.authorize_step(r.id, host="h1", op="container.restart", params=r.steps[0].params, job_id="j1")


async def test_due_requests_are_found_for_expiry_and_leave_the_queue_once_decided(store: ApprovalStore) -> None:
    due, later = request(ttl=-1), request(ttl=900)
    await store.create(due)
    await store.create(later)
    assert await store.due_for_expiry() == [due.id]
    await store.transition(due.id, RequestState.EXPIRED, PENDING)
    assert await store.due_for_expiry() == []


async def test_the_hourly_budget_counts_executions_per_target(store: ApprovalStore) -> None:
    r = request(RequestState.RUNNING)
    assert [await store.take_execution_slot(r, per_hour=2) for _ in range(3)] == [True, True, False]
    other = request(RequestState.RUNNING).model_copy(update={"target": "backend"})
    assert await store.take_execution_slot(other, per_hour=2)
    assert await store.executions_in_last_hour(r) == 2
    # An hour later the budget is back.
    assert await store.take_execution_slot(r, per_hour=2, now=time.time() + 3601)


async def test_a_second_request_for_the_same_open_change_is_the_first_one(store: ApprovalStore) -> None:
    first, second = request(), request()
    assert await store.create(first) == first.id
    assert await store.create(second) == first.id  # a double click files one request
    assert await store.get(second.id) is None
    await store.transition(first.id, RequestState.CANCELLED, PENDING)
    third = request()
    assert await store.create(third) == third.id  # once it is closed, a new one can be filed


async def test_an_edit_racing_a_confirmation_loses_neither(store: ApprovalStore) -> None:
    r = request()
    await store.create(r)
    edit = store.update(r.id, lambda x: setattr(x, "message_ts", "1.2"))
    confirm = store.transition(r.id, RequestState.RUNNING, PENDING, lambda x: setattr(x, "decided_by", "U9"))
    await asyncio.gather(edit, confirm)
    stored = await store.get(r.id)
    assert stored is not None
    assert (stored.state, stored.message_ts, stored.decided_by) == (RequestState.RUNNING, "1.2", "U9")
