"""Every use case, built once on the ports: what each front end calls.

A front end parses what a person did (bot/usecases/commands.py), checks the roles it needs
(bot/usecases/access.py) and calls :meth:`Profbot.run` with the command, or the use case for a
click (:attr:`Profbot.requests`, :attr:`Profbot.decisions`). Answers go back through the People
port it implements.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.usecases import reads
from bot.usecases.access import AccessPolicy
from bot.usecases.alerts import AlertThreads
from bot.usecases.audit import AuditRecords
from bot.usecases.commands import (
    Asker,
    AuditQuery,
    Command,
    Decide,
    Diagnose,
    DiagnoseEverywhere,
    Freshness,
    Health,
    Help,
    RequestQuery,
    Restart,
    RunbookQuery,
    Runners,
    Ui,
)
from bot.usecases.content import Content
from bot.usecases.decisions import Decisions
from bot.usecases.diagnose import Diagnoses
from bot.usecases.execution import Executor
from bot.usecases.fleet import Fleet
from bot.usecases.home import Homes
from bot.usecases.ports import (
    AlertLedger,
    AlertMarksStore,
    AlertPeople,
    AuditTrail,
    ChangeFeed,
    ChangeStore,
    Clock,
    GroupDirectory,
    HealthRecords,
    HomeScreens,
    HomeViewers,
    OfferStore,
    People,
    Silencer,
)
from bot.usecases.requests import ChangeRequests
from bot.usecases.settings import AlertPolicy, ChangePolicy
from bot.usecases.silences import AlertActions
from bot.usecases.speech import tell
from handlers.registry import RUNBOOK, Runbook
from profbot.aio import BackgroundTasks
from profbot.bus import Bus


@dataclass(frozen=True)
class Ports:
    bus: Bus
    people: People
    changes: ChangeStore
    trail: AuditTrail
    offers: OfferStore
    directory: GroupDirectory
    ledger: AlertLedger | None = None
    alert_people: AlertPeople | None = None  # the alert threads' People (a front end may pace it)
    feed: ChangeFeed | None = None  # change requests moved, for front ends in other processes
    health: HealthRecords | None = None  # Pyroscope's last known health per host
    homes: HomeScreens | None = None  # a front end's per-person home (Slack's App Home)
    viewers: HomeViewers | None = None  # who opened their home lately
    marks: AlertMarksStore | None = None  # what people did in alert threads
    silencers: Mapping[str, Silencer] = field(default_factory=dict)  # per alert source: its Alertmanager


@dataclass(frozen=True)
class Settings:
    operators: frozenset[str] = frozenset()
    approvers: frozenset[str] = frozenset()
    job_timeout: float = 20.0  # how long a person waiting for a read is kept waiting, at most
    changes: ChangePolicy = field(default_factory=ChangePolicy)
    alerts: AlertPolicy | None = None


class Profbot:
    def __init__(
        self,
        ports: Ports,
        settings: Settings,
        *,
        book: Runbook = RUNBOOK,
        tasks: BackgroundTasks | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.ports = ports
        self.settings = settings
        self.book = book
        self.tasks = tasks if tasks is not None else BackgroundTasks()  # an empty one is falsy
        people, timeout = ports.people, settings.job_timeout
        self.audit = AuditRecords(ports.trail, clock)
        self.access = AccessPolicy(
            settings.operators, settings.approvers, ports.directory, self.audit, tasks=self.tasks
        )
        self.homes = Homes(
            bus=ports.bus, store=ports.changes, trail=ports.trail, access=self.access, tasks=self.tasks,
            screens=ports.homes, viewers=ports.viewers, health=ports.health, clock=clock,
        )  # fmt: skip
        self.diagnoses = Diagnoses(ports.bus, people, ports.offers, book, timeout, seen=ports.health)
        self.fleet = Fleet(self.diagnoses)
        self.reads = reads.Overview(
            ports.bus,
            people,
            book,
            timeout,
            profiles=lambda h: self.fleet.freshness_report(host=h, wait_for_pyroscope=False),
            seen=ports.health,
            trail=ports.trail,
        )
        self.executor = Executor(
            bus=ports.bus, people=people, store=ports.changes, audit=self.audit, book=book,
            policy=settings.changes, job_timeout=timeout, feed=ports.feed, moved=self.homes.request_moved,
            clock=clock,
        )  # fmt: skip
        self.decisions = Decisions(
            people=people, store=ports.changes, audit=self.audit, executor=self.executor, tasks=self.tasks,
            clock=clock,
        )  # fmt: skip
        self.requests = ChangeRequests(
            bus=ports.bus, people=people, store=ports.changes, offers=ports.offers, audit=self.audit, book=book,
            diagnoses=self.diagnoses, tasks=self.tasks, policy=settings.changes, job_timeout=timeout,
            moved=self.homes.request_moved, clock=clock,
        )  # fmt: skip
        self.alerts: AlertThreads | None = None
        self.alert_actions: AlertActions | None = None
        if ports.ledger is not None and ports.alert_people is not None and settings.alerts is not None:
            self.alerts = AlertThreads(
                ledger=ports.ledger, people=ports.alert_people, diagnoses=self.diagnoses, book=book,
                policy=settings.alerts, tasks=self.tasks, clock=clock,
            )  # fmt: skip
            if ports.marks is not None:
                procedure = self.alerts.procedure
                self.alert_actions = self.alerts.actions = AlertActions(
                    ledger=ports.ledger, marks=ports.marks, people=ports.alert_people, silencers=ports.silencers,
                    audit=self.audit, access=self.access, channel=settings.alerts.channel, clock=clock,
                    procedure=lambda g: (p.id if (p := procedure(g)) is not None else None),
                )  # fmt: skip
        self._commands: dict[type[Command], Callable[[Asker, Any], Awaitable[object]]] = {
            Help: self._answer_now,
            RunbookQuery: self._answer_now,
            Health: self.reads.health,
            Runners: self.reads.runners,
            Diagnose: self.diagnoses.diagnose,
            DiagnoseEverywhere: self.fleet.everywhere,
            Freshness: self.fleet.freshness,
            Ui: self.fleet.ui,
            Restart: self.requests.restart,
            AuditQuery: self.reads.audit,
            Decide: self.decisions.decide_typed,
            RequestQuery: self.decisions.show_request,
        }
        missing = [c.__name__ for c in _command_types() if c not in self._commands]
        if missing:
            raise TypeError(f"commands without a use case: {', '.join(missing)}")

    def answer_now(self, command: Command) -> Content | None:
        """The answer of a command that needs no runner and no store (help, the runbook), for a
        front end to give at once; None for the others."""
        if isinstance(command, Help):
            return reads.help_listing()
        if isinstance(command, RunbookQuery):
            return reads.runbook(self.book, command)
        return None

    async def run(self, asker: Asker, command: Command) -> None:
        """Carry out a command that was parsed and allowed; its answers go through the People port."""
        await self._commands[type(command)](asker, command)

    async def _answer_now(self, asker: Asker, command: Command) -> None:
        content = self.answer_now(command)
        if content is not None:
            await tell(self.ports.people, asker, content)


def _command_types(base: type[Command] = Command) -> list[type[Command]]:
    """Every kind of command, subclasses of subclasses included (DiagnoseEverywhere)."""
    return [kind for sub in base.__subclasses__() for kind in (sub, *_command_types(sub))]
