"""The change store's rules, held by FakeChangeStore and by ApprovalStore on real Redis alike."""

from __future__ import annotations

import asyncio
import time
import uuid

from profbot.approvals.model import PENDING, ChangeRequest, PlannedStep, RequestState
from profbot.approvals.store import ApprovalStore
from profbot.audit import AuditEvent, AuditKind
from profbot.ops.contract import OpKind
from tests.contract.conftest import Changes
from tests.unit.fakes import FakeChangeStore


def request(
    *,
    target: str = "pyroscope",
    action: str = "restart",
    state: RequestState = RequestState.AWAITING_CONFIRMATION,
    ttl: float = 900,
    by: str = "U1",
    host: str = "h1",
) -> ChangeRequest:
    return ChangeRequest(
        procedure="INC-PROF-001", action=action, kind=OpKind.CHANGE, label=f"{action} {target}", host=host,
        target=target, impact="x", requested_by=by, channel="C1", state=state, expires_at=time.time() + ttl,
        steps=[PlannedStep(op="container.restart", params={"container": target, "stop_timeout": 10},
                           kind=OpKind.CHANGE, text=f"podman restart {target}")],
    )  # fmt: skip


def filed(r: ChangeRequest) -> AuditEvent:
    return AuditEvent.about(AuditKind.REQUESTED, r, actor=r.requested_by)


async def kinds(changes: Changes) -> list[str]:
    return [e.kind.value for e in await changes.trail.latest(50)]


async def test_a_request_is_stored_as_filed(changes: Changes) -> None:
    r = request()
    assert await changes.store.create(r, filed(r)) == r.id
    stored = await changes.store.get(r.id)
    assert stored is not None and stored.model_dump() == r.model_dump()
    assert await kinds(changes) == ["requested"]
    assert await changes.store.get("nosuchrequest") is None


async def test_the_same_change_filed_twice_is_one_request_and_one_audit_entry(changes: Changes) -> None:
    first, again = request(), request()
    assert await changes.store.create(first, filed(first)) == first.id
    assert await changes.store.create(again, filed(again)) == first.id
    assert await changes.store.get(again.id) is None
    assert await kinds(changes) == ["requested"]


async def test_another_change_on_a_held_target_is_not_stored(changes: Changes) -> None:
    restart = request(action="restart")
    await changes.store.create(restart)
    recreate = request(action="recreate")
    assert await changes.store.create(recreate) == restart.id
    elsewhere = request(target="grafana")
    assert await changes.store.create(elsewhere) == elsewhere.id


async def test_a_move_happens_once_from_an_allowed_state_with_its_audit(changes: Changes) -> None:
    r = request()
    await changes.store.create(r)

    def decided(x: ChangeRequest) -> None:
        x.decided_by = "U2"

    def audit(x: ChangeRequest) -> AuditEvent:
        return AuditEvent.about(AuditKind.CONFIRMED, x, actor=x.decided_by)

    moved, now = await changes.store.transition(r.id, RequestState.RUNNING, PENDING, decided, audit)
    assert moved and now is not None and now.state is RequestState.RUNNING and now.decided_by == "U2"
    again, current = await changes.store.transition(r.id, RequestState.RUNNING, PENDING, decided, audit)
    assert not again and current is not None and current.state is RequestState.RUNNING
    assert await kinds(changes) == ["confirmed"]  # the refused move wrote nothing


async def test_concurrent_moves_let_exactly_one_win(changes: Changes) -> None:
    r = request()
    await changes.store.create(r)
    results = await asyncio.gather(*(changes.store.transition(r.id, RequestState.REJECTED, PENDING) for _ in range(20)))
    assert [moved for moved, _ in results].count(True) == 1


