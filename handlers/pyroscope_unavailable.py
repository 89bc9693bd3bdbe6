"""Runbook INC-PROF-001: Pyroscope server unavailable.

Diagnosis (run concurrently): the container's state and health (the runbook's `podman ps` and
`podman inspect ... Health`), its last 100 log lines, connectivity from `backend`
(`podman exec backend curl -s http://pyroscope:4040/ready`, answered from podman's network records
without an exec where they show the way: container.reach) and readiness from the host.

The health is what podman recorded (what the runbook's `podman inspect` reads) when it says healthy,
was checked within RECORDED_HEALTH_MAX_AGE, and `/ready`, the question the health check asks, answers
200 now at the runner's PYROSCOPE_URL, and that URL leads to the container diagnosed (its host is the
container's name, or it is this host's loopback at a port the container publishes). Otherwise
(unhealthy, starting, never checked, checked too long ago, /ready failing, or a URL that may lead
to another server)
the check is run again, an exec into the container, and its fresh verdict reported: podman 4.3
without systemd runs no check on its own schedule, so there it is always re-run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from pydantic import BaseModel

from handlers.actions import ContainerParams, Plan, Recheck, Step
from handlers.context import Outcome, ProcedureContext
from handlers.evidence import error_lines, evidence, quote
from handlers.findings import Finding, Report, Severity
from handlers.health import analyse_container, analyse_ready
from handlers.registry import RUNBOOK
from handlers.verification import ready_within
from profbot.ops.arguments import ResourceName
from profbot.ops.compose import RecreateService
from profbot.ops.containers import (
    ContainerInspect,
    ContainerLogs,
    ContainerReach,
    ContainerState,
    HttpProbe,
    LogsResult,
    RestartContainer,
)
from profbot.ops.contract import OpKind
from profbot.ops.pyroscope import PyroscopeReady, ReadyResult

ID = "INC-PROF-001"
IMPACT = "Profiling data is lost during the outage; services keep running normally."
RECREATE_IMPACT = f"{IMPACT} The container is replaced; the volume stays."
RECORDED_HEALTH_MAX_AGE = timedelta(minutes=10)  # an older recorded verdict is checked again


class UnavailableParams(BaseModel):
    container: ResourceName = "pyroscope"
    probe_from: ResourceName = "backend"


@RUNBOOK.procedure(
    ID, title="Pyroscope server unavailable", runbook_section="INC-PROF-001", alias="unavailable", argument="container"
)
async def diagnose_unavailable(ctx: ProcedureContext, params: UnavailableParams) -> Report:
    ready_task: asyncio.Task[Outcome[ReadyResult]] = asyncio.ensure_future(ctx.run(PyroscopeReady()))
    (state, recorded, rerun), logs, probe, ready = await asyncio.gather(
        container_health(ctx, params.container, ready_task),
        ctx.run(ContainerLogs(container=params.container, tail=100)),
        ctx.run(ContainerReach(container=params.probe_from)),
        ready_task,
    )
    return analyse_unavailable(ctx.host, params, state, logs, probe, ready, health_recorded=recorded, rerun=rerun)


def rerun_reason(state: ContainerState, ready: Outcome[ReadyResult], now: datetime) -> str | None:
    """Why podman's recorded health does not answer without running the check again, or None when
    it stands: it says healthy, was checked within RECORDED_HEALTH_MAX_AGE, and /ready answers 200
    now at a URL that names this container. A failing check is always a fresh one."""
    if state.health != "healthy":
        return f"recorded {state.health or 'no verdict'}"
    if state.health_checked_at is None:
        return "no time recorded for the check"
    if now - state.health_checked_at > RECORDED_HEALTH_MAX_AGE:
        return f"recorded {age_text(now - state.health_checked_at)} ago, over {age_text(RECORDED_HEALTH_MAX_AGE)}"
    r = ready.value
    if r is None or not r.ready:
        return "/ready does not answer 200"
    if not leads_to(r.url, state):
        return f"the runner's PYROSCOPE_URL ({r.url}) may not lead to {state.name}"
    return None


LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def leads_to(url: str, state: ContainerState) -> bool:
    """Whether ``url`` reaches this container: it names it, or it is this host's loopback at a port
    the container publishes (no other container can publish the same host port)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host == state.name:
        return True
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    return host in LOOPBACK and port in state.published_ports


