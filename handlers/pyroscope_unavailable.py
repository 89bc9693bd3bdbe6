"""Runbook INC-PROF-001: Pyroscope server unavailable.

Diagnosis (run concurrently): the container's state and health (the runbook's `podman ps` and
`podman inspect ... Health`), its last 100 log lines, connectivity from `backend`
(`podman exec backend curl -s http://pyroscope:4040/ready`) and readiness from the host.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from pydantic import BaseModel

from handlers.evidence import error_lines, evidence, quote
from handlers.findings import Finding, Remediation, Report, Severity
from handlers.health import analyse_container, analyse_ready
from handlers.registry import RUNBOOK, Outcome, Plan, ProcedureContext, Step
from handlers.verification import ready_within
from profbot.ops import (
    ContainerHttpGet,
    ContainerInspect,
    ContainerLogs,
    ContainerState,
    HttpProbe,
    LogsResult,
    OpKind,
    PyroscopeReady,
    ReadyResult,
    RecreateService,
    ResourceName,
    RestartContainer,
)

ID = "INC-PROF-001"
IMPACT = "Profiling data is lost during the outage; services keep running normally."
RECREATE_IMPACT = f"{IMPACT} The container is replaced; the volume stays."


class UnavailableParams(BaseModel):
    container: ResourceName = "pyroscope"
    probe_from: ResourceName = "backend"


@RUNBOOK.procedure(
    ID,
    title="Pyroscope server unavailable",
    runbook_section="INC-PROF-001",
    actions={"restart": OpKind.CHANGE, "recreate": OpKind.CHANGE, "verify": OpKind.READ},
)
async def diagnose_unavailable(ctx: ProcedureContext, params: UnavailableParams) -> Report:
    state, logs, probe, ready = await asyncio.gather(
        ctx.run(ContainerInspect(container=params.container, run_healthcheck=True), ContainerState),
        ctx.run(ContainerLogs(container=params.container, tail=100), LogsResult),
        ctx.run(ContainerHttpGet(container=params.probe_from), HttpProbe),
        ctx.run(PyroscopeReady(), ReadyResult),
    )
    return analyse_unavailable(ctx.host, params, state, logs, probe, ready)


def analyse_unavailable(
    host: str,
    params: UnavailableParams,
    state: Outcome[ContainerState],
    logs: Outcome[LogsResult],
    probe: Outcome[HttpProbe],
    ready: Outcome[ReadyResult],
) -> Report:
    findings = [analyse_container(params.container, state), analyse_ready(ready)]
    evidence_blocks = []
    if logs.value is not None:
        errors = error_lines(logs.value.output.lines)
        if errors:
            findings.append(
                Finding(
                    check="container logs",
                    severity=Severity.WARNING,
                    detail=f"{len(errors)} error lines in the last 100: {quote(errors)}",
                )
            )
        else:
            findings.append(
                Finding(check="container logs", severity=Severity.OK, detail="no error lines in the last 100")
            )
        evidence_blocks.append(evidence(f"{params.container}: last 100 log lines", logs.value.output))
    elif logs.error is not None:
        findings.append(Finding(check="container logs", severity=Severity.INFO, detail=f"not read: {logs.error}"))
    findings.append(analyse_probe(params, probe))

    s = state.value
    down = s is not None and not s.running
    if down:
        headline = f"Pyroscope is down: {findings[0].detail}"
    elif ready.value is not None and ready.value.status_code not in (None, 200):
        headline = f"Pyroscope is running but not ready: /ready answers {ready.value.status_code} `{ready.value.body}`"
    else:
        headline = None
    remediations = [
        Remediation(procedure=ID, action="restart", label=f"Restart {params.container}", kind=OpKind.CHANGE,
                    target=params.container, host=host, impact=IMPACT),
        Remediation(procedure=ID, action="recreate", label=f"Recreate {params.container}", kind=OpKind.CHANGE,
                    target=params.container, host=host, impact=RECREATE_IMPACT),
        Remediation(procedure=ID, action="verify", label="Verify /ready", kind=OpKind.READ,
                    target=params.container, host=host, impact="Reads only."),
    ]  # fmt: skip
    return Report(
        procedure=ID,
        title="Pyroscope server unavailable",
        host=host,
        findings=findings,
        finished_at=datetime.now(UTC),
        headline=headline,
        evidence=evidence_blocks,
        remediations=remediations,
    )


def analyse_probe(params: UnavailableParams, probe: Outcome[HttpProbe]) -> Finding:
    check = f"{params.probe_from} -> pyroscope:4040"
    if probe.error is not None:
        return Finding(check=check, severity=Severity.WARNING, detail=f"not checked: {probe.error}")
    p = probe.value
    assert p is not None
    if p.status_code == 200:
        return Finding(check=check, severity=Severity.OK, detail=f"HTTP 200 `{p.body}` (via {p.client})")
    if p.status_code is None:
        return Finding(
            check=check,
            severity=Severity.CRITICAL,
            detail=f"{params.probe_from} cannot reach pyroscope:4040: {p.error}",
        )
    return Finding(
        check=check,
        severity=Severity.CRITICAL,
        detail=f"{params.probe_from} reaches pyroscope:4040 but gets HTTP {p.status_code} `{p.body}`",
    )


@RUNBOOK.plan(ID, "restart")
def plan_restart(remedy: Remediation) -> Plan:
    return Plan(
        steps=[Step(RestartContainer(container=remedy.target), f"podman restart {remedy.target}")],
        verify=ready_within(),
        impact=IMPACT,
        binds=("container", remedy.target),
    )


@RUNBOOK.plan(ID, "recreate")
def plan_recreate(remedy: Remediation) -> Plan:
    return Plan(
        steps=[Step(RecreateService(service=remedy.target), f"podman-compose up -d --force-recreate {remedy.target}")],
        verify=ready_within(),
        impact=RECREATE_IMPACT,
        binds=("container", remedy.target),
    )
