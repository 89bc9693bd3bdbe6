"""The reading use cases: help, the runbook's index, the runners and Pyroscope's health on every
host. Reading is free for operators, and health for everyone."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog

from bot.usecases.commands import HELP, Asker, AuditQuery, Health, RunbookQuery, Runners, diagnosable, usage
from bot.usecases.content import (
    AuditListing,
    BusUnavailable,
    Content,
    HealthOverview,
    HelpLine,
    HelpListing,
    NoHostFor,
    NoRunners,
    RunbookEntry,
    RunbookIndex,
    RunbookLine,
    RunnersOverview,
)
from bot.usecases.home import remember_health
from bot.usecases.ports import AuditTrail, HealthRecords, People
from bot.usecases.speech import answer, tell
from handlers import health as health_check
from handlers import missing_profiles
from handlers.context import ProcedureContext
from handlers.findings import Finding, Report, Severity
from handlers.registry import Runbook
from profbot.aio import SingleFlight
from profbot.audit import AuditEvent
from profbot.bus import Bus
from profbot.errors import NoRunner, ProfbotError, RedisUnavailable
from profbot.jobs import RunnerInfo

log = structlog.get_logger("profbot.reads")


def help_listing() -> HelpListing:
    return HelpListing([HelpLine(line_usage, what) for line_usage, what in HELP.values()])


def runbook(book: Runbook, query: RunbookQuery) -> RunbookIndex | RunbookEntry:
    if query.procedure is None:
        return RunbookIndex([RunbookLine(p.id, p.title, usage(p)) for p in diagnosable(book)])
    procedure = book.get(query.procedure)
    if procedure is None:
        raise ValueError(f"unknown procedure {query.procedure}")  # the grammar lets none through
    return RunbookEntry(procedure.id, procedure.title, procedure.doc, usage(procedure))


# The freshness check against the expected services (on one host's containers, or every host's):
# what health summarises beside Pyroscope's own checks (bot/usecases/fleet.py).
ProfilesCheck = Callable[[str | None], Awaitable[Report | Content]]


class Overview:
    """Runners and health, across hosts."""

    def __init__(
        self,
        bus: Bus,
        people: People,
        book: Runbook,
        job_timeout: float,
        trail: AuditTrail,
        profiles: ProfilesCheck | None = None,
        seen: HealthRecords | None = None,  # where each host's verdict is remembered (the homes show it)
    ) -> None:
        self.bus = bus
        self.trail = trail
        self.people = people
        self.book = book
        self.job_timeout = job_timeout
        self.seen = seen
        self.profiles = profiles
        self.profile_checks: SingleFlight[Report | Content] = SingleFlight()  # likewise the freshness summary
        # Ten people asking for health during an incident start one check per host, not ten,
        # and read the runners' list once.
        self.checks: SingleFlight[Report] = SingleFlight()
        self.listing: SingleFlight[list[RunnerInfo]] = SingleFlight()

    async def audit(self, asker: Asker, query: AuditQuery) -> list[AuditEvent]:
        """``audit [N]``: the latest entries of the audit trail, newest first."""
        events = await self.trail.latest(query.count)
        await tell(self.people, asker, AuditListing(events))
        return events

    async def runners(self, asker: Asker, command: Runners | None = None) -> None:
        try:
            runners = await self.bus.runners()
            alive = await self.bus.alive_hosts([r.host for r in runners])
            content: Content = RunnersOverview(runners, frozenset(alive)) if runners else NoRunners()
        except RedisUnavailable as exc:
            content = BusUnavailable(str(exc))
        await tell(self.people, asker, content)

    async def health(self, asker: Asker, command: Health) -> list[Report] | None:
        outcome, profiles = await asyncio.gather(self.health_reports(command.host), self._profiles(command.host))
        if not isinstance(outcome, list):
            await answer(self.people, asker, outcome)
            return None
        log.info("health_reported", hosts=[r.host for r in outcome], verdicts=[r.verdict.value for r in outcome])
        await answer(self.people, asker, HealthOverview(outcome, asker.user, profiles=profiles))
        return outcome

    async def _profiles(self, host: str | None) -> Report | None:
        """The freshness summary; None when it could not be made (health still answers)."""
        check = self.profiles
        if check is None:
            return None
        try:
            made = await self.profile_checks.run(("profiles", host), lambda: check(host))
        except ProfbotError as exc:
            log.warning("health_profiles_unchecked", error=str(exc))
            return None
        if isinstance(made, Report):
            return made
        if isinstance(made, NoHostFor):
            why = f"no runner reports a `{made.target}` container right now"
        else:
            why = made.error if isinstance(made, BusUnavailable) else "no runner heartbeats"
        return Report(
            procedure=missing_profiles.ID,
            title="Profile freshness",
            host=host or "every host",
            findings=[Finding(check="profiles", severity=Severity.INFO, detail=f"not checked: {why}")],
            finished_at=datetime.now(UTC),
        )

    async def health_reports(self, host: str | None) -> list[Report] | Content:
        """One health report per host (or for ``host``), or the notice saying why there are none."""
        try:
            hosts = (
                [host] if host is not None else [r.host for r in await self.listing.run("runners", self.bus.runners)]
            )
            if not hosts:
                return NoRunners()
            return list(await asyncio.gather(*(self._shared(h) for h in hosts)))
        except RedisUnavailable as exc:
            return BusUnavailable(str(exc))

    async def _shared(self, host: str) -> Report:
        return await self.checks.run((health_check.ID, host), lambda: self._one(host))

    async def _one(self, host: str) -> Report:
        try:
            await self.bus.ensure_runner(host)
        except NoRunner as exc:
            return Report(
                procedure=health_check.ID,
                title="Pyroscope health",
                host=host,
                findings=[Finding(check="runner", severity=Severity.CRITICAL, detail=str(exc))],
                finished_at=datetime.now(UTC),
            )
        procedure = self.book.get(health_check.ID)
        assert procedure is not None, "handlers registers HEALTH"
        report = await procedure(ProcedureContext(self.bus, host, self.job_timeout), health_check.HealthParams())
        await remember_health(self.seen, report)
        return report
