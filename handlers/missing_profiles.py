"""Runbook INC-PROF-003: profiler not collecting data for a service.

Diagnosis (concurrently): `SERVICE_NAME` and `PYROSCOPE_ENABLED`, the profiler process
(`pgrep -a pyroscope`), the profiler log ("Starting profiler for <service>"); for SDK-based
services (the backend): `pyroscope-io` installed and "Pyroscope profiling initialized" in the
logs; whether Pyroscope has recent data for the service; and the pipeline itself: pushes Pyroscope
refused (its rate, size, sample and time-window limits, handlers/push_rejections.py) and the
refusals the profiler or SDK logged while it kept running.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from pydantic import BaseModel

from handlers.actions import Plan, Recheck, ServiceParams, Step
from handlers.context import Outcome, ProcedureContext
from handlers.evidence import error_lines, evidence, quote
from handlers.findings import Finding, Report, Severity
from handlers.flamegraph import SHOW_IMPACT, show_flamegraph
from handlers.push_rejections import pipeline_findings
from handlers.registry import RUNBOOK
from handlers.verification import diagnosed_again
from profbot.ops.arguments import PROFILER_LOG, ResourceName
from profbot.ops.containers import (
    ContainerEnv,
    ContainerLogs,
    ContainerPackageVersion,
    ContainerProcesses,
    EnvResult,
    FileResult,
    LogsResult,
    PackageVersion,
    ProcessList,
    ReadContainerFile,
    RestartContainer,
)
from profbot.ops.contract import OpKind
from profbot.ops.pyroscope import Freshness, PyroscopeFreshness, PyroscopePushRejections

ID = "INC-PROF-003"
SDK_INIT_LINE = "pyroscope profiling initialized"
SDK_FAILURE_LINE = "Sending Session failed"  # pyroscope-rs's line for a push refused (src/session.rs)
RESTART_IMPACT = "The service restarts; requests in flight may fail."


class NoDataParams(BaseModel):
    service: ResourceName


@RUNBOOK.procedure(
    ID, title="Profiler not collecting data", runbook_section="INC-PROF-003", alias="no-data", argument="service"
)
async def diagnose_no_data(ctx: ProcedureContext, params: NoDataParams) -> Report:
    s = params.service
    # The pipeline's reads start first and run beside the profiler's (gather types six at most).
    pipeline = asyncio.gather(
        ctx.run(PyroscopePushRejections()),
        ctx.run(ContainerLogs(container=s, tail=2000, contains=SDK_FAILURE_LINE)),
    )
    env, profiler, log, package, sdk_log, fresh = await asyncio.gather(
        ctx.run(ContainerEnv(container=s, names=["SERVICE_NAME", "PYROSCOPE_ENABLED", "PYROSCOPE_URL"])),
        ctx.run(ContainerProcesses(container=s, match="pyroscope")),
        ctx.run(ReadContainerFile(container=s, path=PROFILER_LOG)),
        ctx.run(ContainerPackageVersion(container=s, package="pyroscope-io")),
        ctx.run(ContainerLogs(container=s, tail=1000, contains=SDK_INIT_LINE)),
        ctx.run(PyroscopeFreshness(services=[s], minutes=5)),
    )
    refused, sdk_failures = await pipeline
    report = analyse_no_data(ctx.host, s, env, profiler, log, package, sdk_log, fresh)
    logged = [*(log.value.output.lines if log.value is not None else []),
              *(sdk_failures.value.output.lines if sdk_failures.value is not None else [])]  # fmt: skip
    return with_pipeline(report, pipeline_findings(s, refused, logged))


def with_pipeline(report: Report, findings: list[Finding]) -> Report:
    """The report with the pipeline's findings after the profiler's, before the data check."""
    checks = report.findings
    at = next((i for i, f in enumerate(checks) if f.check == "recent profiles"), len(checks))
    return report.model_copy(update={"findings": [*checks[:at], *findings, *checks[at:]]})


def analyse_no_data(
    host: str,
    service: str,
    env: Outcome[EnvResult],
    profiler: Outcome[ProcessList],
    log: Outcome[FileResult],
    package: Outcome[PackageVersion],
    sdk_log: Outcome[LogsResult],
    fresh: Outcome[Freshness],
) -> Report:
    findings: list[Finding] = []
    notes: list[str] = []
    evidence_blocks = []
    values = env.value.values if env.value is not None else {}
    service_name = values.get("SERVICE_NAME")
    enabled = values.get("PYROSCOPE_ENABLED")
    sdk = package.value is not None and package.value.installed
    py_spy = (log.value is not None and log.value.exists) or bool(profiler.value and profiler.value.processes)
    mode = "SDK (pyroscope-io)" if sdk and not py_spy else "py-spy"

    if env.error is not None:
        findings.append(Finding(check="environment", severity=Severity.WARNING, detail=f"not read: {env.error}"))
    elif enabled is not None and enabled.lower() != "true":
        findings.append(
            Finding(check="PYROSCOPE_ENABLED", severity=Severity.CRITICAL, detail=f"`{enabled}`: profiling is off")
        )
    if env.error is None and not service_name:
        findings.append(
            Finding(
                check="SERVICE_NAME",
                severity=Severity.CRITICAL,
                detail="not set: the entrypoint starts no profiler without it",
            )
        )
    elif service_name:
        severity = Severity.OK if service_name == service else Severity.WARNING
        extra = "" if severity is Severity.OK else f": profiles arrive as `{service_name}`, not `{service}`"
        findings.append(Finding(check="SERVICE_NAME", severity=severity, detail=f"`{service_name}`{extra}"))

    if mode == "py-spy":
        running = profiler.value.processes if profiler.value is not None else []
        findings.append(
            Finding(
                check="profiler process",
                severity=Severity.OK if running else Severity.CRITICAL,
                detail=f"running: `{running[0].command[:120]}`" if running else "no pyroscope profiler process",
            )
        )
        if log.value is not None and log.value.exists:
            lines = log.value.output.lines
            started = any(f"Starting profiler for {service}" in line for line in lines)
            errors = error_lines(lines)
            findings.append(
                Finding(
                    check="profiler log",
                    severity=Severity.WARNING if errors or not started else Severity.OK,
                    detail=("started" if started else f'no "Starting profiler for {service}" line')
                    + (f"; {len(errors)} error lines: {quote(errors)}" if errors else ""),
                )
            )
            evidence_blocks.append(evidence(f"{service}: /tmp/profiler.log", log.value.output))
        elif log.value is not None:
            findings.append(Finding(check="profiler log", severity=Severity.CRITICAL, detail="no /tmp/profiler.log"))
    else:
        version = package.value.version if package.value is not None else None
        findings.append(Finding(check="pyroscope-io", severity=Severity.OK, detail=f"installed, {version}"))
        initialised = sdk_log.value is not None and bool(sdk_log.value.matched)
        findings.append(
            Finding(
                check="SDK initialisation",
                severity=Severity.OK if initialised else Severity.CRITICAL,
                detail=f'"{sdk_log.value.output.lines[-1]}"' if initialised and sdk_log.value else
                "no \"Pyroscope profiling initialized\" in the last 1000 log lines",
            )
        )  # fmt: skip

    if fresh.value is not None:
        f = fresh.value
        entry = next((x for x in f.services if x.service == service), None)
        if f.api == "unsupported":
            findings.append(Finding(check="recent profiles", severity=Severity.WARNING, detail=f.note or "unsupported"))
        elif entry is not None:
            findings.append(
                Finding(
                    check="recent profiles",
                    severity=Severity.OK if entry.has_data else Severity.CRITICAL,
                    detail=f"profiles in the last {f.minutes} min (Pyroscope {f.api})"
                    if entry.has_data
                    else f"none in the last {f.minutes} min (Pyroscope {f.api})",
                )
            )
        if f.note:
            notes.append(f.note)
    elif fresh.error is not None:
        findings.append(
            Finding(check="recent profiles", severity=Severity.WARNING, detail=f"not checked: {fresh.error}")
        )

    target = ServiceParams(service=service)
    remediations = [restart.offer(host, target), check_again.offer(host, target), show_flame.offer(host, target)]
    return Report(
        procedure=ID,
        title=f"No profiles from {service} ({mode})",
        host=host,
        findings=findings,
        finished_at=datetime.now(UTC),
        evidence=evidence_blocks,
        remediations=remediations,
        notes=notes,
    )


@RUNBOOK.action(ID, "restart", risk=OpKind.CHANGE, label="Restart {service}", impact=RESTART_IMPACT)
def restart(p: ServiceParams) -> Plan:
    return Plan(
        steps=[Step(RestartContainer(container=p.service), f"podman restart {p.service}")],
        verify=diagnosed_again(diagnose_no_data, NoDataParams(service=p.service)),
        binds="container",
    )


@RUNBOOK.action(ID, "verify", risk=OpKind.READ, label="Check again", impact="Reads only.")
def check_again(p: ServiceParams) -> Recheck:
    return Recheck(diagnose_no_data, NoDataParams(service=p.service))


# What freshness offers for an expected service without data: this diagnosis, on its host.
@RUNBOOK.action(ID, "diagnose", risk=OpKind.READ, label="Diagnose {service}", impact="Reads only.")
def diagnose(p: ServiceParams) -> Recheck:
    return Recheck(diagnose_no_data, NoDataParams(service=p.service))


show_flame = RUNBOOK.action(
    ID, "flamegraph", risk=OpKind.READ, label="Show flamegraph of {service}", impact=SHOW_IMPACT
)(show_flamegraph)
