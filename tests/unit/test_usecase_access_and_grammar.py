"""Who may do what (roles from ids and user groups, cached, failing closed; refusals audited), and
the one grammar both front ends parse with."""

from __future__ import annotations

import asyncio

import pytest

from bot.usecases.access import GROUP_CACHE_SECONDS, GROUP_TRUST_SECONDS, AccessPolicy, Gate, allowed, gate_of
from bot.usecases.commands import (
    AuditQuery,
    Decide,
    Diagnose,
    Health,
    Help,
    Problem,
    RequestQuery,
    Restart,
    Role,
    RunbookQuery,
    Unparsed,
    parse,
)
from profbot.approvals.rules import Decision
from profbot.errors import FrontEndUnavailable
from tests.unit.world import APPROVER, APPROVERS_GROUP, OPERATOR, OPERATOR_2, STRANGER, World, make_world


async def test_roles_come_from_ids_and_groups_and_groups_are_cached() -> None:
    world = make_world()
    access = world.profbot.access
    assert await access.roles(OPERATOR) == {Role.OPERATOR, Role.APPROVER}
    assert await access.roles(OPERATOR_2) == {Role.OPERATOR}
    assert await access.roles(APPROVER) == {Role.APPROVER}
    assert await access.roles(STRANGER) == frozenset()
    asked = world.directory.asked
    await access.roles(APPROVER)
    assert world.directory.asked == asked  # the group's members were cached


async def test_a_group_nobody_can_read_counts_nobody_in() -> None:
    world = make_world()
    world.directory.failing = FrontEndUnavailable("ratelimited")
    assert await world.profbot.access.roles(APPROVER) == frozenset()  # fail closed
    assert await world.profbot.access.roles(OPERATOR) == {Role.OPERATOR, Role.APPROVER}  # named directly


async def test_roles_known_now_never_wait_on_the_directory_and_fail_closed_until_a_group_is_read() -> None:
    world = make_world()
    access = world.profbot.access
    assert access.roles_now(OPERATOR) == {Role.OPERATOR, Role.APPROVER}  # named directly
    assert access.roles_now(APPROVER) == frozenset()  # the group is not known yet: counts nobody in
    await world.settle()  # ...and was read in the background
    assert world.directory.asked == 1
    assert access.roles_now(APPROVER) == {Role.APPROVER}  # recognised from the cache
    assert access.roles_now(STRANGER) == frozenset()  # an unknown user is refused
    await world.settle()
    assert world.directory.asked == 1  # answered from the cache: no more reads


async def test_membership_changes_are_picked_up_by_the_background_refresh() -> None:
    world = make_world()
    access = world.profbot.access
    await access.refresh()
    assert access.roles_now(APPROVER) == {Role.APPROVER}
    world.directory.groups[APPROVERS_GROUP] = {STRANGER}
    assert access.roles_now(APPROVER) == {Role.APPROVER}  # until the next refresh
    await access.refresh()
    assert access.roles_now(APPROVER) == frozenset()
    assert access.roles_now(STRANGER) == {Role.APPROVER}


def approvers_group_on_a_clock(world: World, now: list[float]) -> AccessPolicy:
    """Access with only the approvers' group, on a clock the test sets (``now[0]``)."""
    return AccessPolicy(
        frozenset(), frozenset({APPROVERS_GROUP}), world.directory, world.profbot.audit, clock=lambda: now[0],
        tasks=world.tasks,
    )  # fmt: skip


async def test_an_answer_past_the_cache_time_still_answers_and_is_read_again() -> None:
    world = make_world()
    now = [0.0]
    access = approvers_group_on_a_clock(world, now)
    await access.refresh()
    world.directory.groups[APPROVERS_GROUP] = set()
    now[0] = GROUP_CACHE_SECONDS - 1
    assert access.roles_now(APPROVER) == {Role.APPROVER}
    await world.settle()
    assert world.directory.asked == 1  # fresh enough: not read again
    now[0] = GROUP_CACHE_SECONDS + 1
    assert access.roles_now(APPROVER) == {Role.APPROVER}  # the ack does not wait for the read...
    await world.settle()
    assert world.directory.asked == 2
    assert access.roles_now(APPROVER) == frozenset()  # ...the next ones see what it read


async def test_a_refresh_the_directory_refuses_keeps_the_last_answer() -> None:
    world = make_world()
    access = world.profbot.access
    await access.refresh()
    world.directory.failing = FrontEndUnavailable("ratelimited")
    await access.refresh()
    assert access.roles_now(APPROVER) == {Role.APPROVER}  # an approver keeps the role while Slack is away


async def test_a_group_slack_keeps_refusing_stops_counting_anyone_in_and_is_not_asked_on_every_ack() -> None:
    world = make_world()
    now = [0.0]
    access = approvers_group_on_a_clock(world, now)
    await access.refresh()
    world.directory.failing = FrontEndUnavailable("no_such_subteam")
    now[0] = GROUP_CACHE_SECONDS + 1
    assert access.roles_now(APPROVER) == {Role.APPROVER}  # still trusted: read again in the background
    await world.settle()
    asked = world.directory.asked
    for _ in range(20):  # twenty acks right after the refusal: no read each
        access.roles_now(APPROVER)
    await world.settle()
    assert world.directory.asked == asked
    now[0] = GROUP_TRUST_SECONDS + 1  # removed from the group long ago, Slack refusing all along
    assert access.roles_now(APPROVER) == frozenset()
    assert await access.roles(APPROVER) == frozenset()


