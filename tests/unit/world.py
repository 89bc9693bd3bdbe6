"""Every use case on in-memory fakes (tests/unit/fakes.py), with a stack that answers like the
runbook's: a host ``podhost-1`` with pyroscope, backend and ai-yolo26, and the answers a healthy
Pyroscope gives, which a test changes to put the stack in the state it needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.usecases.app import Ports, Profbot, Settings
from bot.usecases.commands import Asker, Place
from bot.usecases.ports import ChangeFeed, People
from bot.usecases.settings import AlertPolicy, ChangePolicy
from profbot.aio import BackgroundTasks
from profbot.ops import ChangeResult
from profbot.ops.containers import ContainerState, HttpProbe, LogsResult, VolumeInfo
from profbot.ops.contract import TextOutput
from profbot.ops.pyroscope import PushLatency, PyroscopeConfig, ReadyResult, RetentionSetting
from tests.unit.fakes import (
    Clock,
    FakeAuditTrail,
    FakeBus,
    FakeChangeStore,
    FakeDirectory,
    FakeHealthRecords,
    FakeHomeScreens,
    FakeHomeViewers,
    FakeLedger,
    FakeOfferStore,
    FakePeople,
)

HOST = "podhost-1"
CHANNEL = "C0PROFOPS"
ALERTS = "C0ALERTS"
OPERATOR = "U0OPERATOR"  # an operator and an approver
OPERATOR_2 = "U0OPERATOR2"  # an operator only
APPROVER = "U0APPROVER"  # an approver through the user group only
APPROVERS_GROUP = "S0APPROVERS"
STRANGER = "U0STRANGER"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def container(name: str, *, running: bool = True, exit_code: int = 0, id: str | None = None) -> ContainerState:
    return ContainerState(
        name=name, id=id or f"{name}-id-0001", image="localhost/standin:latest",
        status="running" if running else "exited", running=running, exit_code=exit_code, oom_killed=False,
        restart_count=0, healthcheck_defined=True, health="healthy" if running else None, health_failing_streak=0,
        health_last_output=None, started_at=NOW, finished_at=None if running else NOW,
    )  # fmt: skip


def ready(ok: bool = True) -> ReadyResult:
    if ok:
        return ReadyResult(url="http://localhost:4040/ready", ready=True, status_code=200, body="ready", latency_ms=3)
    return ReadyResult(
        url="http://localhost:4040/ready", ready=False, status_code=None, body="", latency_ms=1,
        error="ConnectError: refused",
    )  # fmt: skip


@dataclass
class World:
    bus: FakeBus
    people: FakePeople
    store: FakeChangeStore
    trail: FakeAuditTrail
    offers: FakeOfferStore
    directory: FakeDirectory
    ledger: FakeLedger
    clock: Clock
    tasks: BackgroundTasks
    profbot: Profbot
    states: dict[str, ContainerState] = field(default_factory=dict)
    health: FakeHealthRecords = field(default_factory=FakeHealthRecords)
    viewers: FakeHomeViewers = field(default_factory=FakeHomeViewers)
    screens: FakeHomeScreens = field(default_factory=FakeHomeScreens)  # the homes published

    async def asker(self, user: str = OPERATOR, place: Place | None = None) -> Asker:
        """Someone asking in the ops channel, with the roles profbot's own access policy gives them."""
        roles = await self.profbot.access.roles(user)
        return Asker(user=user, place=place or Place(channel=CHANNEL), roles=roles, reply_to=f"reply:{user}",
                     form_handle=f"trigger:{user}")  # fmt: skip

    def stop(self, name: str, exit_code: int = 137) -> None:
        self.states[name] = container(name, running=False, exit_code=exit_code, id=self.states[name].id)

    async def settle(self) -> None:
        """Let background work (an executor started by a confirmation) finish."""
        await self.tasks.drain(10)

    def front_end(self, people: People, feed: ChangeFeed | None = None) -> Profbot:
        """Another front end (another process) on the same stores and runners, speaking through
        ``people`` and announcing the requests it moves on ``feed``."""
        ports = Ports(bus=self.bus, people=people, changes=self.store, trail=self.trail, offers=self.offers,
                      directory=self.directory, ledger=self.ledger, feed=feed, health=self.health)  # fmt: skip
        return Profbot(ports, self.profbot.settings, tasks=self.tasks, clock=self.clock)