async def test_an_update_edits_without_moving(changes: Changes) -> None:
    r = request(state=RequestState.RUNNING)
    await changes.store.create(r)
    updated = await changes.store.update(r.id, lambda x: setattr(x, "verification", "pyroscope ready"))
    assert updated is not None and updated.state is RequestState.RUNNING
    stored = await changes.store.get(r.id)
    assert stored is not None and stored.verification == "pyroscope ready"
    assert await changes.store.update("nosuchrequest", lambda x: None) is None


async def test_ids_are_found_by_what_a_person_types_of_them(changes: Changes) -> None:
    r = request()
    await changes.store.create(r)
    assert await changes.store.ids_starting_with(r.id[:6]) == [r.id]
    assert await changes.store.ids_starting_with("zz" + uuid.uuid4().hex[:6]) == []


async def test_only_open_requests_past_their_time_are_due(changes: Changes) -> None:
    due, later = request(ttl=-1), request(target="grafana", ttl=900)
    await changes.store.create(due)
    await changes.store.create(later)
    assert await changes.store.due_for_expiry() == [due.id]
    await changes.store.transition(due.id, RequestState.EXPIRED, PENDING)
    assert await changes.store.due_for_expiry() == []


async def test_pending_lists_open_requests_soonest_to_expire_first(changes: Changes) -> None:
    late, soon = request(ttl=900), request(target="grafana", ttl=300)
    for r in (late, soon):
        await changes.store.create(r)
    assert [r.id for r in await changes.store.pending()] == [soon.id, late.id]
    await changes.store.transition(soon.id, RequestState.CANCELLED, PENDING)
    assert [r.id for r in await changes.store.pending()] == [late.id]


async def test_a_persons_requests_come_newest_first(changes: Changes) -> None:
    older = request(by="U7")
    await changes.store.create(older)
    await asyncio.sleep(0.01)
    newer = request(target="grafana", by="U7")
    await changes.store.create(newer)
    await changes.store.create(request(target="backend", by="U8"))
    assert [r.id for r in await changes.store.requested_by("U7")] == [newer.id, older.id]


async def test_the_hourly_budget_is_per_target(changes: Changes) -> None:
    r = request(state=RequestState.RUNNING)
    assert [await changes.store.take_execution_slot(r, per_hour=2) for _ in range(3)] == [True, True, False]
    assert await changes.store.executions_in_last_hour(r) == 2
    assert await changes.store.take_execution_slot(request(target="grafana"), per_hour=2)
    assert await changes.store.take_execution_slot(r, per_hour=2, now=time.time() + 3601)


async def test_a_running_request_whose_lease_lapsed_is_abandoned_until_renewed(changes: Changes) -> None:
    store = changes.store
    lease = 0.3
    if isinstance(store, FakeChangeStore):
        store.executor_lease = lease
    else:
        assert isinstance(store, ApprovalStore)
        store.executor_lease = lease
    r = request()
    await store.create(r)
    await store.transition(r.id, RequestState.RUNNING, PENDING)
    assert await store.abandoned() == []
    await asyncio.sleep(lease + 0.3)
    assert await store.abandoned() == [r.id]
    await store.lease(r.id, 30)
    assert await store.abandoned() == []
    await store.lease(r.id, 0.1)  # a lease only grows
    assert await store.abandoned() == []


async def test_the_lease_that_sets_a_running_requests_end_is_known_by_its_length(changes: Changes) -> None:
    r = request()
    await changes.store.create(r)
    await changes.store.transition(r.id, RequestState.RUNNING, PENDING)
    store = changes.store
    assert isinstance(store, FakeChangeStore | ApprovalStore)
    assert await store.lease_of(r.id) == store.executor_lease  # leased as it starts
    await changes.store.lease(r.id, 130)  # a step's deadline plus the lease
    await changes.store.lease(r.id, 60)  # a renewal that ends sooner changes nothing
    assert await changes.store.lease_of(r.id) == 130
    await changes.store.transition(r.id, RequestState.SUCCEEDED, {RequestState.RUNNING})
    assert await changes.store.lease_of(r.id) is None
