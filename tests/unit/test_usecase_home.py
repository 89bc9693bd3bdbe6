"""The home (Slack's App Home) as a use case on fakes: what each person is shown, built from the
stores and never by asking a runner, and shown again to those a request concerns as it moves."""

from __future__ import annotations

from bot.usecases.commands import Diagnose, Health, Restart
from bot.usecases.content import HealthOverview
from bot.usecases.home_model import HomeOverview
from handlers.findings import Severity
from profbot.approvals.model import ChangeRequest, RequestState
from profbot.approvals.rules import Decision
from profbot.ops import ChangeResult
from tests.unit.test_usecase_changes import diagnosed, offer
from tests.unit.world import APPROVER, HOST, OPERATOR, OPERATOR_2, STRANGER, World, make_world


async def destroy_requested(world: World) -> ChangeRequest:
    """OPERATOR's request to delete Pyroscope's data volume, typed and waiting for a second person."""
    report, thread = await diagnosed(world, "INC-PROF-004", "pyroscope")
    purge = offer(report, "Delete volume pyroscope_data")
    requester = await world.asker(place=thread)
    await world.profbot.requests.remediate(requester, purge.id)
    await world.profbot.requests.typed_name(requester, purge.id, "pyroscope_data")
    await world.settle()
    [request] = [r for r in world.store.requests.values() if r.label == "Delete volume pyroscope_data"]
    return request


async def restart_requested(world: World, user: str = OPERATOR) -> ChangeRequest:
    request = await world.profbot.requests.restart(await world.asker(user), Restart(service="backend"))
    assert request is not None
    return request


def ids(requests: list[ChangeRequest]) -> list[str]:
    return [r.id for r in requests]


async def test_an_approver_is_asked_for_the_destroys_others_requested_not_their_own() -> None:
    world = make_world()
    destroy = await destroy_requested(world)
    world.clock.advance(60)
    change = await restart_requested(world)  # a change waits for its requester, not for an approver

    approver = await world.profbot.homes.build(APPROVER)
    assert ids(approver.to_decide) == [destroy.id]
    assert approver.mine == []

    requester = await world.profbot.homes.build(OPERATOR)  # an approver too, but its requester
    assert requester.to_decide == []
    assert ids(requester.mine) == [change.id, destroy.id]  # newest first
    assert [r.state for r in requester.mine] == [RequestState.AWAITING_CONFIRMATION, RequestState.AWAITING_APPROVAL]

    assert (await world.profbot.homes.build(OPERATOR_2)).to_decide == []  # an operator, not an approver


async def test_only_operators_see_the_audit_and_people_without_a_role_see_health_only() -> None:
    world = make_world()
    await restart_requested(world)
    for n in range(12):
        world.clock.advance(61)  # one refusal a minute: each recorded (bot/usecases/audit.py)
        await world.profbot.access.refused(await world.asker(STRANGER), f"thing {n}")

    operator = await world.profbot.homes.build(OPERATOR)
    assert operator.audit is not None and len(operator.audit) == 10
    assert operator.audit[0].outcome == "not an operator: thing 11"  # the latest first
    assert [h.host for h in operator.hosts] == [HOST] and operator.hosts[0].runner is not None

    assert (await world.profbot.homes.build(APPROVER)).audit is None  # an approver who is not an operator
    stranger = await world.profbot.homes.build(STRANGER)
    assert stranger.audit is None and stranger.to_decide == [] and stranger.mine == []
    assert [(h.host, h.alive, h.runner) for h in stranger.hosts] == [(HOST, True, None)]


async def test_building_a_home_asks_no_runner() -> None:
    world = make_world()
    await destroy_requested(world)
    world.bus.hosts["podhost-2"] = ["backend"]
    world.bus.down.add(HOST)  # the runner stopped heartbeating: the home says so without asking it
    asked = len(world.bus.calls)

    for user in (OPERATOR, OPERATOR_2, APPROVER, STRANGER):
        await world.profbot.homes.opened(user)

    assert len(world.bus.calls) == asked
    assert [(h.host, h.alive) for h in world.screens.of(OPERATOR)[-1].hosts] == [(HOST, False), ("podhost-2", True)]