def age_text(age: timedelta) -> str:
    seconds = max(0.0, age.total_seconds())
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


async def container_health(
    ctx: ProcedureContext, container: str, ready: Awaitable[Outcome[ReadyResult]]
) -> tuple[Outcome[ContainerState], bool, str | None]:
    """The container's state and health, whether the health is podman's recorded one (not
    re-run), and why it was run again. One inspect gives status, health, restarts, OOM and exit
    code; the health check (an exec) runs only where the recorded verdict does not stand."""
    state = await ctx.run(ContainerInspect(container=container))
    s = state.value
    if s is None or not s.running or not s.healthcheck_defined:
        return state, False, None  # no check to run: the state says it all
    rerun = rerun_reason(s, await ready, datetime.now(UTC))
    if rerun is None:
        return state, True, None
    return await ctx.run(ContainerInspect(container=container, run_healthcheck=True)), False, rerun


def analyse_unavailable(
    host: str,
    params: UnavailableParams,
    state: Outcome[ContainerState],
    logs: Outcome[LogsResult],
    probe: Outcome[HttpProbe],
    ready: Outcome[ReadyResult],
    *,
    health_recorded: bool = False,
    rerun: str | None = None,
) -> Report:
    container = analyse_container(params.container, state)
    if health_recorded and state.value is not None:
        container = container.model_copy(update={"detail": container.detail + recorded_note(state.value)})
    elif rerun is not None and state.value is not None and state.value.running:
        container = container.model_copy(update={"detail": f"{container.detail} (health checked again now: {rerun})"})
    findings = [container, analyse_ready(ready)]
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
    target = ContainerParams(container=params.container)
    remediations = [restart.offer(host, target), recreate.offer(host, target), verify.offer(host, target)]
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


def recorded_note(s: ContainerState) -> str:
    """How old the recorded health verdict is, and why it was not checked again."""
    assert s.health_checked_at is not None  # a verdict without its time is checked again
    ago = age_text(datetime.now(UTC) - s.health_checked_at)
    return (
        f" (as podman recorded it {ago} ago; not re-run: under {age_text(RECORDED_HEALTH_MAX_AGE)} old and "
        f"/ready at {s.name} answers 200 now)"
    )


def analyse_probe(params: UnavailableParams, probe: Outcome[HttpProbe]) -> Finding:
    check = f"{params.probe_from} -> pyroscope:4040"
    if probe.error is not None:
        return Finding(check=check, severity=Severity.WARNING, detail=f"not checked: {probe.error}")
    p = probe.value
    assert p is not None
    if p.status_code == 200:
        return Finding(check=check, severity=Severity.OK, detail=f"HTTP 200 `{p.body}` (via {via(p)})")
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


def via(p: HttpProbe) -> str:
    return f"{p.client}; {p.note}" if p.note else str(p.client)


@RUNBOOK.action(ID, "restart", risk=OpKind.CHANGE, label="Restart {container}", impact=IMPACT)
def restart(p: ContainerParams) -> Plan:
    return Plan(
        steps=[Step(RestartContainer(container=p.container), f"podman restart {p.container}")],
        verify=ready_within(),
        binds="container",
    )


@RUNBOOK.action(ID, "recreate", risk=OpKind.CHANGE, label="Recreate {container}", impact=RECREATE_IMPACT)
def recreate(p: ContainerParams) -> Plan:
    return Plan(
        steps=[Step(RecreateService(service=p.container), f"podman-compose up -d --force-recreate {p.container}")],
        verify=ready_within(),
        binds="container",
    )


@RUNBOOK.action(ID, "verify", risk=OpKind.READ, label="Verify /ready", impact="Reads only.")
def verify(p: ContainerParams) -> Recheck:
    return Recheck(diagnose_unavailable, UnavailableParams(container=p.container))
