"""Runbook MAINT-PROF-001: updating the Pyroscope version, and its rollback.

The pre-flight reads what the upgrade depends on: the running version, the image pins (the
compose file's and profbot's override), the config and its backups, and whether the config would
let the target version start at all (a v0 config stops v1). The runbook's procedure itself (pull,
stop, back up the config, pin the new tag, recreate, verify) is offered as one change, its steps
listed; rollback drops profbot's pin and recreates on the compose file's version.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

from pydantic import BaseModel

from handlers.actions import Plan, ServiceParams, Step
from handlers.context import Outcome, ProcedureContext
from handlers.findings import Finding, Remediation, Report, Severity
from handlers.registry import RUNBOOK
from handlers.verification import ready_within
from profbot.ops.arguments import ImageRef, ImageTag, ResourceName
from profbot.ops.compose import ClearServiceImage, GetServiceImage, ImagePin, RecreateService, SetServiceImageTag
from profbot.ops.containers import StopContainer
from profbot.ops.contract import OpKind
from profbot.ops.pyroscope import (
    BackupPyroscopeConfig,
    GetPyroscopeConfig,
    GetPyroscopeVersion,
    PullPyroscopeImage,
    PyroscopeConfig,
    PyroscopeVersion,
)

ID = "MAINT-PROF-001"
ROLLBACK_ID = "MAINT-PROF-001-ROLLBACK"
UPGRADE_STEPS = (
    "pull the image and check it arrived",
    "stop pyroscope",
    "back up the config",
    "pin the new tag in profbot's compose override",
    "recreate pyroscope",
    "verify /ready",
)
IMPACT = "Pyroscope is down while it restarts: profiles pushed meanwhile are lost; services keep running."


class UpgradeParams(BaseModel):
    tag: ImageTag
    service: ResourceName = "pyroscope"


class RollbackParams(BaseModel):
    service: ResourceName = "pyroscope"


class PinParams(ServiceParams):
    tag: ImageTag


class UnpinParams(ServiceParams):
    back_to: ImageRef  # the compose file's image, which the rollback returns to


def major_of(tag: str) -> int | None:
    match = re.match(r"v?(\d+)\.", tag)
    return int(match.group(1)) if match else None


@RUNBOOK.procedure(
    ID,
    title="Update Pyroscope",
    runbook_section="MAINT-PROF-001",
    alias="upgrade",
    argument="tag",
    argument_label="VERSION",
    routes_by="pyroscope",
)
async def preflight_upgrade(ctx: ProcedureContext, params: UpgradeParams) -> Report:
    version, pin, config = await asyncio.gather(
        ctx.run(GetPyroscopeVersion()),
        ctx.run(GetServiceImage(service=params.service)),
        ctx.run(GetPyroscopeConfig()),
    )
    return analyse_upgrade(ctx.host, params, version, pin, config)


def analyse_upgrade(
    host: str,
    params: UpgradeParams,
    version: Outcome[PyroscopeVersion],
    pin: Outcome[ImagePin],
    config: Outcome[PyroscopeConfig],
) -> Report:
    findings: list[Finding] = []
    target_major = major_of(params.tag)
    current = version.value.version if version.value is not None else None
    if version.value is not None:
        same = current == params.tag.lstrip("v")
        findings.append(
            Finding(
                check="running version",
                severity=Severity.WARNING if same else Severity.OK,
                detail=f"{current or version.value.raw}"
                + (f": already on {params.tag}" if same else f" -> {params.tag}"),
            )
        )
        if version.value.major is not None and target_major is not None and target_major != version.value.major:
            findings.append(
                Finding(
                    check="major version change",
                    severity=Severity.WARNING,
                    detail=f"{version.value.major}.x -> {target_major}.x: read the release notes for breaking changes",
                )
            )
    else:
        findings.append(
            Finding(check="running version", severity=Severity.WARNING, detail=f"not read: {version.error}")
        )
    if pin.value is not None:
        p = pin.value
        pinned = f"compose file `{p.compose_image}`" + (
            f", profbot's override `{p.override_image}`" if p.override_image else ""
        )
        findings.append(Finding(check="image", severity=Severity.INFO, detail=f"running `{p.running_image}`; {pinned}"))
    else:
        findings.append(Finding(check="image", severity=Severity.CRITICAL, detail=f"not read: {pin.error}"))
    if config.value is not None:
        c = config.value
        backups = (
            f"{len(c.backups)} backups, latest {c.backups[-1]}"
            if c.backups
            else "no backup yet (the upgrade makes one)"
        )
        findings.append(Finding(check="config backup", severity=Severity.INFO, detail=backups))
        if (target_major or 1) >= 1 and not c.retention.valid_for_running_version:
            findings.append(
                Finding(
                    check="config for the target version",
                    severity=Severity.CRITICAL,
                    detail=f"Pyroscope {target_major}.x would refuse to start with this config: "
                    f"{c.retention.explanation}",
                )
            )
    remediations = [upgrade.offer(host, PinParams(service=params.service, tag=params.tag))]
    return Report(
        procedure=ID,
        title=f"Update Pyroscope to {params.tag}",
        host=host,
        findings=findings,
        finished_at=datetime.now(UTC),
        remediations=remediations,
        notes=["The upgrade runs the runbook's steps in order: " + "; ".join(UPGRADE_STEPS) + "."],
    )


@RUNBOOK.procedure(
    ROLLBACK_ID, title="Roll Pyroscope back", runbook_section="MAINT-PROF-001", alias="rollback", argument="service"
)
async def preflight_rollback(ctx: ProcedureContext, params: RollbackParams) -> Report:
    pin = await ctx.run(GetServiceImage(service=params.service))
    findings: list[Finding] = []
    remediations: list[Remediation] = []
    if pin.value is None:
        findings.append(Finding(check="image", severity=Severity.CRITICAL, detail=f"not read: {pin.error}"))
    elif pin.value.override_image is None:
        findings.append(
            Finding(
                check="image",
                severity=Severity.OK,
                detail=f"no profbot pin: {params.service} runs the compose file's `{pin.value.compose_image}`; "
                "nothing to roll back",
            )
        )
    else:
        findings.append(
            Finding(
                check="image",
                severity=Severity.INFO,
                detail=f"profbot pins `{pin.value.override_image}`; rollback returns to `{pin.value.compose_image}`",
            )
        )
        unpin = UnpinParams(service=params.service, back_to=pin.value.compose_image)
        remediations.append(rollback.offer(ctx.host, unpin))
    return Report(
        procedure=ROLLBACK_ID,
        title="Roll Pyroscope back",
        host=ctx.host,
        findings=findings,
        finished_at=datetime.now(UTC),
        remediations=remediations,
    )


@RUNBOOK.action(ID, "upgrade", risk=OpKind.CHANGE, label="Upgrade to {tag}", impact=IMPACT)
def upgrade(p: PinParams) -> Plan:
    tag, service = p.tag, p.service
    return Plan(
        steps=[
            Step(PullPyroscopeImage(tag=tag), f"1. pull grafana/pyroscope:{tag} and check it arrived"),
            Step(StopContainer(container=service), f"2. stop {service}"),
            Step(BackupPyroscopeConfig(), "3. back up the config"),
            Step(SetServiceImageTag(service=service, tag=tag), f"4. pin {tag} in profbot's compose override"),
            Step(RecreateService(service=service), f"5. podman-compose up -d --force-recreate {service}"),
        ],
        verify=ready_within(),
        binds="container",
    )


@RUNBOOK.action(ROLLBACK_ID, "rollback", risk=OpKind.CHANGE, label="Roll back to {back_to}", impact=IMPACT)
def rollback(p: UnpinParams) -> Plan:
    service = p.service
    return Plan(
        steps=[
            Step(StopContainer(container=service), f"1. stop {service}"),
            Step(ClearServiceImage(service=service), "2. drop profbot's pin: back to the compose file's version"),
            Step(RecreateService(service=service), f"3. podman-compose up -d --force-recreate {service}"),
        ],
        verify=ready_within(),
        binds="container",
    )
