"""Diagnose, health and the read buttons, as use cases on fakes: what is posted where, what a
button stands for, and what people are told when there is no answer to give."""

from __future__ import annotations

from bot.usecases.commands import Diagnose, Health, Place, parse
from bot.usecases.content import (
    BusUnavailable,
    CannotPostHere,
    DiagnosisPosted,
    HealthOverview,
    NoHostFor,
    StaleOffer,
)
from handlers.findings import Evidence, Severity
from profbot.ops import OpKind
from tests.unit.world import CHANNEL, HOST, OPERATOR, make_world


async def test_a_diagnosis_is_posted_with_its_offers_and_its_evidence_in_the_thread() -> None:
    world = make_world()
    world.stop("pyroscope", exit_code=137)
    asker = await world.asker()
    command = parse("diagnose unavailable")
    assert isinstance(command, Diagnose)

    report = await world.profbot.diagnoses.diagnose(asker, command)

    assert report is not None and report.verdict is Severity.CRITICAL
    [posted] = world.people.of(DiagnosisPosted, "post")
    assert posted.where == Place(channel=CHANNEL)
    assert isinstance(posted.content, DiagnosisPosted)
    assert posted.content.report.summary().startswith("Pyroscope is down: exited with code 137")
    offers = posted.content.offers
    assert [(o.remediation.label, o.remediation.kind) for o in offers] == [
        ("Restart pyroscope", OpKind.CHANGE),
        ("Recreate pyroscope", OpKind.CHANGE),
        ("Verify /ready", OpKind.READ),
    ]
    # A button will carry the offer's id only; the store holds what it stands for.
    assert {o.id for o in offers} == set(world.offers.offers)
    assert all(world.offers.offers[o.id] == o.remediation for o in offers)
    [evidence] = world.people.of(Evidence, "reply")
    assert evidence.where == posted.ref  # in the report's thread
    assert evidence.content.title == "pyroscope: last 100 log lines"  # type: ignore[union-attr]
    assert {c.host for c in world.bus.calls} == {HOST}


async def test_a_container_no_runner_reports_is_said_and_nothing_runs() -> None:
    world = make_world()
    world.bus.hosts[HOST].remove("ai-yolo26")
    asker = await world.asker()
    command = parse("diagnose overhead ai-yolo26")
    assert isinstance(command, Diagnose)

    assert await world.profbot.diagnoses.diagnose(asker, command) is None

    [said] = world.people.said
    assert said.how == "post" and said.content == NoHostFor("ai-yolo26")
    assert world.bus.calls == []


async def test_a_channel_that_refuses_the_bot_gets_the_answer_to_the_asker_alone() -> None:
    world = make_world()
    world.people.refusing.add(CHANNEL)
    asker = await world.asker()

    await world.profbot.run(asker, Health())

    [told] = world.people.told(OPERATOR)
    assert isinstance(told, CannotPostHere) and told.reason == "not_in_channel"
    assert isinstance(told.content, HealthOverview) and told.content.reports[0].host == HOST


async def test_health_with_redis_gone_says_the_bus_is_unavailable() -> None:
    world = make_world()
    world.bus.redis_down = True
    await world.profbot.run(await world.asker(), Health())

    [said] = world.people.said
    assert said.content == BusUnavailable("Redis unavailable: connection refused")


async def test_a_read_button_runs_the_diagnosis_again_in_the_thread_it_was_clicked_in() -> None:
    world = make_world()
    world.stop("pyroscope")
    await world.profbot.diagnoses.diagnose(
        await world.asker(), Diagnose(procedure="INC-PROF-001", argument="pyroscope")
    )
    first = world.people.of(DiagnosisPosted, "post")[0]
    assert isinstance(first.content, DiagnosisPosted) and first.ref is not None
    verify = next(o for o in first.content.offers if o.remediation.kind is OpKind.READ)
    world.people.said.clear()
    world.states["pyroscope"] = world.states["backend"].model_copy(update={"name": "pyroscope"})  # back up

    clicked_in = first.ref.thread_place
    await world.profbot.requests.remediate(await world.asker(place=clicked_in), verify.id)

    [again] = world.people.of(DiagnosisPosted, "post")
    assert again.where == clicked_in
    assert isinstance(again.content, DiagnosisPosted) and again.content.report.verdict is Severity.OK


async def test_an_unknown_or_stale_offer_is_refused_and_nothing_runs() -> None:
    world = make_world()
    asker = await world.asker()

    await world.profbot.requests.remediate(asker, "0" * 32)

    assert world.people.told(OPERATOR) == [StaleOffer()]
    assert world.bus.calls == [] and world.store.requests == {}
