"""The fleet-wide reads: freshness against what is expected on every host, the health summary of
it, `diagnose overhead` and `diagnose no-data` without a service, and the Quick Reference links.

Expected services come from each live host's runner (``containers.profiled``, asked concurrently);
which have data, from one question to Pyroscope on its host. Reports go out as diagnoses do, with
their remediations offered (bot/usecases/diagnose.py).
"""

from __future__ import annotations

import asyncio

import structlog

from bot.usecases.commands import Asker, DiagnoseEverywhere, Freshness, Ui
from bot.usecases.content import BusUnavailable, Content, NoHostFor, NoRunners, QuickLinks
from bot.usecases.diagnose import Diagnoses
from bot.usecases.speech import answer
from handlers import fleet, missing_profiles, profiling_overhead, quick_reference
from handlers.findings import Finding, Report
from handlers.missing_profiles import NoDataParams
from profbot.errors import ProfbotError

log = structlog.get_logger("profbot.fleet")

DIAGNOSED_AT_MOST = 10  # `diagnose no-data` without a service: the first this many are diagnosed


class Fleet:
    def __init__(self, diagnoses: Diagnoses) -> None:
        self.diagnoses = diagnoses
        self.bus = diagnoses.bus
        self.people = diagnoses.people
        self.job_timeout = diagnoses.job_timeout

    async def _hosts(self) -> list[str] | Content:
        """The hosts whose runners heartbeat, or why there are none."""
        try:
            runners = await self.bus.runners()
            alive = await self.bus.alive_hosts([r.host for r in runners])
        except ProfbotError as exc:
            return BusUnavailable(str(exc))
        hosts = sorted(r.host for r in runners if r.host in alive)
        return hosts if hosts else NoRunners()

    async def _profiled(self, hosts: list[str]) -> tuple[list[fleet.Profiled], list[Finding]]:
        return await fleet.profiled_everywhere(self.bus, hosts, self.job_timeout)

    # ------------------------------------------------------------------ freshness

    async def _pyroscope_host(self, wait: bool) -> str | Content:
        if wait:
            return await self.diagnoses.route("pyroscope")
        try:
            hosts = await self.bus.hosts_for("pyroscope")
        except ProfbotError as exc:
            return BusUnavailable(str(exc))
        return hosts[0] if hosts else NoHostFor("pyroscope")

    async def freshness_report(
        self, only: str | None = None, host: str | None = None, *, wait_for_pyroscope: bool = True
    ) -> Report | Content:
        """The freshness check against every expected service (on ``host``'s containers alone, when
        given), or the notice why it could not be made. Health does not wait for a `pyroscope`
        container being recreated to show up again: it says so itself."""
        hosts = await self._hosts()
        if not isinstance(hosts, list):
            return hosts
        pyroscope_host = await self._pyroscope_host(wait_for_pyroscope)
        if not isinstance(pyroscope_host, str):
            return pyroscope_host
        (profiled, unknown), fresh = await asyncio.gather(
            self._profiled([host] if host is not None else hosts),
            fleet.fresh_services(self.diagnoses.context(pyroscope_host), []),  # v1: one query for all
        )
        if only is not None:
            profiled = [p for p in profiled if p.service == only or p.container == only]
        if fresh.value is not None and fresh.value.api == "v0":  # v0 answers only for the names it is given
            names = sorted({p.service for p in profiled} | ({only} if only else set()))
            fresh = await fleet.fresh_services(self.diagnoses.context(pyroscope_host), names)
        return fleet.freshness_report(
            profiled, fresh, pyroscope_host=pyroscope_host, unknown_hosts=unknown, only=only, host=host
        )

    async def freshness(self, asker: Asker, command: Freshness) -> Report | None:
        outcome = await self.freshness_report(command.service)
        if not isinstance(outcome, Report):
            await answer(self.people, asker, outcome)
            return None
        log.info("freshness_reported", verdict=outcome.verdict.value, offered=len(outcome.remediations))
        await self.diagnoses.publish(outcome, asker=asker)
        return outcome

    # ------------------------------------------------------------------ diagnose without a service

    async def everywhere(self, asker: Asker, command: DiagnoseEverywhere) -> Report | None:
        """Overhead or no-data across every profiled service on every host."""
        if command.procedure == profiling_overhead.ID:
            return await self.overhead(asker)
        return await self.no_data(asker)

    async def overhead(self, asker: Asker) -> Report | None:
        hosts = await self._hosts()
        if not isinstance(hosts, list):
            await answer(self.people, asker, hosts)
            return None
        profiled, unknown = await self._profiled(hosts)
        read = await fleet.overhead_everywhere(self.bus, profiled, self.job_timeout)
        report = fleet.overhead_report(read, unknown)
        log.info("fleet_overhead_reported", services=len(read), verdict=report.verdict.value)
        await self.diagnoses.publish(report, asker=asker)
        return report

    async def no_data(self, asker: Asker) -> Report | None:
        """The freshness check, then each expected service without data diagnosed (INC-PROF-003)
        on its host, the first ``DIAGNOSED_AT_MOST`` of them."""
        summary = await self.freshness_report()
        if not isinstance(summary, Report):
            await answer(self.people, asker, summary)
            return None
        await self.diagnoses.publish(summary, asker=asker)
        procedure = self.diagnoses.runbook.get(missing_profiles.ID)
        assert procedure is not None, "handlers registers INC-PROF-003"
        stale = [r for r in summary.remediations if r.action == missing_profiles.diagnose.id][:DIAGNOSED_AT_MOST]
        reports = await asyncio.gather(
            *(self.diagnoses.run(procedure, NoDataParams(service=r.target), host=r.host) for r in stale)
        )
        for report in reports:
            if isinstance(report, Report):
                await self.diagnoses.publish(report, asker=asker)
            else:
                await answer(self.people, asker, report)
        return summary

    # ------------------------------------------------------------------ the Quick Reference

    async def ui(self, asker: Asker, command: Ui) -> QuickLinks | None:
        """The Pyroscope UI and Grafana Explore links, as the runner on Pyroscope's host knows them."""
        host = await self.diagnoses.route("pyroscope")
        if not isinstance(host, str):
            await answer(self.people, asker, host)
            return None
        try:
            info = next((r for r in await self.bus.runners() if r.host == host), None)
        except ProfbotError as exc:
            await answer(self.people, asker, BusUnavailable(str(exc)))
            return None
        pyroscope_ui = info.pyroscope_ui_url if info is not None else None
        grafana_ui = info.grafana_ui_url if info is not None else None
        links = QuickLinks(
            service=command.service,
            pyroscope=quick_reference.pyroscope_link(pyroscope_ui, command.service) if pyroscope_ui else None,
            grafana_explore=quick_reference.grafana_explore_link(grafana_ui, command.service) if grafana_ui else None,
            host=host,
        )
        await answer(self.people, asker, links)
        return links
