"""Runbook INC-PROF-002: high CPU overhead from profiling.

Diagnosis (concurrently): py-spy processes and their CPU (`ps aux | grep py-spy`), the profiler
log's errors, `PROFILE_INTERVAL`, and the container's current CPU, set against the runbook's
baselines: profiler overhead 1-3 % expected, alert above 5 %.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from pydantic import BaseModel

from handlers.evidence import error_lines, evidence, quote
from handlers.findings import Finding, Remediation, Report, Severity
from handlers.registry import RUNBOOK, Outcome, Plan, ProcedureContext, Step
from handlers.verification import diagnosed_again
from profbot.ops import (
    PROFILER_LOG,
    ContainerEnv,
    ContainerProcesses,
    ContainerStats,
    EnvResult,
    FileResult,
    OpKind,
    ProcessList,
    ReadContainerFile,
    ResourceName,
    SetGlobalProfiling,
    SetServiceProfiling,
    StatsResult,
)

ID = "INC-PROF-002"
OVERHEAD_EXPECTED_MAX = 3.0  # runbook, Performance Baselines: profiler overhead per service 1-3 %
OVERHEAD_ALERT = 5.0  # ... alert threshold > 5 %
DEFAULT_INTERVAL = 30  # runbook: "Set PROFILE_INTERVAL=60 (default is 30)"
RAISED_INTERVAL = 60
IMPACT = "Reduced profiling coverage but improved service performance."


class OverheadParams(BaseModel):
    service: ResourceName = "ai-yolo26"


@RUNBOOK.procedure(
    ID,
    title="High CPU overhead from profiling",
    runbook_section="INC-PROF-002",
    actions={"raise-interval": OpKind.CHANGE, "disable-service": OpKind.CHANGE, "disable-global": OpKind.CHANGE},
)
async def diagnose_overhead(ctx: ProcedureContext, params: OverheadParams) -> Report:
    spies, log, env, stats = await asyncio.gather(
        ctx.run(ContainerProcesses(container=params.service, match="py-spy"), ProcessList),
        ctx.run(ReadContainerFile(container=params.service, path=PROFILER_LOG), FileResult),
        ctx.run(ContainerEnv(container=params.service, names=["PROFILE_INTERVAL"]), EnvResult),
        ctx.run(ContainerStats(container=params.service, interval=1.0), StatsResult),
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
        Remediation(procedure=ID, action="raise-interval", label=f"Set PROFILE_INTERVAL={raised}",
                    kind=OpKind.CHANGE, target=service, host=host, impact=IMPACT,
                    params={"profile_interval": raised}),
        Remediation(procedure=ID, action="disable-service", label=f"Disable profiling for {service}",
                    kind=OpKind.CHANGE, target=service, host=host, impact=IMPACT),
        Remediation(procedure=ID, action="disable-global", label="Disable profiling everywhere",
                    kind=OpKind.CHANGE, target="PYROSCOPE_ENABLED", host=host,
                    impact=IMPACT + " Every profiled service on this host is recreated.",
                    params={"service": service}),
    ]  # fmt: skip
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


def _verify(remedy: Remediation) -> OverheadParams:
    return OverheadParams(service=str(remedy.params.get("service", remedy.target)))


@RUNBOOK.plan(ID, "raise-interval")
def plan_raise_interval(remedy: Remediation) -> Plan:
    interval = int(remedy.params.get("profile_interval", RAISED_INTERVAL))
    op = SetServiceProfiling(service=remedy.target, profile_interval=interval)
    return Plan(
        steps=[Step(op, f"set PROFILE_INTERVAL={interval} for {remedy.target} and recreate it")],
        verify=diagnosed_again(RUNBOOK, ID, _verify(remedy)),
        impact=IMPACT,
        binds=("container", remedy.target),
    )


@RUNBOOK.plan(ID, "disable-service")
def plan_disable_service(remedy: Remediation) -> Plan:
    op = SetServiceProfiling(service=remedy.target, pyroscope_enabled=False)
    return Plan(
        steps=[Step(op, f"set PYROSCOPE_ENABLED=false for {remedy.target} and recreate it")],
        verify=diagnosed_again(RUNBOOK, ID, _verify(remedy)),
        impact=IMPACT,
        binds=("container", remedy.target),
    )


@RUNBOOK.plan(ID, "disable-global")
def plan_disable_global(remedy: Remediation) -> Plan:
    return Plan(
        steps=[Step(SetGlobalProfiling(enabled=False), "PYROSCOPE_ENABLED=false in .env, then podman-compose up -d")],
        verify=diagnosed_again(RUNBOOK, ID, _verify(remedy)),
        impact=IMPACT + " Every profiled service on this host is recreated.",
    )
