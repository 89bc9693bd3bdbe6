"""Silencing an alert group from its thread, as a use case on fakes: the silence's matchers are the
group's labels, the parent shows what Alertmanager says, refusals and failures leave nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.usecases.alert_state import state_line
from bot.usecases.content import AlertActionFailed, AlertThread, NotAllowed
from bot.usecases.silence_model import Matcher
from bot.usecases.silences import AlertActions
from profbot.audit import AuditKind
from tests.unit.fake_silencer import FakeMarks, FakeSilencer
from tests.unit.test_usecase_alerts import notification
from tests.unit.world import ALERTS, OPERATOR, World, make_world


async def setup(labels: dict[str, str] | None = None) -> tuple[World, AlertActions, FakeSilencer, FakeMarks, str]:
    world = make_world(alerts=True)
    threads = world.profbot.alerts
    assert threads is not None
    gid = await threads.receive(notification("firing", "pyroscope:4040", alertname='Pyro "down" ü', **(labels or {})))
    await threads.sync(gid)
    silencer, marks = FakeSilencer(world.clock), FakeMarks()
    actions = AlertActions(
        ledger=world.ledger, marks=marks, people=world.people, silencers={"alertmanager": silencer},
        audit=world.profbot.audit, access=world.profbot.access, procedure=lambda g: None, channel=ALERTS,
        clock=world.clock,
    )  # fmt: skip
    return world, actions, silencer, marks, gid


def last_parent(world: World) -> AlertThread:
    content = world.people.of(AlertThread)[-1].content
    assert isinstance(content, AlertThread)
    return content


async def test_a_silence_has_the_groups_matchers_and_the_parent_shows_it() -> None:
    world, actions, silencer, _, gid = await setup()
    await actions.silence((await world.asker(OPERATOR)).model_copy(update={"name": "ana"}), gid, 1)

    [spec] = silencer.posted
    assert spec.matchers == [Matcher(name="alertname", value='Pyro "down" ü')]  # equality, not a regex
    assert spec.createdBy == f"ana ({OPERATOR})"
    assert "https://chat.example/" in spec.comment  # the thread's link
    assert (spec.endsAt - spec.startsAt).total_seconds() == 3600
    parent = last_parent(world)
    assert parent.silence is not None and parent.silence.state == "active" and parent.silence.by == OPERATOR
    line = state_line(parent, world.clock(), lambda u: f"@{u}", lambda t: f"{datetime.fromtimestamp(t, UTC):%H:%M}")
    assert line.startswith("firing 1 of 1 · silenced by @") and "until" in line
    [event] = [e for e in world.trail.events if e.kind is AuditKind.SILENCED]
    assert 'alertname="Pyro \\"down\\" ü"' in (event.outcome or "") and event.target == parent.silence.id


async def test_extend_and_expire_change_the_silence_in_alertmanager() -> None:
    world, actions, silencer, marks, gid = await setup()
    asker = await world.asker(OPERATOR)
    await actions.silence(asker, gid, 1)
    silence_id = marks.kept[gid].silence_id
    assert silence_id is not None
    before = silencer.silences[silence_id].endsAt
    await actions.extend(asker, gid)
    assert (silencer.silences[silence_id].endsAt - before).total_seconds() == 3600
    await actions.expire(asker, gid)
    assert silencer.silences[silence_id].state == "expired"
    assert last_parent(world).silence is not None and last_parent(world).silence.state == "expired"  # type: ignore[union-attr]
    kinds = [e.kind for e in world.trail.events]
    assert AuditKind.SILENCE_EXTENDED in kinds and AuditKind.SILENCE_EXPIRED in kinds


async def test_a_non_operator_creates_nothing_and_is_audited() -> None:
    world, actions, silencer, _, gid = await setup()
    await actions.silence(await world.asker("U0STRANGER"), gid, 1)
    assert silencer.silences == {}
    assert world.people.of(NotAllowed, "tell")
    assert any(e.kind is AuditKind.REFUSED and e.actor == "U0STRANGER" for e in world.trail.events)


async def test_alertmanager_down_tells_why_and_leaves_the_thread() -> None:
    world, actions, silencer, marks, gid = await setup()
    silencer.down = True
    updates = len(world.people.of(AlertThread))
    await actions.silence(await world.asker(OPERATOR), gid, 4)
    [told] = world.people.of(AlertActionFailed, "tell")
    assert isinstance(told.content, AlertActionFailed) and "did not answer" in told.content.reason
    assert len(world.people.of(AlertThread)) == updates and marks.kept == {}


async def test_a_silence_profbot_cannot_keep_is_expired_again() -> None:
    world, actions, silencer, marks, gid = await setup()
    marks.failing = True
    await actions.silence(await world.asker(OPERATOR), gid, 1)
    [silence] = silencer.silences.values()
    assert silence.state == "expired"
    assert world.people.of(AlertActionFailed, "tell")
    assert not any(e.kind is AuditKind.SILENCED for e in world.trail.events)


async def test_an_acknowledgement_is_shown_until_the_group_resolves() -> None:
    world, actions, _, _, gid = await setup()
    await actions.acknowledge(await world.asker(OPERATOR), gid)
    assert last_parent(world).acked_by == OPERATOR
    group = await world.ledger.group(gid)
    assert group is not None
    resolved = group.model_copy(update={"status": "resolved"})
    assert (await actions.thread(resolved, None)).acked_by is None
    next_incident = group.model_copy(update={"incident": group.incident + 1})
    assert (await actions.thread(next_incident, None)).acked_by is None


async def test_a_grafana_group_without_grafana_offers_no_silence() -> None:
    world, actions, _, _, gid = await setup()
    group = await world.ledger.group(gid)
    assert group is not None
    assert "PROFBOT_GRAFANA_URL" in (actions.silencing(group.model_copy(update={"source": "grafana"})) or "")


async def test_the_slack_parent_offers_silences_then_extend_and_expire() -> None:
    import json

    from bot.slack.render import render

    world, actions, _, _, gid = await setup()
    group = await world.ledger.group(gid)
    assert group is not None
    offered = json.dumps(render(await actions.thread(group, None)).as_kwargs()["blocks"])
    assert all(f"Silence {h} h" in offered for h in (1, 4, 24)) and "I'm on it" in offered
    await actions.silence(await world.asker(OPERATOR), gid, 1)
    shown = json.dumps(render(last_parent(world)).as_kwargs()["blocks"])
    assert "Extend 1 h" in shown and "Expire silence" in shown and "silenced by <@" in shown
    unset = json.dumps(render(AlertThread(group, None)).as_kwargs()["blocks"])
    assert "Silence 1 h" not in unset and "PROFBOT_ALERTMANAGER_URL" in unset