async def test_pyroscope_s_last_known_health_is_what_the_last_check_or_diagnosis_found() -> None:
    world = make_world()
    [never] = (await world.profbot.homes.build(OPERATOR)).hosts
    assert never.health is None  # not checked yet

    await world.profbot.run(await world.asker(STRANGER), Health())
    [checked] = (await world.profbot.homes.build(STRANGER)).hosts
    assert checked.health is not None
    assert (checked.health.verdict, checked.health.procedure) == (Severity.OK, "HEALTH")

    world.stop("pyroscope")
    await world.profbot.run(await world.asker(), Diagnose(procedure="INC-PROF-001", argument="pyroscope"))
    [diagnosed_host] = (await world.profbot.homes.build(STRANGER)).hosts
    assert diagnosed_host.health is not None and diagnosed_host.health.procedure == "INC-PROF-001"
    assert diagnosed_host.health.verdict is Severity.CRITICAL

    # Where the health cannot be remembered, health is still answered.
    world.health.down = True
    await world.profbot.run(await world.asker(STRANGER), Health())
    assert len(world.people.of(HealthOverview, "post")) == 2


async def test_a_request_moving_shows_the_homes_of_those_it_concerns_again() -> None:
    world = make_world()
    for user in (OPERATOR, OPERATOR_2, APPROVER):
        await world.profbot.homes.opened(user)
    assert world.screens.users() == [OPERATOR, OPERATOR_2, APPROVER]
    world.screens.published.clear()

    destroy = await destroy_requested(world)
    # Its requester and the approvers who opened their home; not an operator it does not concern,
    # and nobody who never opened their home.
    assert set(world.screens.users()) == {OPERATOR, APPROVER}
    assert ids(world.screens.of(APPROVER)[-1].to_decide) == [destroy.id]
    assert ids(world.screens.of(OPERATOR)[-1].mine) == [destroy.id]

    world.bus.answer("pyroscope.purge_data", ChangeResult(target="pyroscope_data", steps=["removed volume"]))
    await world.profbot.decisions.decide(await world.asker(APPROVER), destroy.id, Decision.APPROVE)
    await world.settle()
    assert world.screens.of(APPROVER)[-1].to_decide == []
    [done] = world.screens.of(OPERATOR)[-1].mine
    assert done.state is RequestState.SUCCEEDED and done.decided_by == APPROVER
    assert OPERATOR_2 not in world.screens.users() and STRANGER not in world.screens.users()


async def test_a_request_moved_by_another_process_shows_the_homes_here_again() -> None:
    world = make_world()
    request = await restart_requested(world)
    world.store.requests[request.id].state = RequestState.CANCELLED  # as another process stored it
    await world.profbot.executor.refresh(request.id)
    await world.settle()
    assert world.screens.published == []  # its requester never opened their home: nothing to show again

    await world.profbot.homes.opened(OPERATOR)
    world.store.requests[request.id].state = RequestState.EXPIRED
    await world.profbot.executor.refresh(request.id)
    await world.settle()

    assert len(world.screens.of(OPERATOR)) == 2  # opened, then shown again
    [expired] = world.screens.of(OPERATOR)[-1].mine
    assert expired.state is RequestState.EXPIRED


async def test_a_home_is_shown_even_when_redis_cannot_be_read() -> None:
    world = make_world()
    world.bus.redis_down = True

    await world.profbot.homes.opened(OPERATOR)

    [home] = world.screens.of(OPERATOR)
    assert isinstance(home, HomeOverview) and home.hosts == []
    assert home.unavailable is not None and "Redis unavailable" in home.unavailable
