"""Diagnose: run a runbook procedure on the host that has its container, and post the report.

A report goes where it was asked (or into an alert's thread), with the runbook's remediations
offered: each is kept in the offer store and a front end's button carries only its id. Long
evidence goes to the report's thread. A read remediation (verify, check again) runs the
procedure's diagnosis again, on the same host, in the same thread.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from pydantic import BaseModel

from bot.usecases.commands import Asker, Diagnose
from bot.usecases.content import (
    BusUnavailable,
    Content,
    DiagnosisPosted,
    FlameDrawing,
    NoHostFor,
    Offer,
    ProfileSummary,
    StorageDrawing,
)
from bot.usecases.home import remember_health
from bot.usecases.ports import HealthRecords, MessageRef, OfferStore, People
from bot.usecases.speech import answer, attach, reply
from handlers import pyroscope_unavailable
from handlers.actions import Offered
from handlers.context import ProcedureContext
from handlers.findings import Report
from handlers.profile_analysis import is_empty
from handlers.registry import Procedure, Runbook
from profbot.bus import Bus
from profbot.errors import ProfbotError

log = structlog.get_logger("profbot.diagnose")

# A container being recreated is missing from its runner's list for a moment: before saying no
# runner has it, wait for the next heartbeat (at most this long) and look again.
ROUTE_RETRY_MAX_SECONDS = 6.0


class Diagnoses:
    def __init__(
        self,
        bus: Bus,
        people: People,
        offers: OfferStore,
        runbook: Runbook,
        job_timeout: float,
        seen: HealthRecords | None = None,  # where INC-PROF-001's verdict is remembered (the homes show it)
    ) -> None:
        self.bus = bus
        self.people = people
        self.offers = offers
        self.runbook = runbook
        self.job_timeout = job_timeout
        self.seen = seen

    def speaking_through(self, people: People) -> Diagnoses:
        """The same diagnoses, said through other people (the alert threads' paced port)."""
        return Diagnoses(self.bus, people, self.offers, self.runbook, self.job_timeout, self.seen)

    # ------------------------------------------------------------------ running

    async def route(self, container: str) -> str | Content:
        """The host whose heartbeating runner has ``container``, or the notice why there is none."""
        try:
            hosts = await self.bus.hosts_for(container)
            if not hosts:
                runners = await self.bus.runners()
                alive = await self.bus.alive_hosts([r.host for r in runners])
                beat = max((r.heartbeat_seconds for r in runners if r.host in alive), default=0.0)
                if beat:
                    await asyncio.sleep(min(beat + 0.5, ROUTE_RETRY_MAX_SECONDS))
                    hosts = await self.bus.hosts_for(container)
        except ProfbotError as exc:
            return BusUnavailable(str(exc))
        return hosts[0] if hosts else NoHostFor(container)

    def context(self, host: str) -> ProcedureContext:
        return ProcedureContext(self.bus, host, self.job_timeout)

    async def run(self, procedure: Procedure, params: BaseModel, host: str | None = None) -> Report | Content:
        """The procedure's report, on ``host`` or the host its container is on; or why there is none."""
        if host is None:
            routed = await self.route(procedure.route_for(params))
            if not isinstance(routed, str):
                return routed
            host = routed
        report = await procedure(self.context(host), params)
        if procedure.id == pyroscope_unavailable.ID:
            await remember_health(self.seen, report)
        return report

    # ------------------------------------------------------------------ the use cases

    async def diagnose(self, asker: Asker, command: Diagnose) -> Report | None:
        procedure = self.runbook.get(command.procedure)
        if procedure is None:
            raise ValueError(f"unknown procedure {command.procedure}")  # the grammar lets none through
        outcome = await self.run(procedure, procedure.params_for(command.argument, minutes=command.minutes))
        if not isinstance(outcome, Report):
            await answer(self.people, asker, outcome)
            return None
        log.info("diagnosis_reported", procedure=procedure.id, target=command.argument, verdict=outcome.verdict.value)
        await self.publish(outcome, asker=asker)
        return outcome

    async def recheck(self, asker: Asker, offered: Offered[Any]) -> Report | None:
        """A read remediation: its diagnosis again, on the host of the report it was offered in
        (or, for another procedure's, on the host that one routes to)."""
        remedy = offered.remedy
        recheck = offered.action.recheck(offered.params)
        # The same procedure again runs where the report was made; another one (a flamegraph from
        # INC-PROF-002, INC-PROF-003 from a flamegraph) runs where that procedure routes.
        host = remedy.host if recheck.procedure.id == remedy.procedure else None
        outcome = await self.run(recheck.procedure, recheck.params, host=host)
        if not isinstance(outcome, Report):
            await answer(self.people, asker, outcome)
            return None
        await self.publish(outcome, asker=asker)
        return outcome

    # ------------------------------------------------------------------ saying it

    async def publish(
        self, report: Report, *, asker: Asker | None = None, thread: MessageRef | None = None
    ) -> MessageRef | None:
        """Post ``report`` where ``asker`` asked, or in ``thread`` (an alert's); its remediations
        offered, its evidence in its thread."""
        content = DiagnosisPosted(report, await self._offer(report), asked_by=asker.user if asker else None)
        if thread is not None:
            message = await reply(self.people, thread, content)
        elif asker is not None:
            message = await answer(self.people, asker, content)
        else:
            raise ValueError("a report goes to an asker or into a thread")
        if message is not None:
            for item in report.evidence:
                await reply(self.people, message, item)
            await self._pictures(report, message)
        return message

    async def _pictures(self, report: Report, message: MessageRef) -> None:
        """What is better seen than read, in the report's thread: the profile as a flamegraph with
        its top functions; the storage history as a chart (once there are two samples to draw)."""
        if report.profile is not None and not is_empty(report.profile):
            await reply(self.people, message, ProfileSummary(report.profile))
            await attach(self.people, message, FlameDrawing(report.profile))
        if report.storage is not None and len(report.storage.samples) >= 2:
            await attach(self.people, message, StorageDrawing(report.storage))

    async def _offer(self, report: Report) -> list[Offer]:
        offers = []
        for remedy in report.remediations:
            try:
                offers.append(Offer(await self.offers.put(remedy), remedy))
            except ProfbotError as exc:  # the report still stands, without that button
                log.warning("offer_unstored", procedure=remedy.procedure, action=remedy.action, error=str(exc))
        return offers
