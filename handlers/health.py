"""Runbook, "Health Monitoring / Pyroscope Health Check".

The runbook's script curls ``/ready`` from the host; on call one also wants to know the state
of the ``pyroscope`` container itself (INC-PROF-001's first two diagnosis steps), and whether a
profile pushed from the host can be queried back, and how soon (the runbook's push latency
baseline): one finding each. The canary is pushed only to a Pyroscope that says it is ready.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from pydantic import BaseModel

from handlers.baselines import PUSH_CHECK, analyse_push_latency
from handlers.context import Outcome, ProcedureContext
from handlers.findings import Finding, Report, Severity
from handlers.registry import RUNBOOK
from profbot.errors import PodmanUnavailable, TargetNotFound
from profbot.ops.arguments import ResourceName
from profbot.ops.containers import ContainerInspect, ContainerState
from profbot.ops.pyroscope import MeasurePushLatency, PyroscopeReady, ReadyResult

ID = "HEALTH"
READY_CHECK = "Pyroscope /ready"


def container_check(name: str) -> str:
    return f"container {name}"


class HealthParams(BaseModel):
    container: ResourceName = "pyroscope"


@RUNBOOK.procedure(ID, title="Pyroscope health check", runbook_section="Health Monitoring", argument="container")
async def health_check(ctx: ProcedureContext, params: HealthParams) -> Report:
    ready, container = await asyncio.gather(
        ctx.run(PyroscopeReady()),
        ctx.run(ContainerInspect(container=params.container, run_healthcheck=True)),
    )
    ready_finding = analyse_ready(ready)
    if ready_finding.severity is Severity.OK:
        push = analyse_push_latency(await ctx.run(MeasurePushLatency()))
    else:  # a push would only wait out its deadline, and /ready already says what is wrong
        push = Finding(check=PUSH_CHECK, severity=Severity.INFO, detail="not measured: Pyroscope is not ready")
    return Report(
        procedure=ID,
        title="Pyroscope health",
        host=ctx.host,
        findings=[ready_finding, analyse_container(params.container, container), push],
        finished_at=datetime.now(UTC),
    )


def analyse_ready(outcome: Outcome[ReadyResult]) -> Finding:
    if outcome.error is not None:
        return Finding(check=READY_CHECK, severity=Severity.CRITICAL, detail=f"not checked: {outcome.error}")
    r = outcome.value
    assert r is not None
    if r.status_code is None:
        return Finding(check=READY_CHECK, severity=Severity.CRITICAL, detail=f"no answer from {r.url}: {r.error}")
    said = f"`{r.body}`" if r.body else "an empty body"
    if r.ready:
        return Finding(
            check=READY_CHECK,
            severity=Severity.OK,
            detail=f"HTTP 200 with {said} in {r.latency_ms:.0f} ms",
        )
    return Finding(
        check=READY_CHECK,
        severity=Severity.CRITICAL,
        detail=f"HTTP {r.status_code} with {said}: Pyroscope is up but not ready",
    )


def describe_exit(code: int, oom_killed: bool) -> str:
    """What an exit code most likely means, in an on-call engineer's words."""
    if oom_killed:
        return f"exited with code {code} (killed by the out-of-memory killer)"
    if code == 0:
        return "exited with code 0 (stopped cleanly)"
    if code == 137:
        return "exited with code 137 (killed: likely out of memory)"
    if code == 143:
        return "exited with code 143 (terminated by SIGTERM)"
    if code > 128:
        return f"exited with code {code} (killed by signal {code - 128})"
    return f"exited with code {code} (the process failed)"


def analyse_container(name: str, outcome: Outcome[ContainerState]) -> Finding:
    check = container_check(name)
    if isinstance(outcome.error, PodmanUnavailable):
        return Finding(
            check=check,
            severity=Severity.CRITICAL,
            detail=f"the runner cannot reach podman ({outcome.error})",
        )
    if isinstance(outcome.error, TargetNotFound):
        return Finding(check=check, severity=Severity.CRITICAL, detail=f"no container named {name} on this host")
    if outcome.error is not None:
        return Finding(check=check, severity=Severity.CRITICAL, detail=f"not checked: {outcome.error}")
    s = outcome.value
    assert s is not None
    restarts = f", {s.restart_count} restarts" if s.restart_count else ""
    if not s.running:
        when = f" at {s.finished_at:%Y-%m-%d %H:%M:%S} UTC" if s.finished_at else ""
        if s.status in ("exited", "stopped"):
            what = describe_exit(s.exit_code, s.oom_killed)
        else:
            what = f"not running (state {s.status})"
        return Finding(check=check, severity=Severity.CRITICAL, detail=f"{what}{when}{restarts}")
    since = f" since {s.started_at:%Y-%m-%d %H:%M:%S} UTC" if s.started_at else ""
    if s.health == "unhealthy":
        why = f": {s.health_last_output}" if s.health_last_output else ""
        return Finding(
            check=check,
            severity=Severity.CRITICAL,
            detail=f"running{since} but unhealthy ({s.health_failing_streak} failed checks in a row){why}",
        )
    if s.health == "starting":
        return Finding(
            check=check,
            severity=Severity.WARNING,
            detail=f"running{since}, healthcheck still starting{restarts}",
        )
    health = f", {s.health}" if s.health else ", no healthcheck defined"
    return Finding(check=check, severity=Severity.OK, detail=f"running{since}{health}{restarts}")
