"""The runbook across the fleet: every container labelled ``pyroscope.profile=true`` on every host.

- Freshness that knows what to expect (INC-PROF-003): the expected services are the profiled
  containers' (``pyroscope.service``, else ``SERVICE_NAME``) plus what Pyroscope has seen; one
  LabelValues query says which have data. An expected service without data is flagged with its
  host and container, and offered its INC-PROF-003 diagnosis.
- Overhead everywhere (INC-PROF-002): py-spy's CPU in every profiled container, worst first, with
  the runbook's remediations for those over the 5 % threshold; when most are over it, the
  runbook's "disable profiling globally" too.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from handlers import missing_profiles, profiling_overhead
from handlers.actions import ServiceParams
from handlers.context import Outcome, ProcedureContext
from handlers.findings import Finding, Remediation, Report, Severity
from handlers.profiling_overhead import OVERHEAD_ALERT, OVERHEAD_EXPECTED_MAX
from profbot.bus import Bus
from profbot.ops.containers import ContainerEnv, ContainerList, ContainerProcesses, ListProfiledContainers, ProcessList
from profbot.ops.pyroscope import CANARY_SERVICE, Freshness, PyroscopeFreshness
from profbot.settings import NAME_PATTERN

FRESH_MINUTES = 5  # the runbook's freshness window
V0_BATCH = 50  # v0 has no label query: its render query is asked per service, 50 to a job
LISTED_STALE = 30  # stale services named one by one; the rest are counted
OFFERED = 10  # services offered buttons (Slack shows at most 25 in a message)
NAMED_FRESH = 40
# Jobs in flight per host for a fleet-wide read: the runner's concurrency (PROFBOT_RUNNER_CONCURRENCY's
# default). More would only queue on the runner, past the job timeout, and read as "not read".
IN_FLIGHT_PER_HOST = 8

# The procedures that, given no service, run across the fleet.
FLEET_WIDE = frozenset({missing_profiles.ID, profiling_overhead.ID})


@dataclass(frozen=True)
class Profiled:
    """A container that should be profiling: where it runs and the service its profiles arrive as."""

    host: str
    container: str
    service: str
    status: str


async def profiled_everywhere(bus: Bus, hosts: Sequence[str], timeout: float) -> tuple[list[Profiled], list[Finding]]:
    """Every profiled container on ``hosts`` (asked concurrently, one job per host), and a finding
    for each host that could not say."""

    async def one(host: str) -> Outcome[ContainerList]:
        return await ProcedureContext(bus, host, timeout).run(ListProfiledContainers())

    listed = await asyncio.gather(*(one(h) for h in hosts))
    found: list[Profiled] = []
    unknown: list[Finding] = []
    for host, outcome in zip(hosts, listed, strict=True):
        if outcome.value is None:
            detail = f"its profiled containers could not be listed: {outcome.error}"
            unknown.append(Finding(check=f"host {host}", severity=Severity.WARNING, detail=detail))
            continue
        found += [Profiled(host, c.name, c.profiled_as, c.status) for c in outcome.value.containers]
    return sorted(found, key=lambda p: (p.service, p.host, p.container)), unknown


async def fresh_services(ctx: ProcedureContext, expected: Sequence[str]) -> Outcome[Freshness]:
    """Which services have data in the window, asked on Pyroscope's host: on v1 one label query
    answers for every service; v0 has none, so its render query is asked for the expected ones."""
    first = await ctx.run(PyroscopeFreshness(services=[], minutes=FRESH_MINUTES))
    if first.value is None or first.value.api != "v0" or not expected:
        return first
    names = sorted(set(expected))
    batches = [names[i : i + V0_BATCH] for i in range(0, len(names), V0_BATCH)]
    answers = await asyncio.gather(*(ctx.run(PyroscopeFreshness(services=b, minutes=FRESH_MINUTES)) for b in batches))
    failed = next((a for a in answers if a.value is None), None)
    if failed is not None:
        return failed
    services = [s for a in answers if a.value is not None for s in a.value.services]
    seen = sorted(s.service for s in services if s.has_data)
    return Outcome(first.value.model_copy(update={"services": services, "seen_services": seen}))


def freshness_report(
    profiled: list[Profiled],
    fresh: Outcome[Freshness],
    *,
    pyroscope_host: str,
    unknown_hosts: Sequence[Finding] = (),
    only: str | None = None,
    host: str | None = None,
) -> Report:
    """The freshness check against what is expected: each expected service without data, with
    its host and container, and a button to diagnose it; those with data, counted and named.
    ``only`` is a service or a container's name; with ``host``, ``profiled`` is that host's alone
    and only its services are counted (what Pyroscope has seen is every host's)."""
    if only is not None:
        profiled = [p for p in profiled if only in (p.service, p.container)]
    expected: dict[str, list[Profiled]] = {}
    for p in profiled:
        expected.setdefault(p.service, []).append(p)
    findings: list[Finding] = list(unknown_hosts)
    notes: list[str] = []
    remediations: list[Remediation] = []
    f = fresh.value
    if f is None or f.api == "unsupported":
        why = str(fresh.error) if f is None else (f.note or "this Pyroscope speaks no API profbot knows")
        findings.append(Finding(check="Pyroscope", severity=Severity.WARNING, detail=f"freshness not read: {why}"))
        seen: set[str] = set()
    else:
        # profbot's own push-latency canary is nobody's service: neither expected nor counted.
        seen = (set(f.seen_services) | {s.service for s in f.services if s.has_data}) - {CANARY_SERVICE}
        if f.note:
            notes.append(f.note)
    if host is not None:
        seen &= set(expected)
    # A container's name stands for the service it runs as; a name nothing runs, for itself.
    names = sorted((set(expected) | seen) if only is None else (set(expected) or {only}))
    stale = [n for n in names if n not in seen and (f is not None and f.api != "unsupported")]
    for name in stale[:LISTED_STALE]:
        where = ", ".join(f"container {p.container} on {p.host} ({p.status})" for p in expected.get(name, []))
        detail = (
            f"expected ({where}), no profiles in the last {FRESH_MINUTES} min"
            if where
            else f"no labelled container runs it, and no profiles in the last {FRESH_MINUTES} min"
        )
        findings.append(Finding(check=name, severity=Severity.CRITICAL if where else Severity.WARNING, detail=detail))
    if len(stale) > LISTED_STALE:
        more = len(stale) - LISTED_STALE
        findings.append(Finding(check="and more", severity=Severity.CRITICAL, detail=f"{more} more without data"))
    for name in stale[:OFFERED]:
        for p in expected.get(name, [])[:1]:  # INC-PROF-003 reads the container, on its host
            if _offerable(p.container):
                remediations.append(missing_profiles.diagnose.offer(p.host, ServiceParams(service=p.container)))
    with_data = [n for n in names if n in seen]
    if with_data:
        unexpected = [n for n in with_data if n not in expected]
        shown = ", ".join(with_data[:NAMED_FRESH]) + (
            f" and {len(with_data) - NAMED_FRESH} more" if len(with_data) > NAMED_FRESH else ""
        )
        extra = f" ({len(unexpected)} of them from no labelled container)" if unexpected and only is None else ""
        findings.append(
            Finding(
                check="with data",
                severity=Severity.OK,
                detail=f"{len(with_data)} service{'s' if len(with_data) != 1 else ''} sent profiles in the last "
                f"{FRESH_MINUTES} min{extra}: {shown}",
            )
        )
    if not names and f is not None:
        findings.append(
            Finding(
                check="expected", severity=Severity.INFO, detail="no profiled container on any host, and no profiles"
            )
        )
    headline = None
    if stale:
        headline = f"{len(stale)} of {len(names)} services sent no profiles in the last {FRESH_MINUTES} min"
    elif names and f is not None and f.api != "unsupported":
        headline = f"All {len(names)} services sent profiles in the last {FRESH_MINUTES} min"
    hosts = sorted({p.host for p in profiled} | {pyroscope_host})
    return Report(
        procedure=missing_profiles.ID,
        title="Profile freshness" + (f" of {only}" if only else ", every host"),
        host=", ".join(hosts),
        findings=findings,
        finished_at=datetime.now(UTC),
        headline=headline,
        remediations=remediations,
        notes=notes,
    )


def _offerable(name: str) -> bool:
    """A service name a button may carry (Pyroscope's label values are not checked names)."""
    return bool(re.fullmatch(NAME_PATTERN, name)) and len(name) <= 128


# ---------------------------------------------------------------------------- overhead everywhere


@dataclass(frozen=True)
class Overhead:
    """py-spy's CPU in one profiled container, or why it was not read."""

    profiled: Profiled
    spies: Outcome[ProcessList] | None  # None: not asked, the container is not running
    interval: int | None = None  # PROFILE_INTERVAL, read for those over the threshold

    @property
    def cpu(self) -> float | None:
        if self.spies is None or self.spies.value is None:
            return None
        return sum(p.cpu_percent for p in self.spies.value.processes)


async def overhead_everywhere(bus: Bus, profiled: Sequence[Profiled], timeout: float) -> list[Overhead]:
    """py-spy's processes in every running profiled container, at most ``IN_FLIGHT_PER_HOST`` jobs
    at once on a host; PROFILE_INTERVAL for those over the alert threshold (what the raised
    interval is computed from). A container not running has no py-spy to read: it is not asked."""
    bounds = {host: asyncio.Semaphore(IN_FLIGHT_PER_HOST) for host in {p.host for p in profiled}}

    async def one(p: Profiled) -> Overhead:
        if p.status != "running":
            return Overhead(p, None)
        ctx = ProcedureContext(bus, p.host, timeout)
        async with bounds[p.host]:
            spies = await ctx.run(ContainerProcesses(container=p.container, match="py-spy"))
        read = Overhead(p, spies)
        if read.cpu is None or read.cpu <= OVERHEAD_ALERT:
            return read
        async with bounds[p.host]:
            env = await ctx.run(ContainerEnv(container=p.container, names=["PROFILE_INTERVAL"]))
        raw = env.value.values.get("PROFILE_INTERVAL") if env.value is not None else None
        return Overhead(p, spies, int(raw) if raw and raw.isdigit() else None)

    return list(await asyncio.gather(*(one(p) for p in profiled)))


def overhead_report(read: list[Overhead], unknown_hosts: Sequence[Finding] = ()) -> Report:
    """Every profiled service ranked by py-spy's CPU, worst first, against the 1-3 % / 5 %
    baselines; the runbook's remediations for those over 5 %, and, when most are, the global one."""
    ranked = sorted(read, key=lambda o: (-(o.cpu if o.cpu is not None else -1.0), o.profiled.service))
    findings: list[Finding] = list(unknown_hosts)
    for o in ranked:
        p, cpu = o.profiled, o.cpu
        check = f"{p.service} on {p.host}" if p.service == p.container else f"{p.service} ({p.container} on {p.host})"
        if o.spies is None:
            detail = f"not measured: the container is {p.status}, not running"
            findings.append(Finding(check=check, severity=Severity.INFO, detail=detail))
        elif cpu is None:
            findings.append(Finding(check=check, severity=Severity.WARNING, detail=f"not read: {o.spies.error}"))
        elif not o.spies.value or not o.spies.value.processes:
            findings.append(
                Finding(check=check, severity=Severity.INFO, detail="no py-spy process (an SDK, or not running)")
            )
        else:
            severity = (
                Severity.CRITICAL
                if cpu > OVERHEAD_ALERT
                else Severity.WARNING
                if cpu > OVERHEAD_EXPECTED_MAX
                else Severity.OK
            )
            where = {Severity.CRITICAL: "above the 5 % alert threshold", Severity.WARNING: "above the expected 1-3 %"}
            detail = f"py-spy at {cpu:.1f} % CPU, {where.get(severity, 'within the expected 1-3 %')}"
            findings.append(Finding(check=check, severity=severity, detail=detail))
    over = [o for o in ranked if o.cpu is not None and o.cpu > OVERHEAD_ALERT]
    # Measured: the services whose profiler is py-spy (an SDK's overhead is not a process of its own).
    measured = [o for o in ranked if o.spies is not None and o.spies.value is not None and o.spies.value.processes]
    remediations: list[Remediation] = []
    for o in over[: OFFERED // 2]:
        service, host = o.profiled.container, o.profiled.host
        raised = max(profiling_overhead.RAISED_INTERVAL, (o.interval or profiling_overhead.DEFAULT_INTERVAL) * 2)
        interval = profiling_overhead.IntervalParams(service=service, profile_interval=raised)
        remediations.append(profiling_overhead.raise_interval.offer(host, interval))
        remediations.append(profiling_overhead.disable_service.offer(host, ServiceParams(service=service)))
    most_over = bool(measured) and len(over) * 2 > len(measured)
    if most_over:  # the runbook's last resort, per host: PYROSCOPE_ENABLED=false in its .env
        for host in sorted({o.profiled.host for o in over}):
            worst = next(o for o in over if o.profiled.host == host)
            everywhere = profiling_overhead.GlobalProfilingParams(service=worst.profiled.container)
            remediations.append(profiling_overhead.disable_global.offer(host, everywhere))
    headline = None
    if over:
        headline = (
            f"{len(over)} of {len(measured)} py-spy-profiled services over the 5 % alert threshold; worst: "
            f"{over[0].profiled.service} at {over[0].cpu:.1f} %"
            + ("; most are over it: disabling profiling globally is offered" if most_over else "")
        )
    elif measured:
        headline = f"No profiled service over the 5 % alert threshold ({len(measured)} with py-spy measured)"
    return Report(
        procedure=profiling_overhead.ID,
        title="Profiling overhead, every profiled service",
        host=", ".join(sorted({o.profiled.host for o in read})) or "no host",
        findings=findings or [Finding(check="profiled services", severity=Severity.INFO, detail="none on any host")],
        finished_at=datetime.now(UTC),
        headline=headline,
        remediations=remediations,
    )