def make_world(
    *,
    changes: ChangePolicy | None = None,
    alerts: bool = False,
    operators: frozenset[str] = frozenset({OPERATOR, OPERATOR_2}),
    approvers: frozenset[str] = frozenset({OPERATOR, APPROVERS_GROUP}),
) -> World:
    clock = Clock()
    bus = FakeBus(hosts={HOST: ["pyroscope", "backend", "ai-yolo26", "grafana"]})
    people, trail, offers = FakePeople(), FakeAuditTrail(), FakeOfferStore()
    policy = changes or ChangePolicy(approval_ttl=900, changes_per_hour=3, verify_seconds=5)
    # Its audited writes go to the same trail; its leases are the policy's, as the processes' are.
    store = FakeChangeStore(clock, trail, executor_lease=policy.executor_lease)
    directory = FakeDirectory({APPROVERS_GROUP: {APPROVER}})
    ledger = FakeLedger(clock)
    tasks = BackgroundTasks()
    settings = Settings(
        operators=operators,
        approvers=approvers,
        job_timeout=5,
        changes=policy,
        alerts=AlertPolicy(channel=ALERTS, diagnosis_cooldown=900) if alerts else None,
    )
    health, viewers, screens = FakeHealthRecords(), FakeHomeViewers(), FakeHomeScreens()
    ports = Ports(bus=bus, people=people, changes=store, trail=trail, offers=offers, directory=directory,
                  ledger=ledger, alert_people=people, health=health, homes=screens, viewers=viewers)  # fmt: skip
    profbot = Profbot(ports, settings, tasks=tasks, clock=clock)
    world = World(bus, people, store, trail, offers, directory, ledger, clock, tasks, profbot, health=health,
                  viewers=viewers, screens=screens)  # fmt: skip
    _healthy_stack(world)
    return world


def _healthy_stack(world: World) -> None:
    """Answers of a healthy stack; ``world.states`` holds each container's state, which restarts
    and recreations change (a recreate gives the container a new id)."""
    for name in ("pyroscope", "backend", "ai-yolo26", "grafana"):
        world.states[name] = container(name)
    bus = world.bus

    def inspect(op: Any) -> ContainerState:
        return world.states[op.container]

    def restart(op: Any) -> ChangeResult:
        world.states[op.container] = container(op.container, id=world.states[op.container].id)
        return ChangeResult(target=op.container, steps=[f"restarted {op.container} (stop timeout 10s)"])

    bus.answer("container.inspect", inspect)
    bus.answer("container.restart", restart)
    bus.answer("pyroscope.ready", lambda op: ready(world.states["pyroscope"].running))
    bus.answer(
        "pyroscope.config",
        PyroscopeConfig(
            path="/srv/pyroscope/server.yml",
            output=TextOutput(lines=["storage:", "  backend: filesystem"]),
            retention=RetentionSetting(key=None, value=None, valid_for_running_version=True, explanation="none set"),
        ),
    )
    bus.answer(
        "pyroscope.push_latency",
        PushLatency(url="http://pyroscope:4040/ingest", pushed=True, visible=True, latency_ms=120, within_s=10),
    )
    bus.answer(
        "container.logs",
        lambda op: LogsResult(
            container=op.container, output=TextOutput(lines=["level=info msg=started"]), matched=None
        ),
    )
    for probe in ("container.http_get", "container.reach"):  # from inside backend, or from podman's records
        bus.answer(
            probe,
            lambda op: (
                HttpProbe(container=op.container, url=op.url, status_code=200, body="ready", client="python3")
                if world.states["pyroscope"].running
                else HttpProbe(
                    container=op.container,
                    url=op.url,
                    status_code=None,
                    body="",
                    client="python3",
                    error="Connection refused",
                )
            ),
        )
    bus.answer(
        "volume.inspect",
        lambda op: VolumeInfo(
            name=op.volume,
            driver="local",
            mountpoint="/v",
            created_at=NOW,
            labels={},
            size_bytes=100,
            used_by=["pyroscope"],
        ),
    )
