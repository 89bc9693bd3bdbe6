"""An alert group becomes a thread, as a use case on fakes: its first message, the diagnosis of
the procedure it maps to in the thread, alerts joining, its resolution; firing again as a new
incident in a new thread; a parent posted once when its ts could not be stored."""

from __future__ import annotations

import pytest

from bot.usecases.alert_model import Alert, AlertNotification
from bot.usecases.alerts import POST_SECONDS, POSTING_CLOCK_MARGIN
from bot.usecases.commands import Place
from bot.usecases.content import (
    AlertFiringAgain,
    AlertNeedsTarget,
    AlertResolved,
    AlertsJoined,
    AlertThread,
    DiagnosisPosted,
)
from bot.usecases.ports import MessageRef
from handlers.findings import Evidence
from profbot.errors import FrontEndUnavailable, RedisUnavailable
from tests.unit.world import ALERTS, make_world


def notification(status: str, *instances: str, alertname: str = "PyroscopeDown", **labels: str) -> AlertNotification:
    alerts = [
        Alert(status=status, labels={"alertname": alertname, "instance": i, **labels},
              annotations={"summary": f"{alertname} on {i}"}, fingerprint=f"fp-{i}")
        for i in instances
    ]  # fmt: skip
    return AlertNotification(
        source="alertmanager", group_key=f'{{}}:{{alertname="{alertname}"}}', status=status,
        alerts=alerts, group_labels={"alertname": alertname}, common_labels={"alertname": alertname},
    )  # fmt: skip


async def test_a_group_gets_one_thread_its_diagnosis_and_its_resolution() -> None:
    world = make_world(alerts=True)
    world.stop("pyroscope")
    threads = world.profbot.alerts
    assert threads is not None

    gid = await threads.receive(notification("firing", "pyroscope:4040"))
    await threads.sync(gid)
    await world.settle()

    [parent] = world.people.of(AlertThread, "post")
    assert parent.where == Place(channel=ALERTS) and parent.ref is not None
    assert isinstance(parent.content, AlertThread) and parent.content.procedure == "INC-PROF-001"
    [diagnosis] = world.people.of(DiagnosisPosted, "reply")
    assert diagnosis.where == parent.ref  # in the alert's thread
    assert isinstance(diagnosis.content, DiagnosisPosted)
    assert diagnosis.content.report.summary().startswith("Pyroscope is down")
    assert [o.remediation.label for o in diagnosis.content.offers][:2] == ["Restart pyroscope", "Recreate pyroscope"]
    assert diagnosis.content.asked_by is None
    assert world.people.of(Evidence, "reply")[0].where == diagnosis.ref
    assert not any(c.operation.kind != "read" for c in world.bus.calls)  # an alert never changes anything

    # A re-send updates the first message; a new alert joining is a reply; no second thread.
    world.people.said.clear()
    await threads.sync(await threads.receive(notification("firing", "pyroscope:4040", "pyroscope-2:4040")))
    assert [s.how for s in world.people.of(AlertThread)] == ["update"]
    [joined] = world.people.of(AlertsJoined, "reply")
    assert [a.labels["instance"] for a in joined.content.alerts] == ["pyroscope-2:4040"]  # type: ignore[union-attr]

    world.people.said.clear()
    world.clock.advance(600)
    await threads.sync(await threads.receive(notification("resolved", "pyroscope:4040", "pyroscope-2:4040")))
    [updated] = world.people.of(AlertThread, "update")
    assert isinstance(updated.content, AlertThread) and updated.content.group.status == "resolved"
    assert len(world.people.of(AlertResolved, "reply")) == 1
    assert world.ledger.groups[gid].resolved_posted


async def test_a_group_firing_after_its_resolution_is_a_new_incident_in_a_new_thread() -> None:
    world = make_world(alerts=True)
    world.stop("pyroscope")
    threads = world.profbot.alerts
    assert threads is not None
    gid = await threads.receive(notification("firing", "pyroscope:4040", "pyroscope-2:4040"))
    await threads.sync(gid)
    await world.settle()
    [first] = world.people.of(AlertThread, "post")
    await threads.sync(await threads.receive(notification("resolved", "pyroscope:4040", "pyroscope-2:4040")))
    assert world.ledger.groups[gid].resolved_posted

    # Fires again a minute later, well inside the first incident's diagnosis cooldown.
    world.people.said.clear()
    world.clock.advance(60)
    await threads.sync(await threads.receive(notification("firing", "pyroscope:4040")))
    await world.settle()
    [second] = world.people.of(AlertThread, "post")
    assert second.where == Place(channel=ALERTS) and second.ref is not None and first.ref is not None
    assert second.ref.ts != first.ref.ts  # a thread of its own, not a reply in the resolved one
    assert isinstance(second.content, AlertThread)
    new = second.content.group
    assert (new.incident, new.status, new.previous_thread_ts) == (2, "firing", first.ref.ts)
    assert new.previous_link == f"https://chat.example/{ALERTS}/{first.ref.ts}"
    assert list(new.alerts) == ["fp-pyroscope:4040"]  # the resolved alert stayed with the first incident
    [diagnosis] = world.people.of(DiagnosisPosted, "reply")
    assert diagnosis.where == second.ref  # diagnosed again, in the new thread, inside the old cooldown
    [note] = world.people.of(AlertFiringAgain, "reply")
    assert isinstance(note.where, MessageRef) and note.where.ts == first.ref.ts  # the old thread points on
    assert world.people.of(AlertResolved) == []

    # Re-sends while it fires update the new parent in place: no new thread, no second diagnosis.
    world.people.said.clear()
    calls = len(world.bus.calls)
    await threads.sync(await threads.receive(notification("firing", "pyroscope:4040")))
    await world.settle()
    [update] = world.people.of(AlertThread)
    assert update.how == "update" and update.where == MessageRef(channel=ALERTS, ts=second.ref.ts)
    assert world.people.of(DiagnosisPosted) == [] and len(world.bus.calls) == calls
    assert world.people.of(AlertsJoined) == [] and world.people.of(AlertFiringAgain) == []

    # An alert joining the new incident is a reply in the new thread.
    await threads.sync(await threads.receive(notification("firing", "pyroscope:4040", "pyroscope-3:4040")))
    [joined] = world.people.of(AlertsJoined, "reply")
    assert isinstance(joined.where, MessageRef) and joined.where.ts == second.ref.ts


