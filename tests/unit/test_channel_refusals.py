"""The alert and audit channels refusing the bot, as use cases on fakes: the alert poster parks what
it could not post (nothing lost, no retry loop), says so once and counts it, and brings every
parked thread up to date once the channel takes the bot; the audit mirror holds, in order."""

from __future__ import annotations

import structlog
from prometheus_client import REGISTRY

from bot.usecases.alert_model import Alert, AlertNotification
from bot.usecases.audit import AuditMirror
from bot.usecases.content import AlertThread, AuditEntry
from bot.usecases.refusals import FIRST_WAIT, LAST_WAIT
from profbot.audit import AuditEvent, AuditKind
from tests.unit.fakes import Clock, FakePeople
from tests.unit.world import ALERTS, make_world

AUDIT = "C0AUDIT"


def refusals(role: str, error: str = "not_in_channel") -> float:
    value = REGISTRY.get_sample_value("profbot_channel_refusals_total", {"role": role, "error": error})
    return value or 0.0


def notification(alertname: str, *instances: str) -> AlertNotification:
    alerts = [Alert(status="firing", labels={"alertname": alertname, "instance": i}, fingerprint=f"fp-{i}")
              for i in instances]  # fmt: skip
    return AlertNotification(
        source="alertmanager", group_key=f'{{}}:{{alertname="{alertname}"}}', status="firing", alerts=alerts,
        group_labels={"alertname": alertname}, common_labels={"alertname": alertname},
    )  # fmt: skip


async def test_an_alert_channel_that_refuses_the_bot_parks_its_groups_and_posts_them_once_it_takes_the_bot() -> None:
    world = make_world(alerts=True)
    threads = world.profbot.alerts
    assert threads is not None
    world.people.refusing.add(ALERTS)
    counted = refusals("alert")

    with structlog.testing.capture_logs() as logged:
        first = await threads.receive(notification("QueueBacklog", "host-a"))
        threads.wake()
        await threads.sync(first)  # refused: no exception, no retry loop
        second = await threads.receive(notification("DiskFull", "host-b"))
        await threads.sync(second)  # the channel waits after refusing: not even tried
        await threads.sync(await threads.receive(notification("QueueBacklog", "host-a", "host-c")))

    assert world.people.refused == 1 and world.people.said == []
    assert refusals("alert") == counted + 1
    errors = [e for e in logged if e["log_level"] == "error"]
    assert [(e["event"], e["error"], e["channel"], e["role"]) for e in errors] == [
        ("channel_refuses_bot", "not_in_channel", ALERTS, "alert")
    ]
    assert "/invite @profbot" in errors[0]["fix"]
    assert await world.ledger.parked() == sorted([first, second])  # kept, with every alert received
    assert set(world.ledger.groups[first].alerts) == {"fp-host-a", "fp-host-c"}
    assert await threads.parked_due() == []  # while the channel waits

    # A new notification tries the channel once more: still refused, counted, not logged again.
    with structlog.testing.capture_logs() as logged:
        threads.wake()
        await threads.sync(await threads.receive(notification("DiskFull", "host-b")))
    assert world.people.refused == 2 and refusals("alert") == counted + 2
    assert [e for e in logged if e["log_level"] == "error"] == []

    # Waiting longer each time, at most LAST_WAIT: then the parked groups are tried again.
    world.clock.advance(2 * FIRST_WAIT - 1)
    assert await threads.parked_due() == []
    world.clock.advance(1)
    assert await threads.parked_due() == sorted([first, second])

    # The bot was invited: the next notification's post goes through, and every parked group with it.
    world.people.refusing.clear()
    with structlog.testing.capture_logs() as logged:
        threads.wake()
        third = await threads.receive(notification("PyroscopeSlow", "host-d"))
        await threads.sync(third)
        for gid in await threads.parked_due():
            await threads.sync(gid)
    assert [e["event"] for e in logged if e["event"].startswith("channel_")] == ["channel_accepts_bot"]
    posted = {s.content.group.id: s.content.group for s in world.people.of(AlertThread, "post")}  # type: ignore[union-attr]
    assert set(posted) == {first, second, third}
    assert set(posted[first].alerts) == {"fp-host-a", "fp-host-c"}  # nothing received was lost
    assert await world.ledger.parked() == [] and await threads.parked_due() == []
    # A refused post was not posted: it is not looked for (conversations.history) before posting again.
    assert world.people.looked_up == []


async def test_the_wait_after_a_refusal_doubles_up_to_its_longest() -> None:
    world = make_world(alerts=True)
    threads = world.profbot.alerts
    assert threads is not None
    world.people.refusing.add(ALERTS)
    gid = await threads.receive(notification("QueueBacklog", "host-a"))
    waits = []
    for _ in range(7):
        await threads.sync(gid)
        waits.append(threads.refusals.wait(ALERTS))
        world.clock.advance(waits[-1])
    assert waits == [FIRST_WAIT * 2**n for n in range(4)] + [LAST_WAIT] * 3
    assert world.people.refused == 7  # one try per wait, never more


async def test_an_audit_channel_that_refuses_the_bot_holds_the_mirror_in_order() -> None:
    people, clock = FakePeople(), Clock()
    mirror = AuditMirror(people, AUDIT, clock)
    people.refusing.add(AUDIT)
    counted = refusals("audit")
    events = [AuditEvent(kind=AuditKind.REQUESTED, actor="U1", request_id=f"r{i}") for i in range(3)]

    with structlog.testing.capture_logs() as logged:
        assert await mirror(events[0]) == FIRST_WAIT  # held: tried again after a minute
        clock.advance(30)
        assert await mirror(events[0]) == FIRST_WAIT - 30  # not tried meanwhile
        clock.advance(30)
        assert await mirror(events[0]) == 2 * FIRST_WAIT  # tried, refused again: a longer wait
    assert people.refused == 2 and refusals("audit") == counted + 2
    assert [(e["event"], e["role"]) for e in logged if e["log_level"] == "error"] == [("channel_refuses_bot", "audit")]

    people.refusing.clear()
    clock.advance(2 * FIRST_WAIT)
    for event in events:
        assert await mirror(event) == 0
    assert [s.content.event.request_id for s in people.of(AuditEntry, "post")] == ["r0", "r1", "r2"]  # type: ignore[union-attr]
