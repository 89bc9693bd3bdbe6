"""An alert group becomes a thread, as a use case on fakes: its first message, the diagnosis of
the procedure it maps to in the thread, alerts joining, its resolution, and firing again."""

from __future__ import annotations

from bot.usecases.alert_model import Alert, AlertNotification
from bot.usecases.commands import Place
from bot.usecases.content import (
    AlertFiringAgain,
    AlertNeedsTarget,
    AlertResolved,
    AlertsJoined,
    AlertThread,
    DiagnosisPosted,
)
from handlers.findings import Evidence
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

    # Firing again within the cooldown: said in the thread, not diagnosed a second time.
    world.people.said.clear()
    calls = len(world.bus.calls)
    await threads.sync(await threads.receive(notification("firing", "pyroscope:4040")))
    await world.settle()
    assert len(world.people.of(AlertFiringAgain, "reply")) == 1
    assert world.people.of(DiagnosisPosted) == [] and len(world.bus.calls) == calls


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
