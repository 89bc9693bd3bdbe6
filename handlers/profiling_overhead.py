"""Runbook INC-PROF-002: high CPU overhead from profiling.

Diagnosis (concurrently): py-spy processes and their CPU (`ps aux | grep py-spy`), the profiler
log's errors, `PROFILE_INTERVAL`, and the container's current CPU, set against the runbook's
baselines: profiler overhead 1-3 % expected, alert above 5 %.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, Field

from handlers.actions import ActionParams, Plan, ServiceParams, Step
from handlers.context import Outcome, ProcedureContext
from handlers.evidence import error_lines, evidence, quote
from handlers.findings import Finding, Report, Severity
from handlers.flamegraph import SHOW_IMPACT, show_flamegraph
from handlers.registry import RUNBOOK
from handlers.verification import diagnosed_again
from profbot.ops.arguments import PROFILER_LOG, ResourceName
from profbot.ops.compose import SetGlobalProfiling, SetServiceProfiling
from profbot.ops.containers import (
    ContainerEnv,
    ContainerProcesses,
    ContainerStats,
    EnvResult,
    FileResult,
    ProcessList,
    ReadContainerFile,
    StatsResult,
)
from profbot.ops.contract import OpKind

ID = "INC-PROF-002"
OVERHEAD_EXPECTED_MAX = 3.0  # runbook, Performance Baselines: profiler overhead per service 1-3 %
OVERHEAD_ALERT = 5.0  # ... alert threshold > 5 %
DEFAULT_INTERVAL = 30  # runbook: "Set PROFILE_INTERVAL=60 (default is 30)"
RAISED_INTERVAL = 60
IMPACT = "Reduced profiling coverage but improved service performance."


GLOBAL_IMPACT = IMPACT + " Every profiled service on this host is recreated."


class OverheadParams(BaseModel):
    service: ResourceName


class IntervalParams(ServiceParams):
    profile_interval: Annotated[int, Field(ge=5, le=3600)]


class GlobalProfilingParams(ActionParams):
    """Profiling off on the whole host; ``service`` is the one whose diagnosis checks it."""

    target_field: ClassVar[str] = "setting"
    setting: Literal["PYROSCOPE_ENABLED"] = "PYROSCOPE_ENABLED"
    service: ResourceName


@RUNBOOK.procedure(
    ID, title="High CPU overhead from profiling", runbook_section="INC-PROF-002", alias="overhead", argument="service"
)
async def diagnose_overhead(ctx: ProcedureContext, params: OverheadParams) -> Report:
    spies, log, env, stats = await asyncio.gather(
        ctx.run(ContainerProcesses(container=params.service, match="py-spy")),
        ctx.run(ReadContainerFile(container=params.service, path=PROFILER_LOG)),
        ctx.run(ContainerEnv(container=params.service, names=["PROFILE_INTERVAL"])),
        ctx.run(ContainerStats(container=params.service, interval=1.0)),
    )
    return analyse_overhead(ctx.host, params.service, spies, log, env, stats)


def analyse_overhead(
    host: str,
    service: str,
    spies: Outcome[ProcessList],
    log: Outcome[FileResult],
    env: Outcome[EnvResult],
    stats: Outcome[StatsResult],
) -> Report:
    findings: list[Finding] = []
    evidence_blocks = []
    overhead = None
    if spies.value is not None:
        processes = spies.value.processes
        overhead = sum(p.cpu_percent for p in processes)
        if not processes:
            findings.append(Finding(check="py-spy processes", severity=Severity.INFO, detail="none running right now"))
        else:
            severity = (
                Severity.CRITICAL
                if overhead > OVERHEAD_ALERT
                else Severity.WARNING
                if overhead > OVERHEAD_EXPECTED_MAX
                else Severity.OK
            )
            where = "above the 5 % alert threshold" if severity is Severity.CRITICAL else (
                "above the expected 1-3 %" if severity is Severity.WARNING else "within the expected 1-3 %"
            )  # fmt: skip
            findings.append(
                Finding(
                    check="profiler overhead",
                    severity=severity,
                    detail=f"{len(processes)} py-spy process(es) using {overhead:.1f} % CPU, {where}",
                )
            )
    else:
        findings.append(Finding(check="py-spy processes", severity=Severity.WARNING, detail=f"not read: {spies.error}"))

    if stats.value is not None:
        s = stats.value
        findings.append(
            Finding(
                check="container CPU",
                severity=Severity.INFO,
                detail=f"{s.cpu_percent:.1f} % of one core now (over {s.interval_seconds:.1f} s), "
                f"memory {s.memory_bytes / 2**20:.0f} MiB",
            )
        )

    interval = None
    if env.value is not None:
        raw = env.value.values.get("PROFILE_INTERVAL")
        interval = int(raw) if raw and raw.isdigit() else None
        if raw is None:
            findings.append(
                Finding(
                    check="PROFILE_INTERVAL", severity=Severity.INFO, detail=f"not set: default {DEFAULT_INTERVAL} s"
                )
            )
        elif interval is not None and interval < DEFAULT_INTERVAL:
            findings.append(
                Finding(
                    check="PROFILE_INTERVAL",
                    severity=Severity.WARNING,
                    detail=f"{interval} s: more often than the default {DEFAULT_INTERVAL} s",
                )
            )
        else:
            findings.append(Finding(check="PROFILE_INTERVAL", severity=Severity.OK, detail=f"{raw} s"))

    if log.value is not None and log.value.exists:
        errors = error_lines(log.value.output.lines)
        findings.append(
            Finding(
                check="profiler log",
                severity=Severity.WARNING if errors else Severity.OK,
                detail=f"{len(errors)} error lines: {quote(errors)}" if errors else "no errors",
            )
        )
        evidence_blocks.append(evidence(f"{service}: /tmp/profiler.log", log.value.output))
    elif log.value is not None:
        findings.append(Finding(check="profiler log", severity=Severity.INFO, detail="no /tmp/profiler.log"))

    raised = max(RAISED_INTERVAL, (interval or DEFAULT_INTERVAL) * 2)
    remediations = [
        raise_interval.offer(host, IntervalParams(service=service, profile_interval=raised)),
        disable_service.offer(host, ServiceParams(service=service)),
        disable_global.offer(host, GlobalProfilingParams(service=service)),
        show_flame.offer(host, ServiceParams(service=service)),
    ]
    headline = None
    if overhead is not None and overhead > OVERHEAD_ALERT:
        headline = f"Profiling overhead on {service} is {overhead:.1f} %, above the 5 % alert threshold"
    return Report(
        procedure=ID,
        title=f"Profiling overhead on {service}",
        host=host,
        findings=findings,
        finished_at=datetime.now(UTC),
        headline=headline,
        evidence=evidence_blocks,
        remediations=remediations,
    )


@RUNBOOK.action(
    ID,
    "raise-interval",
    risk=OpKind.CHANGE,
    label="Set PROFILE_INTERVAL={profile_interval} for {service}",
    impact=IMPACT,
)
def raise_interval(p: IntervalParams) -> Plan:
    op = SetServiceProfiling(service=p.service, profile_interval=p.profile_interval)
    return Plan(
        steps=[Step(op, f"set PROFILE_INTERVAL={p.profile_interval} for {p.service} and recreate it")],
        verify=diagnosed_again(diagnose_overhead, OverheadParams(service=p.service)),
        binds="container",
    )


@RUNBOOK.action(ID, "disable-service", risk=OpKind.CHANGE, label="Disable profiling for {service}", impact=IMPACT)
def disable_service(p: ServiceParams) -> Plan:
    op = SetServiceProfiling(service=p.service, pyroscope_enabled=False)
    return Plan(
        steps=[Step(op, f"set PYROSCOPE_ENABLED=false for {p.service} and recreate it")],
        verify=diagnosed_again(diagnose_overhead, OverheadParams(service=p.service)),
        binds="container",
    )


@RUNBOOK.action(ID, "disable-global", risk=OpKind.CHANGE, label="Disable profiling everywhere", impact=GLOBAL_IMPACT)
def disable_global(p: GlobalProfilingParams) -> Plan:
    return Plan(
        steps=[Step(SetGlobalProfiling(enabled=False), "PYROSCOPE_ENABLED=false in .env, then podman-compose up -d")],
        verify=diagnosed_again(diagnose_overhead, OverheadParams(service=p.service)),
        host_wide=True,  # `podman-compose up -d` recreates every service on the host
    )


show_flame = RUNBOOK.action(
    ID, "flamegraph", risk=OpKind.READ, label="Show flamegraph of {service}", impact=SHOW_IMPACT
)(show_flamegraph)
