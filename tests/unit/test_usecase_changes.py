"""Changes and destroys as use cases on fakes: request -> confirm -> execute -> verify, a destroy's
typed name and second person, expiry, the hourly limit. What a person sees, and what the runner
is asked to run, and nothing more."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest

from bot.usecases.commands import Asker, Diagnose, Place, Restart
from bot.usecases.content import (
    AlreadyRequested,
    ChangeAbandoned,
    ChangeRequested,
    CooldownReached,
    DecisionRefused,
    DiagnosisPosted,
    Offer,
    StaleOffer,
    TargetBusy,
    TypedNameForm,
    TypedNameWrong,
    Verified,
)
from bot.usecases.settings import ChangePolicy
from handlers.findings import Severity
from handlers.profiling_overhead import GlobalProfilingParams, disable_global
from profbot.approvals.model import ChangeRequest, RequestState
from profbot.approvals.rules import Decision, Refusal
from profbot.errors import TargetChanged, TargetNotFound
from profbot.ops import ChangeResult
from profbot.ops.containers import RestartContainer
from tests.unit.world import APPROVER, CHANNEL, HOST, OPERATOR, OPERATOR_2, World, container, make_world


async def diagnosed(world: World, procedure: str, argument: str) -> tuple[DiagnosisPosted, Place]:
    """Run a diagnosis as OPERATOR; its posted content and the thread its buttons live in."""
    await world.profbot.diagnoses.diagnose(await world.asker(), Diagnose(procedure=procedure, argument=argument))
    posted = world.people.of(DiagnosisPosted, "post")[-1]
    assert isinstance(posted.content, DiagnosisPosted) and posted.ref is not None
    return posted.content, posted.ref.thread_place


def offer(content: DiagnosisPosted, label: str) -> Offer:
    return next(o for o in content.offers if o.remediation.label == label)


def posted_requests(world: World) -> list[ChangeRequest]:
    return [s.content for s in world.people.said if s.how == "post" and isinstance(s.content, ChangeRequest)]


def last_shown(world: World) -> ChangeRequest:
    shown = [s.content for s in world.people.said if s.how == "update" and isinstance(s.content, ChangeRequest)]
    return shown[-1]


async def test_a_restart_is_requested_confirmed_by_its_requester_run_once_and_verified() -> None:
    world = make_world()
    world.stop("pyroscope")
    report, thread = await diagnosed(world, "INC-PROF-001", "pyroscope")
    operator = await world.asker(place=thread)

    request = await world.profbot.requests.remediate(operator, offer(report, "Restart pyroscope").id)

    assert request is not None and request.state is RequestState.AWAITING_CONFIRMATION
    [posted] = posted_requests(world)
    assert (posted.channel, posted.thread_ts) == (CHANNEL, thread.thread)  # in the diagnosis's thread
    assert posted.label == "Restart pyroscope" and posted.host == HOST
    assert posted.impact == "Profiling data is lost during the outage; services keep running normally."
    assert [s.text for s in posted.steps] == ["podman restart pyroscope"]
    assert posted.identity is not None and posted.identity.id == "pyroscope-id-0001"
    assert world.people.told(OPERATOR)[-1] == ChangeRequested(request)
    assert world.bus.ran("container.restart") == []  # nothing runs before the confirmation

    # Someone else cannot confirm it; the requester can, once.
    other = await world.asker(OPERATOR_2)
    await world.profbot.decisions.decide(other, request.id, Decision.CONFIRM)
    assert world.people.told(OPERATOR_2) == [DecisionRefused(Refusal.ONLY_REQUESTER, request)]
    await world.profbot.decisions.decide(operator, request.id, Decision.CONFIRM)
    await world.profbot.decisions.decide(operator, request.id, Decision.CONFIRM)  # a double click
    await world.settle()

    [restart] = world.bus.ran("container.restart")
    assert restart.approval_id == request.id  # the runner checks it names a running request
    done = last_shown(world)
    assert done.state is RequestState.SUCCEEDED and done.decided_by == OPERATOR
    assert done.verification == "Pyroscope /ready: ready after 0s" and done.verification_severity == "ok"
    [verified] = world.people.of(Verified, "reply")
    assert isinstance(verified.content, Verified) and verified.content.finding.severity is Severity.OK
    refused_late = world.people.told(OPERATOR)[-1]
    assert isinstance(refused_late, DecisionRefused) and refused_late.refusal is Refusal.ALREADY_DECIDED
    kinds = world.trail.kinds()
    assert kinds.count("executing") == 1
    assert [k for k in kinds if k in ("requested", "refused", "confirmed", "executing", "succeeded", "verified")] == [
        "requested",
        "refused",
        "confirmed",
        "executing",
        "succeeded",
        "verified",
    ]


async def test_a_double_click_files_one_request() -> None:
    world = make_world()
    report, thread = await diagnosed(world, "INC-PROF-001", "pyroscope")
    operator = await world.asker(place=thread)
    restart = offer(report, "Restart pyroscope")

    first = await world.profbot.requests.remediate(operator, restart.id)
    second = await world.profbot.requests.remediate(operator, restart.id)

    assert first is not None and second is None
    assert len(world.store.requests) == 1
    told = world.people.told(OPERATOR)[-1]
    assert isinstance(told, AlreadyRequested) and told.request.id == first.id


async def test_deleting_the_volume_takes_the_typed_name_and_a_second_approver() -> None:
    world = make_world()
    report, thread = await diagnosed(world, "INC-PROF-004", "pyroscope")
    purge = offer(report, "Delete volume pyroscope_data")
    requester = await world.asker(place=thread)

    await world.profbot.requests.remediate(requester, purge.id)

    # A form first, saying what the registry says; nothing is requested yet.
    [asked] = world.people.of(TypedNameForm, "ask")
    form = asked.content
    assert isinstance(form, TypedNameForm) and form.offer_id == purge.id and form.place == thread
    assert form.remediation.label == "Delete volume pyroscope_data"
    assert form.remediation.impact == "WARNING: deletes all profiling history. Pyroscope stops and starts again empty."
    assert world.store.requests == {}

    assert await world.profbot.requests.typed_name(requester, purge.id, "pyroscope") == TypedNameWrong("pyroscope_data")
    assert world.store.requests == {}
    assert await world.profbot.requests.typed_name(requester, purge.id, "pyroscope_data") is None
    await world.settle()
    [request] = posted_requests(world)
    assert request.state is RequestState.AWAITING_APPROVAL and request.label == "Delete volume pyroscope_data"
    assert request.identity is not None and request.identity.kind == "volume"

    # The requester cannot approve it, though an approver; nor can an operator who is not one.
    await world.profbot.decisions.decide(requester, request.id, Decision.APPROVE)
    await world.profbot.decisions.decide(await world.asker(OPERATOR_2), request.id, Decision.APPROVE)
    assert world.people.told(OPERATOR)[-1] == DecisionRefused(Refusal.SECOND_PERSON, request)
    assert world.people.told(OPERATOR_2)[-1] == DecisionRefused(Refusal.NOT_APPROVER, request)
    assert world.bus.ran("pyroscope.purge_data") == []

    world.bus.answer("pyroscope.purge_data", ChangeResult(target="pyroscope_data", steps=["removed volume"]))
    await world.profbot.decisions.decide(await world.asker(APPROVER), request.id, Decision.APPROVE)
    await world.settle()
    [purged] = world.bus.ran("pyroscope.purge_data")
    assert purged.approval_id == request.id
    assert purged.operation.model_dump() == request.steps[0].params == {"volume": "pyroscope_data"}
    done = last_shown(world)
    assert done.state is RequestState.SUCCEEDED and done.decided_by == APPROVER
    assert world.trail.kinds().count("refused") == 2 and "destroy_mistyped" in world.trail.kinds()


async def test_a_request_nobody_decides_expires_and_then_runs_nothing() -> None:
    world = make_world(changes=ChangePolicy(approval_ttl=60, changes_per_hour=3, verify_seconds=5))
    operator = await world.asker()
    request = await world.profbot.requests.restart(operator, Restart(service="backend"))
    assert request is not None

    world.clock.advance(61)
    await world.profbot.decisions.expire(request.id)  # what the sweeper does for each due request
    assert last_shown(world).state is RequestState.EXPIRED
    await world.profbot.decisions.decide(operator, request.id, Decision.CONFIRM)
    await world.settle()

    told = world.people.told(OPERATOR)[-1]
    assert isinstance(told, DecisionRefused) and told.refusal is Refusal.ALREADY_DECIDED
    assert told.request.state is RequestState.EXPIRED
    assert world.bus.ran("container.restart") == []


async def test_a_late_click_on_a_request_past_its_time_expires_it_first() -> None:
    world = make_world(changes=ChangePolicy(approval_ttl=60, changes_per_hour=3, verify_seconds=5))
    operator = await world.asker()
    request = await world.profbot.requests.restart(operator, Restart(service="backend"))
    assert request is not None
    world.clock.advance(120)  # the sweeper has not come by yet

    await world.profbot.decisions.decide(operator, request.id, Decision.CONFIRM)
    await world.settle()

    assert world.store.requests[request.id].state is RequestState.EXPIRED
    assert world.bus.ran("container.restart") == []


async def test_the_same_change_on_the_same_target_is_refused_past_the_hourly_limit() -> None:
    world = make_world(changes=ChangePolicy(approval_ttl=900, changes_per_hour=1, verify_seconds=5))
    operator = await world.asker()
    first = await world.profbot.requests.restart(operator, Restart(service="backend"))
    assert first is not None
    await world.profbot.decisions.decide(operator, first.id, Decision.CONFIRM)
    await world.settle()

    again = await world.profbot.requests.restart(operator, Restart(service="backend"))

    assert again is None
    assert world.people.told(OPERATOR)[-1] == CooldownReached("Restart backend", "backend", HOST, 1, 1)
    assert len(world.bus.ran("container.restart")) == 1


async def test_a_target_replaced_before_the_request_is_filed_is_bound_as_it_is_then() -> None:
    world = make_world()
    world.states["backend"] = container("backend", id="backend-id-0002")  # recreated meanwhile
    request = await world.profbot.requests.restart(await world.asker(), Restart(service="backend"))
    assert request is not None and request.identity is not None
    assert request.identity.id == "backend-id-0002"


async def test_the_requester_may_withdraw_a_destroy_waiting_for_approval() -> None:
    world = make_world()
    report, thread = await diagnosed(world, "INC-PROF-004", "pyroscope")
    purge = offer(report, "Delete volume pyroscope_data")
    requester = await world.asker(OPERATOR_2, place=thread)  # an operator who is no approver
    await world.profbot.requests.remediate(requester, purge.id)
    await world.profbot.requests.typed_name(requester, purge.id, "pyroscope_data")
    await world.settle()
    [request] = posted_requests(world)

    await world.profbot.decisions.decide(requester, request.id, Decision.REJECT)

    assert last_shown(world).state is RequestState.CANCELLED
    assert world.bus.ran("pyroscope.purge_data") == []


async def test_a_typed_name_for_an_offer_that_is_not_a_destroy_is_stale() -> None:
    world = make_world()
    report, thread = await diagnosed(world, "INC-PROF-001", "pyroscope")
    restart = offer(report, "Restart pyroscope")
    answer = await world.profbot.requests.typed_name(await world.asker(place=thread), restart.id, "pyroscope")
    assert answer == StaleOffer()
    assert world.store.requests == {}


async def test_a_failed_step_stops_the_rest_and_says_which() -> None:
    world = make_world()
    world.bus.answer("container.restart", TargetChanged("backend was replaced since; nothing ran"))
    operator: Asker = await world.asker()
    request = await world.profbot.requests.restart(operator, Restart(service="backend"))
    assert request is not None
    await world.profbot.decisions.decide(operator, request.id, Decision.CONFIRM)
    await world.settle()

    done = last_shown(world)
    assert done.state is RequestState.FAILED
    assert done.error == "step 1 (container.restart): backend was replaced since; nothing ran"
    assert world.people.of(Verified) == []  # no verification of what did not run


async def test_a_container_that_is_gone_can_still_be_recreated_and_the_approval_binds_its_absence() -> None:
    world = make_world()
    report, thread = await diagnosed(world, "INC-PROF-001", "pyroscope")
    recreate = offer(report, "Recreate pyroscope")
    del world.states["pyroscope"]  # removed since the diagnosis: inspect answers "not found"
    world.bus.answer("container.inspect", TargetNotFound("no container pyroscope"))

    request = await world.profbot.requests.remediate(await world.asker(place=thread), recreate.id)

    assert request is not None and request.identity is not None
    assert (request.identity.name, request.identity.id) == ("pyroscope", None)


async def test_a_request_the_registry_cannot_plan_again_is_verified_as_not_checked() -> None:
    world = make_world()
    operator = await world.asker()
    request = await world.profbot.requests.restart(operator, Restart(service="backend"))
    assert request is not None
    world.store.requests[request.id].params = {"container": "backend"}  # as an older profbot stored it
    await world.profbot.decisions.decide(operator, request.id, Decision.CONFIRM)
    await world.settle()

    done = last_shown(world)
    assert done.state is RequestState.SUCCEEDED
    assert done.verification_severity == "warning" and (done.verification or "").startswith(
        "verification: could not run"
    )


async def test_a_confirmation_whose_asker_goes_away_midway_still_runs_and_is_audited() -> None:
    world = make_world()
    world.stop("pyroscope")
    report, thread = await diagnosed(world, "INC-PROF-001", "pyroscope")
    operator = await world.asker(place=thread)
    request = await world.profbot.requests.remediate(operator, offer(report, "Restart pyroscope").id)
    assert request is not None

    # The store has moved the request to running; its answer is on the way when the asker goes
    # (Ctrl-C at the shell): what follows a stored move happens all the same.
    world.store.answers_held = asyncio.Event()
    confirming = asyncio.create_task(world.profbot.decisions.decide(operator, request.id, Decision.CONFIRM))
    await asyncio.sleep(0)
    confirming.cancel()
    world.store.answers_held.set()
    with pytest.raises(asyncio.CancelledError):
        await confirming
    world.store.answers_held = None
    await world.settle()

    assert len(world.bus.ran("container.restart")) == 1
    assert "confirmed" in world.trail.kinds()
    assert last_shown(world).state is RequestState.SUCCEEDED


async def audit_once_stored(
    world: World, request_id: str, state: RequestState, move: Coroutine[Any, Any, object]
) -> list[str]:
    """Run ``move`` until the store has moved the request to ``state``, its answer still on its
    way: the audit a bot killed right then leaves behind. Then let it finish."""
    world.store.answers_held = asyncio.Event()
    moving = asyncio.create_task(move)
    for _ in range(100):
        if world.store.requests[request_id].state is state:
            break
        await asyncio.sleep(0)
    assert world.store.requests[request_id].state is state
    audited = world.trail.kinds()
    world.store.answers_held.set()
    world.store.answers_held = None
    await moving
    await world.settle()
    return audited


async def test_a_confirmation_is_audited_with_its_move_so_a_bot_killed_right_after_leaves_it_audited() -> None:
    world = make_world()
    operator = await world.asker()
    request = await world.profbot.requests.restart(operator, Restart(service="backend"))
    assert request is not None
    assert world.trail.kinds() == ["requested"]  # filed and audited in one write

    confirm = world.profbot.decisions.decide(operator, request.id, Decision.CONFIRM)
    assert await audit_once_stored(world, request.id, RequestState.RUNNING, confirm) == ["requested", "confirmed"]

    assert world.store.requests[request.id].state is RequestState.SUCCEEDED
    await world.profbot.decisions.decide(operator, request.id, Decision.CONFIRM)  # refused: no event
    assert world.trail.kinds().count("confirmed") == 1


async def test_the_sweepers_expiry_and_reaping_are_audited_with_their_moves() -> None:
    world = make_world(changes=ChangePolicy(approval_ttl=60, changes_per_hour=3, verify_seconds=5))
    operator = await world.asker()
    waiting = await world.profbot.requests.restart(operator, Restart(service="backend"))
    running = await world.profbot.requests.restart(operator, Restart(service="ai-yolo26"))
    assert waiting is not None and running is not None
    moved, _ = await world.store.transition(running.id, RequestState.RUNNING, {RequestState.AWAITING_CONFIRMATION})
    assert moved  # its bot died right after the move: no executor
    world.clock.advance(61)

    expiry = world.profbot.decisions.expire(waiting.id)  # what the sweeper does for each due request
    assert "expired" in await audit_once_stored(world, waiting.id, RequestState.EXPIRED, expiry)
    reaping = world.profbot.decisions.sweep_once()
    assert "unknown" in await audit_once_stored(world, running.id, RequestState.UNKNOWN, reaping)
    assert world.trail.kinds().count("expired") == world.trail.kinds().count("unknown") == 1


# ---------------------------------------------------------------------------- one change at a time per target


async def test_a_second_change_on_a_container_with_one_waiting_is_refused_naming_who_has_it() -> None:
    world = make_world()
    report, thread = await diagnosed(world, "INC-PROF-001", "pyroscope")
    first = await world.profbot.requests.remediate(
        await world.asker(place=thread), offer(report, "Restart pyroscope").id
    )
    assert first is not None
    other = await world.asker(OPERATOR_2, place=thread)

    second = await world.profbot.requests.remediate(other, offer(report, "Recreate pyroscope").id)

    assert second is None
    assert list(world.store.requests) == [first.id]
    told = world.people.told(OPERATOR_2)[-1]
    assert isinstance(told, TargetBusy) and told.wanted == "Recreate pyroscope"
    assert (told.holder.id, told.holder.requested_by, told.holder.held_since) == (first.id, OPERATOR, first.created_at)
    assert world.trail.events[-1].kind.value == "refused" and world.trail.events[-1].actor == OPERATOR_2
    assert "target held by request" in (world.trail.events[-1].outcome or "")
    assert len(posted_requests(world)) == 1  # nothing new was posted

    # Once the first is withdrawn, the target is free again.
    await world.profbot.decisions.decide(await world.asker(place=thread), first.id, Decision.CANCEL)
    again = await world.profbot.requests.remediate(other, offer(report, "Recreate pyroscope").id)
    assert again is not None and again.state is RequestState.AWAITING_CONFIRMATION


async def test_a_running_change_holds_its_target_until_it_is_done() -> None:
    world = make_world()
    operator = await world.asker()
    first = await world.profbot.requests.restart(operator, Restart(service="backend"))
    assert first is not None
    world.clock.advance(30)
    confirmed_at = world.clock()

    def confirmed(r: ChangeRequest) -> None:
        r.decided_by, r.decided_at = OPERATOR, confirmed_at

    moved, _ = await world.store.transition(
        first.id, RequestState.RUNNING, {RequestState.AWAITING_CONFIRMATION}, confirmed
    )
    assert moved

    # The same change while it runs is refused too (it is no longer "open", but it holds the target).
    assert await world.profbot.requests.restart(await world.asker(OPERATOR_2), Restart(service="backend")) is None
    told = world.people.told(OPERATOR_2)[-1]
    assert isinstance(told, TargetBusy) and told.holder.state is RequestState.RUNNING
    assert told.holder.held_since == confirmed_at  # since it started running
    # Another target is not held.
    assert await world.profbot.requests.restart(await world.asker(OPERATOR_2), Restart(service="ai-yolo26"))

    await world.store.transition(first.id, RequestState.SUCCEEDED, {RequestState.RUNNING})
    assert await world.profbot.requests.restart(await world.asker(OPERATOR_2), Restart(service="backend"))


async def test_a_retention_request_binds_the_config_file_the_runner_read() -> None:
    world = make_world()
    report, thread = await diagnosed(world, "INC-PROF-004", "pyroscope")

    request = await world.profbot.requests.remediate(
        await world.asker(place=thread), offer(report, "Set retention to 7d").id
    )

    assert request is not None
    assert [(s.op, s.params) for s in request.steps] == [
        ("pyroscope.set_retention", {"config": "/srv/pyroscope/server.yml", "period": "7d"})
    ]
    assert request.identity is not None and (request.identity.kind, request.identity.name) == ("container", "pyroscope")


async def test_a_purge_holds_the_pyroscope_container_too_so_a_retention_change_waits() -> None:
    world = make_world()
    report, thread = await diagnosed(world, "INC-PROF-004", "pyroscope")
    requester = await world.asker(place=thread)
    await world.profbot.requests.typed_name(
        requester, offer(report, "Delete volume pyroscope_data").id, "pyroscope_data"
    )
    await world.settle()
    [purge] = posted_requests(world)
    assert purge.target == "pyroscope_data" and purge.also_holds == ["pyroscope"]

    other = await world.asker(OPERATOR_2, place=thread)
    assert await world.profbot.requests.remediate(other, offer(report, "Set retention to 7d").id) is None
    told = world.people.told(OPERATOR_2)[-1]
    assert isinstance(told, TargetBusy) and told.holder.id == purge.id  # it stops and recreates that container


async def test_profiling_off_everywhere_is_a_change_on_the_whole_host() -> None:
    world = make_world()
    host = await world.profbot.diagnoses.route("backend")
    assert isinstance(host, str)
    first = await world.profbot.requests.restart(await world.asker(), Restart(service="backend"))
    assert first is not None
    everywhere = disable_global.offered(host, GlobalProfilingParams(service="ai-yolo26"))

    other = await world.asker(OPERATOR_2)
    assert await world.profbot.requests.file(other, everywhere, RequestState.AWAITING_CONFIRMATION) is None
    told = world.people.told(OPERATOR_2)[-1]
    assert isinstance(told, TargetBusy) and told.holder.id == first.id  # `podman-compose up -d` recreates it too


async def test_a_change_whose_bot_died_after_the_confirmation_is_reaped_as_outcome_unknown() -> None:
    world = make_world()
    operator = await world.asker()
    request = await world.profbot.requests.restart(operator, Restart(service="backend"))
    assert request is not None
    # The bot that confirmed it died right after the compare-and-set: running, no executor.
    moved, _ = await world.store.transition(request.id, RequestState.RUNNING, {RequestState.AWAITING_CONFIRMATION})
    assert moved
    await world.profbot.decisions.sweep_once()
    assert world.store.requests[request.id].state is RequestState.RUNNING  # its lease has not lapsed yet

    world.clock.advance(61)
    await world.profbot.decisions.sweep_once()

    reaped = world.store.requests[request.id]
    assert reaped.state is RequestState.UNKNOWN
    assert "outcome unknown" in (reaped.error or "")
    assert last_shown(world).state is RequestState.UNKNOWN  # its message says so
    abandoned = [s for s in world.people.said if isinstance(s.content, ChangeAbandoned)]
    assert len(abandoned) == 1 and abandoned[0].how == "reply"  # and its thread
    assert "unknown" in world.trail.kinds()
    assert world.bus.ran("container.restart") == []
    await world.profbot.decisions.sweep_once()  # reaped once
    assert len([s for s in world.people.said if isinstance(s.content, ChangeAbandoned)]) == 1


async def confirm_noting_the_lease(world: World, operator: Asker, request_id: str) -> list[float]:
    """Confirm the restart request; the executor's lease left, seen from inside the restart step."""
    leased_while_running: list[float] = []

    def restart(op: RestartContainer) -> ChangeResult:
        leased_while_running.append(world.store.leases[request_id] - world.clock())
        return ChangeResult(target=op.container, steps=[f"restarted {op.container}"])

    world.bus.answer("container.restart", restart)
    await world.profbot.decisions.decide(operator, request_id, Decision.CONFIRM)
    await world.settle()
    return leased_while_running