async def test_the_groups_are_kept_fresh_in_the_background_until_stopped() -> None:
    world = make_world()
    stop = asyncio.Event()
    keeping = asyncio.create_task(world.profbot.access.keep_fresh(stop, every=0.01))
    while world.directory.asked < 3:
        await asyncio.sleep(0.005)
    assert world.profbot.access.roles_now(APPROVER) == {Role.APPROVER}
    stop.set()
    await asyncio.wait_for(keeping, timeout=1)


async def test_a_refusal_is_audited() -> None:
    world = make_world()
    await world.profbot.access.refused(await world.asker(STRANGER), "`diagnose`")
    [event] = world.trail.events
    assert (event.kind.value, event.actor, event.outcome) == ("refused", STRANGER, "not an operator: `diagnose`")


def test_help_and_health_are_open_and_the_rest_is_for_operators() -> None:
    operator, approver = frozenset({Role.OPERATOR}), frozenset({Role.APPROVER})
    nobody: frozenset[Role] = frozenset()
    assert allowed(nobody, gate_of(Health())) and allowed(nobody, gate_of(Help()))
    assert not allowed(nobody, gate_of(Restart(service="backend")))
    assert not allowed(approver, gate_of(AuditQuery()))
    assert allowed(operator, gate_of(Diagnose(procedure="INC-PROF-001", argument="pyroscope")))
    assert allowed(approver, Gate.DECIDE) and not allowed(nobody, Gate.DECIDE)
    # Typed decisions gate like the buttons: approvers approve; confirming is an operator's.
    assert allowed(approver, gate_of(Decide(decision=Decision.APPROVE, request="1a2b3c4d")))
    assert not allowed(approver, gate_of(Decide(decision=Decision.CONFIRM, request="1a2b3c4d")))


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("", Help()),
        ("/prof health", Health()),
        ("diagnose no-data ai-yolo26", Diagnose(procedure="INC-PROF-003", argument="ai-yolo26")),
        ("diagnose INC-PROF-004", Diagnose(procedure="INC-PROF-004", argument="pyroscope")),
        ("upgrade 1.19.0", Diagnose(procedure="MAINT-PROF-001", argument="1.19.0")),
        ("runbook storage", RunbookQuery(procedure="INC-PROF-004")),
        ("restart backend", Restart(service="backend")),
        ("audit 5", AuditQuery(count=5)),
        ("approve 1A2B3C4D", Decide(decision=Decision.APPROVE, request="1a2b3c4d")),
        ("request 0123456789abcdef", RequestQuery(request="0123456789abcdef")),
    ],
)
def test_what_people_type_becomes_a_typed_command(text: str, parsed: object) -> None:
    assert parse(text) == parsed


@pytest.mark.parametrize(
    ("text", "problem", "said"),
    [
        ("restart ;rm${IFS}-rf${IFS}/", Problem.BAD_NAME, "service name"),
        ("health a;b", Problem.BAD_NAME, "host name"),
        ("upgrade 1.19;reboot", Problem.BAD_NAME, "container name"),
        ("diagnose flame", Problem.NEEDS_ARGUMENT, "flame SERVICE [MINUTES]"),
        ("diagnose INC-PROF-009", Problem.UNKNOWN_PROCEDURE, "INC-PROF-009"),
        ("audit 51", Problem.BAD_COUNT, "51"),
        ("reboot-everything now", Problem.UNKNOWN_COMMAND, "reboot-everything"),
        ("approve ;rm", Problem.BAD_REQUEST_ID, ";rm"),
        ("approve 1a2b", Problem.BAD_REQUEST_ID, "1a2b"),
        ("confirm", Problem.NEEDS_ARGUMENT, "confirm ID"),
    ],
)
def test_what_cannot_be_a_command_says_why(text: str, problem: Problem, said: str) -> None:
    parsed = parse(text)
    assert isinstance(parsed, Unparsed) and parsed.problem is problem
    assert said in (parsed.noun, parsed.usage, parsed.given)


@pytest.mark.parametrize(("text", "gate"), [("health a;b", Gate.PUBLIC), ("health ;x", Gate.PUBLIC),
                                            ("diagnose", Gate.OPERATE), ("reboot-all now", Gate.OPERATE)])  # fmt: skip
def test_what_cannot_be_parsed_is_gated_as_the_subcommand_it_was_meant_as(text: str, gate: Gate) -> None:
    parsed = parse(text)
    assert isinstance(parsed, Unparsed)
    assert gate_of(parsed) is gate


async def test_one_persons_refusals_cannot_flood_the_audit() -> None:
    world = make_world()
    stranger = await world.asker(STRANGER)
    for _ in range(50):
        await world.profbot.access.refused(stranger, "`restart`")
    await world.profbot.access.refused(await world.asker(OPERATOR_2), "`audit`")  # somebody else's: recorded
    actors = [e.actor for e in world.trail.events]
    assert actors.count(STRANGER) == 5
    assert actors.count(OPERATOR_2) == 1

    world.clock.advance(61)
    await world.profbot.access.refused(stranger, "`restart`")
    last = world.trail.events[-1]
    assert last.actor == STRANGER
    assert last.outcome == (
        f"not an operator: `restart`; and 45 more refusals of {STRANGER} in the minute before, not recorded one by one"
    )
