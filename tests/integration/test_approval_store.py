"""Change requests in real Redis: one state change wins however many try at once, and a request
that left its pending states never goes back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

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


# ---------------------------------------------------------------------------- one change at a time per target


def another_change(target: str = "pyroscope", host: str = "h1") -> ChangeRequest:
    """A different change (recreate, not restart) on ``target``."""
    return request().model_copy(update={"action": "recreate", "label": f"recreate {target}", "target": target,
                                         "host": host, "requested_by": "U2"})  # fmt: skip


async def test_fifty_different_changes_filed_at_once_on_one_target_store_one(store: ApprovalStore) -> None:
    drafts = [request().model_copy(update={"action": f"action-{i}"}) for i in range(50)]
    answers = await asyncio.gather(*(store.create(d) for d in drafts))
    [winner] = [d for d in drafts if await store.get(d.id) is not None]
    assert answers == [winner.id] * 50  # every loser is told the holder's id, and nothing of theirs is stored
    assert await store.due_for_expiry(now=time.time() + 3600) == [winner.id]


async def test_a_request_holds_its_target_while_open_and_running_and_frees_it_when_done(store: ApprovalStore) -> None:
    first = request()
    assert await store.create(first) == first.id
    assert await store.create(another_change()) == first.id  # open: held
    assert (await store.transition(first.id, RequestState.RUNNING, PENDING))[0]
    assert await store.create(request()) == first.id  # running: even the same change waits
    assert await store.create(another_change()) == first.id
    await store.update(first.id, lambda r: setattr(r, "message_ts", "1.2"))  # progress keeps it held
    assert await store.create(another_change()) == first.id
    # Another target, or the same name on another host, is not held.
    elsewhere = [another_change(target="backend"), another_change(host="h2")]
    assert [await store.create(d) for d in elsewhere] == [d.id for d in elsewhere]

    assert (await store.transition(first.id, RequestState.SUCCEEDED, {RequestState.RUNNING}))[0]
    after = another_change()
    assert await store.create(after) == after.id


@pytest.mark.parametrize("final", [RequestState.EXPIRED, RequestState.REJECTED, RequestState.CANCELLED])
async def test_a_request_closed_before_it_ran_frees_its_target(store: ApprovalStore, final: RequestState) -> None:
    first = request()
    await store.create(first)
    assert (await store.transition(first.id, final, PENDING))[0]
    after = another_change()
    assert await store.create(after) == after.id


def purge(volume: str = "pyroscope_data", container: str = "pyroscope") -> ChangeRequest:
    """A purge: its target is the volume, and it holds the container it stops and recreates."""
    return request().model_copy(update={"procedure": "INC-PROF-004", "action": "purge", "target": volume,
                                         "also_holds": [container], "requested_by": "U3"})  # fmt: skip


def retention() -> ChangeRequest:
    return request().model_copy(update={"procedure": "INC-PROF-004", "action": "reduce-retention",
                                         "requested_by": "U4"})  # fmt: skip


def disable_everywhere(host: str = "h1") -> ChangeRequest:
    return request().model_copy(update={"procedure": "INC-PROF-002", "action": "disable-global",
                                         "target": "PYROSCOPE_ENABLED", "host": host, "host_wide": True})  # fmt: skip


async def test_a_purge_and_a_retention_change_on_the_pyroscope_container_are_not_both_open(
    store: ApprovalStore,
) -> None:
    first = purge()
    assert await store.create(first) == first.id
    assert await store.create(retention()) == first.id  # the purge stops that container
    assert await store.create(another_change()) == first.id  # a restart of it too
    assert (await store.transition(first.id, RequestState.RUNNING, PENDING))[0]
    assert await store.create(retention()) == first.id  # running: still held, every key
    assert (await store.transition(first.id, RequestState.SUCCEEDED, {RequestState.RUNNING}))[0]

    second = retention()
    assert await store.create(second) == second.id  # all it held is free
    assert await store.create(purge()) == second.id  # and the other way round


async def test_profiling_off_everywhere_and_a_change_on_one_service_are_not_both_open(store: ApprovalStore) -> None:
    one = another_change(target="backend")
    assert await store.create(one) == one.id
    assert await store.create(disable_everywhere()) == one.id  # a change on the host is open
    elsewhere = disable_everywhere(host="h2")
    assert await store.create(elsewhere) == elsewhere.id  # another host's is not
    assert (await store.transition(one.id, RequestState.CANCELLED, PENDING))[0]

    everywhere = disable_everywhere()
    assert await store.create(everywhere) == everywhere.id
    assert await store.create(another_change(target="ai-yolo26")) == everywhere.id  # every service on h1 waits
    assert (await store.transition(everywhere.id, RequestState.RUNNING, PENDING))[0]
    assert await store.create(another_change(target="backend")) == everywhere.id
    assert (await store.transition(everywhere.id, RequestState.FAILED, {RequestState.RUNNING}))[0]
    after = another_change(target="backend")
    assert await store.create(after) == after.id


@pytest.mark.parametrize("make_first", [request, disable_everywhere])
async def test_a_request_whose_hold_another_took_is_not_started(
    store: ApprovalStore, make_first: Callable[[], ChangeRequest]
) -> None:
    first = make_first()
    assert await store.create(first) == first.id
    # Its hold lapsed (it was not expired in time) and another request took the target.
    for key in store.held_keys(first)[1:]:
        await store.redis.delete(key)
    await store.redis.zrem(store.held_keys(first)[0], first.id)
    taker = another_change(target="pyroscope")
    assert await store.create(taker) == taker.id

    moved, current = await store.transition(first.id, RequestState.RUNNING, PENDING)
    assert not moved and current is not None and current.state is RequestState.AWAITING_CONFIRMATION
    stored = await store.get(first.id)
    assert stored is not None and stored.state is RequestState.AWAITING_CONFIRMATION
    # The taker still holds it: nothing was written over.
    assert await store.create(retention()) == taker.id


async def test_a_running_request_whose_executor_stopped_renewing_is_found_once_it_lapses(store: ApprovalStore) -> None:
    r = request()
    await store.create(r)
    assert (await store.transition(r.id, RequestState.RUNNING, PENDING))[0]
    assert await store.abandoned() == []  # leased as it started
    store.clock.offset += 61  # a minute later, on Redis's clock
    assert await store.abandoned() == [r.id]  # a bot killed right after the move
    await store.lease(r.id, 200)  # an executor renewing its lease (a long step)
    await store.lease(r.id, 60)  # a routine renewal does not shorten it
    store.clock.offset += 100
    assert await store.abandoned() == []
    assert (await store.transition(r.id, RequestState.UNKNOWN, {RequestState.RUNNING}))[0]
    store.clock.offset += 1000
    assert await store.abandoned() == []  # over: not listed any more
    with pytest.raises(NotApproved, match="is unknown, not approved to run"):
        await store.authorize_step(r.id, host="h1", op="container.restart", params=r.steps[0].params, job_id="j1")


async def test_a_step_claim_lives_exactly_as_long_as_its_request(store: ApprovalStore) -> None:
    r = request()
    await store.create(r)
    assert (await store.transition(r.id, RequestState.RUNNING, PENDING))[0]
    await store.authorize_step(r.id, host="h1", op="container.restart", params=r.steps[0].params, job_id="j1")
    request_ttl = await store.redis.ttl(store.key(r.id))
    claim_ttl = await store.redis.ttl(store.step_key(r.id, 0))
    assert abs(request_ttl - claim_ttl) <= 1