async def test_a_running_change_is_leased_past_the_deadline_of_the_step_it_sent() -> None:
    # Were the bot to die while the runner still runs the step, the reaper must not free the target
    # before the step's own deadline (a restart's budget is its timeout plus its stop timeout).
    world = make_world()
    operator = await world.asker()
    request = await world.profbot.requests.restart(operator, Restart(service="backend"))
    assert request is not None
    leased_while_running = await confirm_noting_the_lease(world, operator, request.id)
    assert leased_while_running and leased_while_running[0] >= RestartContainer(container="backend").time_budget() + 60
    assert world.store.requests[request.id].state is RequestState.SUCCEEDED
    assert request.id not in await world.store.abandoned()


async def test_the_executor_lease_is_a_setting_its_step_lease_and_the_reaping_follow() -> None:
    # PROFBOT_EXECUTOR_LEASE_SECONDS: a lease shorter than the default 60 s still covers the step's
    # deadline, and the reaping says how long nobody ran the change.
    world = make_world(changes=ChangePolicy(approval_ttl=900, changes_per_hour=3, verify_seconds=5, executor_lease=5))
    operator = await world.asker()
    request = await world.profbot.requests.restart(operator, Restart(service="backend"))
    assert request is not None
    budget = RestartContainer(container="backend").time_budget()
    leased_while_running = await confirm_noting_the_lease(world, operator, request.id)
    assert leased_while_running and budget + 5 <= leased_while_running[0] < budget + 60

    second = await world.profbot.requests.restart(operator, Restart(service="ai-yolo26"))
    assert second is not None
    moved, _ = await world.store.transition(second.id, RequestState.RUNNING, {RequestState.AWAITING_CONFIRMATION})
    assert moved  # its bot died right after: no executor renews its lease
    world.clock.advance(61)
    await world.profbot.decisions.sweep_once()
    assert "for over 5s" in (world.store.requests[second.id].error or "")

    # Its bot died mid-step: the lease that lapsed was the step's deadline plus the lease.
    third = await world.profbot.requests.restart(operator, Restart(service="grafana"))
    assert third is not None
    await world.store.transition(third.id, RequestState.RUNNING, {RequestState.AWAITING_CONFIRMATION})
    await world.store.lease(third.id, budget + 5)
    world.clock.advance(budget + 6)
    await world.profbot.decisions.sweep_once()
    assert f"for over {budget + 5:.0f}s" in (world.store.requests[third.id].error or "")
    reaped = [s.content for s in world.people.said if isinstance(s.content, ChangeAbandoned)]
    assert reaped[-1].silent_seconds == budget + 5
