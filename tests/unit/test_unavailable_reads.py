"""INC-PROF-001's reads, as a procedure on fakes: podman's recorded health stands only when it says
healthy, was checked within ten minutes, and /ready answers 200 now at a PYROSCOPE_URL that names the
container diagnosed; otherwise the health check runs again; backend's connectivity is asked with
container.reach; an alert's diagnosis begun beside its parent's post is dropped when the parent is
refused."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.usecases.content import DiagnosisPosted
from handlers.context import ProcedureContext
from handlers.findings import Report, Severity
from handlers.pyroscope_unavailable import UnavailableParams, diagnose_unavailable
from profbot.ops.pyroscope import ReadyResult
from tests.unit.test_usecase_alerts import notification
from tests.unit.world import ALERTS, HOST, World, container, make_world


async def diagnose(world: World, name: str = "pyroscope") -> Report:
    return await diagnose_unavailable(ProcedureContext(world.bus, HOST, 30), UnavailableParams(container=name))


def checked(world: World, ago: timedelta, name: str = "pyroscope") -> None:
    """``name``'s recorded health check ended ``ago``."""
    when = datetime.now(UTC) - ago
    world.states[name] = world.states[name].model_copy(update={"health_checked_at": when})


def ready_at(world: World, url: str) -> None:
    """The runner's PYROSCOPE_URL is ``url``, and its /ready answers 200."""
    world.bus.answer("pyroscope.ready", ReadyResult(url=url, ready=True, status_code=200, body="ready", latency_ms=2))


def healthchecks_run(world: World) -> int:
    return len([c for c in world.bus.ran("container.inspect") if getattr(c.operation, "run_healthcheck", False)])


def container_finding(report: Report) -> str:
    return next(f.detail for f in report.findings if f.check == "container pyroscope")


async def test_recorded_healthy_with_ready_answering_is_not_checked_again() -> None:
    world = make_world()
    checked(world, timedelta(seconds=30))
    ready_at(world, "http://pyroscope:4040/ready")  # the URL names the container diagnosed
    report = await diagnose(world)
    assert report.verdict is Severity.OK
    assert healthchecks_run(world) == 0
    assert "healthy (as podman recorded it 30 s ago" in container_finding(report)
    assert "not re-run: under 10 min old and /ready at pyroscope answers 200 now" in container_finding(report)
    # backend's connectivity through container.reach, not an exec of its own
    assert [c.operation.model_dump() for c in world.bus.ran("container.reach")] == [
        {"container": "backend", "url": "http://pyroscope:4040/ready"}
    ]
    assert world.bus.ran("container.http_get") == []


async def test_a_stale_recorded_verdict_is_checked_again() -> None:
    world = make_world()
    checked(world, timedelta(minutes=11))
    ready_at(world, "http://pyroscope:4040/ready")
    report = await diagnose(world)
    assert healthchecks_run(world) == 1
    assert "not re-run" not in container_finding(report)
    assert "health checked again now: recorded 11 min ago, over 10 min" in container_finding(report)


async def test_a_verdict_without_its_time_is_checked_again() -> None:
    world = make_world()  # the world's pyroscope has a healthy verdict but no health_checked_at
    ready_at(world, "http://pyroscope:4040/ready")
    await diagnose(world)
    assert healthchecks_run(world) == 1


async def test_a_url_that_may_lead_elsewhere_runs_the_check_again() -> None:
    """localhost:4040 is whatever publishes that port: here not the container diagnosed."""
    world = make_world()
    checked(world, timedelta(seconds=30))
    world.states["pyroscope"] = world.states["pyroscope"].model_copy(update={"published_ports": [4041]})
    ready_at(world, "http://localhost:4040/ready")
    report = await diagnose(world)
    assert healthchecks_run(world) == 1
    assert "PYROSCOPE_URL (http://localhost:4040/ready) may not lead to pyroscope" in container_finding(report)


async def test_this_hosts_loopback_at_the_port_the_container_publishes_leads_to_it() -> None:
    world = make_world()
    checked(world, timedelta(seconds=30))
    world.states["pyroscope"] = world.states["pyroscope"].model_copy(update={"published_ports": [4040]})
    ready_at(world, "http://127.0.0.1:4040/ready")
    report = await diagnose(world)
    assert healthchecks_run(world) == 0
    assert "not re-run: under 10 min old and /ready at" in container_finding(report)


async def test_another_container_than_the_configured_one_is_checked_again() -> None:
    """The runner's /ready answers for `pyroscope`; the procedure diagnoses `pyroscope-canary`."""
    world = make_world()
    world.states["pyroscope-canary"] = container("pyroscope-canary")
    checked(world, timedelta(seconds=30), "pyroscope-canary")
    checked(world, timedelta(seconds=30))
    ready_at(world, "http://pyroscope:4040/ready")
    report = await diagnose(world, "pyroscope-canary")
    assert healthchecks_run(world) == 1
    assert [c.operation.model_dump()["container"] for c in world.bus.ran("container.inspect")] == [
        "pyroscope-canary"
    ] * 2
    detail = next(f.detail for f in report.findings if f.check == "container pyroscope-canary")
    assert "may not lead to pyroscope-canary" in detail


async def test_ready_failing_runs_the_health_check_again() -> None:
    world = make_world()
    unready = ReadyResult(url="http://localhost:4040/ready", ready=False, status_code=503, body="not ready",
                          latency_ms=2)  # fmt: skip
    world.bus.answer("pyroscope.ready", unready)
    report = await diagnose(world)
    assert healthchecks_run(world) == 1
    assert "not re-run" not in container_finding(report)
    assert report.summary() == "Pyroscope is running but not ready: /ready answers 503 `not ready`"


async def test_a_health_not_recorded_healthy_is_checked_again() -> None:
    for health in ("starting", "unhealthy", None):
        world = make_world()
        world.states["pyroscope"] = world.states["pyroscope"].model_copy(update={"health": health})
        await diagnose(world)
        assert healthchecks_run(world) == 1, health


async def test_a_stopped_container_has_no_health_check_to_run() -> None:
    world = make_world()
    world.stop("pyroscope")
    report = await diagnose(world)
    assert healthchecks_run(world) == 0
    assert report.summary().startswith("Pyroscope is down: exited with code 137")


async def test_an_alert_whose_parent_is_refused_gets_no_diagnosis_and_its_reads_are_dropped() -> None:
    world = make_world(alerts=True)
    world.people.refusing.add(ALERTS)
    threads = world.profbot.alerts
    assert threads is not None
    await threads.sync(await threads.receive(notification("firing", "pyroscope:4040")))
    await world.settle()
    await asyncio.sleep(0)
    assert world.people.of(DiagnosisPosted) == []
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []

    # Once the channel takes the bot, the thread and its diagnosis come, once.
    world.people.refusing.clear()
    threads.wake()
    for gid in await threads.parked_due():
        await threads.sync(gid)
    await world.settle()
    assert len(world.people.of(DiagnosisPosted, "reply")) == 1
