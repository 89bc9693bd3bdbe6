"""Runbook MAINT-PROF-002: adding profiling to a new service, checked on the running service.

What the runbook's procedure sets up, looked for in the container as it runs: the labels
`pyroscope.profile` and `pyroscope.service`, the env `SERVICE_NAME`, `PYROSCOPE_ENABLED`,
`PYROSCOPE_URL`, py-spy in the image, and "Starting profiler for <service>" in the profiler log.
What is missing comes back with the exact compose and Dockerfile lines to add.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from pydantic import BaseModel

from handlers.context import Outcome, ProcedureContext
from handlers.findings import Evidence, Finding, Report, Severity
from handlers.registry import RUNBOOK
from profbot.ops.arguments import PROFILER_LOG, ResourceName
from profbot.ops.containers import (
    ContainerEnv,
    ContainerInspect,
    ContainerState,
    ContainerToolVersion,
    EnvResult,
    FileResult,
    ReadContainerFile,
    ToolVersion,
)

ID = "MAINT-PROF-002"
PYROSCOPE_URL = "http://pyroscope:4040"
DOCKERFILE_LINES = [
    "RUN uv tool install py-spy && cp /root/.local/bin/py-spy /usr/local/bin/py-spy && chmod +x /usr/local/bin/py-spy",
    "COPY --chmod=755 scripts/pyroscope-profiler.sh /usr/local/bin/pyroscope-profiler.sh",
    "COPY --chmod=755 scripts/ai-entrypoint.sh /usr/local/bin/ai-entrypoint.sh",
    'ENTRYPOINT ["/usr/local/bin/ai-entrypoint.sh"]',
]


class OnboardParams(BaseModel):
    service: ResourceName


@RUNBOOK.procedure(
    ID, title="Adding profiling to a service", runbook_section="MAINT-PROF-002", alias="onboard", argument="service"
)
async def check_onboarding(ctx: ProcedureContext, params: OnboardParams) -> Report:
    s = params.service
    state, env, spy, log = await asyncio.gather(
        ctx.run(ContainerInspect(container=s)),
        ctx.run(ContainerEnv(container=s, names=["SERVICE_NAME", "PYROSCOPE_ENABLED", "PYROSCOPE_URL"])),
        ctx.run(ContainerToolVersion(container=s, tool="py-spy")),
        ctx.run(ReadContainerFile(container=s, path=PROFILER_LOG)),
    )
    return analyse_onboarding(ctx.host, s, state, env, spy, log)


def analyse_onboarding(
    host: str,
    service: str,
    state: Outcome[ContainerState],
    env: Outcome[EnvResult],
    spy: Outcome[ToolVersion],
    log: Outcome[FileResult],
) -> Report:
    findings: list[Finding] = []
    labels_to_add: list[str] = []
    env_to_add: list[str] = []
    labels = state.value.labels if state.value is not None else {}
    wanted_labels = {"pyroscope.profile": "true", "pyroscope.service": service}
    for key, value in wanted_labels.items():
        have = labels.get(key)
        if have == value:
            findings.append(Finding(check=f"label {key}", severity=Severity.OK, detail=f"`{have}`"))
        else:
            labels_to_add.append(f"{key}: '{value}'")
            seen = f"`{have}`" if have is not None else "missing"
            findings.append(
                Finding(check=f"label {key}", severity=Severity.CRITICAL, detail=f"{seen}, wants `{value}`")
            )

    values = env.value.values if env.value is not None else {}
    wanted_env = {
        "SERVICE_NAME": service,
        "PYROSCOPE_ENABLED": "${PYROSCOPE_ENABLED:-true}",
        "PYROSCOPE_URL": PYROSCOPE_URL,
    }
    for key, line_value in wanted_env.items():
        have = values.get(key)
        good = (
            have == service
            if key == "SERVICE_NAME"
            else (have == PYROSCOPE_URL if key == "PYROSCOPE_URL" else have is not None)
        )
        if good:
            findings.append(Finding(check=key, severity=Severity.OK, detail=f"`{have}`"))
        else:
            env_to_add.append(f"- {key}={line_value}")
            seen = f"`{have}`" if have is not None else "not set"
            findings.append(Finding(check=key, severity=Severity.CRITICAL, detail=f"{seen}, wants `{line_value}`"))

    dockerfile: list[str] = []
    if spy.value is not None and spy.value.installed:
        findings.append(Finding(check="py-spy", severity=Severity.OK, detail=f"installed ({spy.value.version})"))
    else:
        dockerfile = DOCKERFILE_LINES
        detail = "not in the image" if spy.value is not None else f"not checked: {spy.error}"
        findings.append(Finding(check="py-spy", severity=Severity.CRITICAL, detail=detail))

    started = log.value is not None and any(
        f"Starting profiler for {service}" in line for line in log.value.output.lines
    )
    findings.append(
        Finding(
            check="profiler log",
            severity=Severity.OK if started else Severity.CRITICAL,
            detail=f'"Starting profiler for {service}" found'
            if started
            else f'no "Starting profiler for {service}" in {PROFILER_LOG}',
        )
    )

    evidence = []
    if labels_to_add or env_to_add:
        snippet = [f"{service}:"]
        if labels_to_add:
            snippet += ["  labels:", *(f"    {line}" for line in labels_to_add)]
        if env_to_add:
            snippet += ["  environment:", *(f"    {line}" for line in env_to_add)]
        evidence.append(
            Evidence(title="Add to docker-compose.prod.yml, then `up -d` the service", lines=snippet, tail=False)
        )
    if dockerfile:
        evidence.append(Evidence(title="Add to the service's Dockerfile, then rebuild", lines=dockerfile, tail=False))
    missing = sum(1 for f in findings if f.severity is Severity.CRITICAL)
    headline = (
        f"{service} is set up for profiling" if not missing else f"{service}: {missing} things missing for profiling"
    )
    return Report(
        procedure=ID,
        title=f"Profiling set-up of {service}",
        host=host,
        findings=findings,
        finished_at=datetime.now(UTC),
        headline=headline,
        evidence=evidence,
    )