async def test_a_parent_posted_whose_ts_was_not_stored_is_found_by_its_key_and_not_posted_twice() -> None:
    world = make_world(alerts=True)
    threads = world.profbot.alerts
    assert threads is not None
    gid = await threads.receive(notification("firing", "host-a", alertname="QueueBacklog"))
    world.ledger.failing_set_thread = 1  # Redis fails right after the parent is posted
    with pytest.raises(RedisUnavailable):
        await threads.sync(gid)
    [posted] = world.people.of(AlertThread, "post")
    assert world.people.looked_up == []  # a first post is not looked for
    assert world.ledger.groups[gid].thread_ts is None

    await threads.sync(gid)  # the notification comes back
    assert world.people.looked_up == [f"{gid}:1"]
    assert world.people.of(AlertThread, "post") == [posted]  # found by its key, not posted again
    assert posted.ref is not None and world.ledger.groups[gid].thread_ts == posted.ref.ts
    assert world.ledger.groups[gid].posting_key is None

    await threads.sync(await threads.receive(notification("firing", "host-a", alertname="QueueBacklog")))
    assert [s.how for s in world.people.of(AlertThread)] == ["post", "update"]
    assert len(world.people.looked_up) == 1  # once stored, never looked for again


async def test_a_parent_whose_post_never_arrived_is_looked_for_and_posted() -> None:
    world = make_world(alerts=True)
    threads = world.profbot.alerts
    assert threads is not None
    gid = await threads.receive(notification("firing", "host-a", alertname="QueueBacklog"))
    world.people.timing_out.add(ALERTS)  # the post fails: whether it arrived is not known
    with pytest.raises(FrontEndUnavailable):
        await threads.sync(gid)
    world.people.timing_out.clear()
    await threads.sync(gid)
    assert world.people.looked_up == [f"{gid}:1"]
    [posted] = world.people.of(AlertThread, "post")
    assert posted.ref is not None and world.ledger.groups[gid].thread_ts == posted.ref.ts
    assert world.people.keys == {f"{gid}:1": posted.ref}


async def test_a_parent_posted_again_is_looked_for_around_its_last_post_only() -> None:
    world = make_world(alerts=True)
    threads = world.profbot.alerts
    assert threads is not None
    gid = await threads.receive(notification("firing", "host-a", alertname="QueueBacklog"))
    world.people.timing_out.add(ALERTS)  # every post fails: whether it arrived is not known
    first = world.clock()
    with pytest.raises(FrontEndUnavailable):
        await threads.sync(gid)
    world.clock.advance(3600)
    second = world.clock()
    with pytest.raises(FrontEndUnavailable):
        await threads.sync(gid)  # looked for around the first post, not found, posted again
    assert world.ledger.groups[gid].posting_since == second  # the post noted anew before it was made

    world.people.timing_out.clear()
    world.clock.advance(3600)
    await threads.sync(gid)
    margin = POSTING_CLOCK_MARGIN
    assert world.people.looked_within == [
        (first - margin, first + POST_SECONDS + margin),  # bounded on both sides: not everything since
        (second - margin, second + POST_SECONDS + margin),  # the last post's window, not the first one's
    ]
    [posted] = world.people.of(AlertThread, "post")
    assert posted.ref is not None and world.ledger.groups[gid].thread_ts == posted.ref.ts


async def test_a_group_whose_procedure_needs_a_service_it_does_not_name_says_so() -> None:
    world = make_world(alerts=True)
    threads = world.profbot.alerts
    assert threads is not None
    gid = await threads.receive(notification("firing", "host-a", alertname="ProfilesMissing"))
    await threads.sync(gid)
    await world.settle()
    [needs] = world.people.of(AlertNeedsTarget, "reply")
    assert needs.content == AlertNeedsTarget("INC-PROF-003", "diagnose no-data SERVICE")
    assert world.bus.calls == []


async def test_a_service_label_on_one_alert_maps_the_whole_group() -> None:
    world = make_world(alerts=True)
    threads = world.profbot.alerts
    assert threads is not None
    gid = await threads.receive(notification("firing", "host-a", alertname="ProfilesMissing", service="ai-yolo26"))
    await threads.sync(gid)
    await world.settle()
    [diagnosis] = world.people.of(DiagnosisPosted, "reply")
    assert diagnosis.content.report.procedure == "INC-PROF-003"  # type: ignore[union-attr]
    assert {c.operation.container for c in world.bus.calls if hasattr(c.operation, "container")} == {"ai-yolo26"}
