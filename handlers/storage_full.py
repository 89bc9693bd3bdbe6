"""Runbook INC-PROF-004: Pyroscope storage full.

Diagnosis (concurrently): `podman volume inspect pyroscope_data`, `df -h /data` in the container
(in bytes and %), the retention setting read for the running Pyroscope version (the runbook's
`retention-period` key would stop v1 from starting), Pyroscope's blocks on the volume (each
block's meta.json), and storage growth per day from those blocks merged with the volume sizes the
runner samples into Redis (handlers/storage_history.py): a trend at the first ask on a stack with
data, and which tenants use the space.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from pydantic import BaseModel

from handlers.actions import ContainerParams, Plan, Step, VolumeParams
from handlers.context import Outcome, ProcedureContext
from handlers.findings import PROJECTION_MAX_DAYS, Finding, Report, Severity, StorageHistory
from handlers.registry import RUNBOOK
from handlers.storage_history import GrowthHistory, growth_history, samples_only, tenants_evidence
from handlers.verification import ready_within
from profbot.errors import ProfbotError
from profbot.jobs import VolumeSample
from profbot.ops.arguments import Duration, ResourceName
from profbot.ops.blocks import BlockListing, ListPyroscopeBlocks
from profbot.ops.containers import ContainerDiskUsage, DiskUsage, VolumeInfo, VolumeInspect
from profbot.ops.contract import OpKind
from profbot.ops.pyroscope import (
    ConfigFilePath,
    GetPyroscopeConfig,
    PurgePyroscopeData,
    PyroscopeConfig,
    SetPyroscopeRetention,
)

ID = "INC-PROF-004"
DISK_WARNING = 85.0
DISK_CRITICAL = 95.0
GROWTH_EXPECTED = 100 * 2**20  # runbook baseline: ~100 MB per day
GROWTH_ALERT = 500 * 2**20  # alert above 500 MB per day
MIN_HISTORY_SECONDS = 3600  # less than an hour of samples says nothing about a day


RETENTION_IMPACT = (
    "Reduced historical data but prevents service disruption. The config is backed up first; Pyroscope is recreated."
)
PURGE_IMPACT = "WARNING: deletes all profiling history. Pyroscope stops and starts again empty."


class StorageParams(BaseModel):
    container: ResourceName = "pyroscope"
    volume: ResourceName = "pyroscope_data"
    retention: Duration = "7d"  # what "reduce retention" offers, the runbook's example


class PurgeParams(VolumeParams):
    container: ResourceName = "pyroscope"  # the container using the volume, which the purge stops and recreates


class RetentionParams(ContainerParams):
    period: Duration
    config: ConfigFilePath  # the file the runner read; the change names it, the approval binds it


def _mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MB" if n < 10 * 2**30 else f"{n / 2**30:,.1f} GB"


@RUNBOOK.procedure(
    ID, title="Pyroscope storage full", runbook_section="INC-PROF-004", alias="storage", argument="container"
)
async def diagnose_storage(ctx: ProcedureContext, params: StorageParams) -> Report:
    volume, disk, config, history, blocks = await asyncio.gather(
        ctx.run(VolumeInspect(volume=params.volume)),
        ctx.run(ContainerDiskUsage(container=params.container, path="/data")),
        ctx.run(GetPyroscopeConfig()),
        volume_history(ctx, params.volume),
        ctx.run(ListPyroscopeBlocks(volume=params.volume)),
    )
    return analyse_storage(ctx.host, params, volume, disk, config, history, blocks=blocks)


async def volume_history(ctx: ProcedureContext, volume: str) -> list[VolumeSample]:
    try:
        return await ctx.bus.volume_history(ctx.host, volume)
    except ProfbotError:
        return []  # growth is then "not enough history": the rest of the diagnosis still stands


def growth_per_day(history: list[VolumeSample]) -> float | None:
    if len(history) < 2 or history[-1].at - history[0].at < MIN_HISTORY_SECONDS:
        return None
    first, last = history[0], history[-1]
    return (last.size_bytes - first.size_bytes) / ((last.at - first.at) / 86400)


def trend_available(history: list[VolumeSample]) -> str:
    """When the growth trend (and its chart) will be available, in words."""
    if not history:
        return "a trend is available an hour after the runner's first sample of the volume"
    at = datetime.fromtimestamp(history[0].at + MIN_HISTORY_SECONDS, UTC)
    return f"a trend is available from {at:%Y-%m-%d %H:%M} UTC"


def analyse_storage(
    host: str,
    params: StorageParams,
    volume: Outcome[VolumeInfo],
    disk: Outcome[DiskUsage],
    config: Outcome[PyroscopeConfig],
    history: list[VolumeSample],
    blocks: Outcome[BlockListing] | None = None,
    now: float | None = None,
) -> Report:
    findings: list[Finding] = []
    notes: list[str] = []
    retention_set = config.value.retention.value if config.value is not None else None
    grown = (
        growth_history(blocks, history, retention_set, time.time() if now is None else now)
        if blocks is not None
        else samples_only(history, "")
    )
    headline = None
    if disk.value is not None:
        d = disk.value
        severity = (
            Severity.CRITICAL
            if d.use_percent >= DISK_CRITICAL
            else Severity.WARNING
            if d.use_percent >= DISK_WARNING
            else Severity.OK
        )
        findings.append(
            Finding(
                check="/data usage",
                severity=severity,
                detail=f"{d.use_percent:.1f} % used: {_mb(d.used_bytes)} of {_mb(d.size_bytes)}, "
                f"{_mb(d.available_bytes)} free",
            )
        )
        if severity is Severity.CRITICAL:
            headline = f"Pyroscope storage is {d.use_percent:.1f} % full ({_mb(d.available_bytes)} free)"
    else:
        findings.append(Finding(check="/data usage", severity=Severity.WARNING, detail=f"not read: {disk.error}"))

    if volume.value is not None:
        v = volume.value
        size = _mb(v.size_bytes) if v.size_bytes is not None else "size not readable from the runner"
        findings.append(
            Finding(
                check=f"volume {v.name}",
                severity=Severity.INFO,
                detail=f"{size}, used by {', '.join(v.used_by) or 'no container'}",
            )
        )
    else:
        findings.append(Finding(check=f"volume {params.volume}", severity=Severity.WARNING, detail=f"{volume.error}"))

    growth = grown.growth_per_day
    if growth is None:
        findings.append(Finding(check="growth per day", severity=Severity.INFO, detail=not_enough(grown, history)))
    else:
        severity = (
            Severity.CRITICAL
            if growth > GROWTH_ALERT
            else Severity.WARNING
            if growth > GROWTH_EXPECTED * 2
            else Severity.OK
        )
        findings.append(
            Finding(
                check="growth per day",
                severity=severity,
                detail=f"{_mb(growth)}/day{over(grown)} (baseline ~100 MB, alert above 500 MB)"
                + full_in(disk.value, growth),
            )
        )
    findings += grown.findings
    notes += grown.notes
    if blocks is not None and not grown.from_blocks:
        notes.append(f"Growth is {grown.source}.")

    retention_valid = True
    if config.value is not None:
        r = config.value.retention
        retention_valid = r.valid_for_running_version
        value = f"`{r.key}: {r.value}`" if r.key else "none set"
        findings.append(
            Finding(
                check="retention",
                severity=Severity.OK if r.valid_for_running_version else Severity.WARNING,
                detail=f"{value}: {r.explanation}",
            )
        )
        if not r.valid_for_running_version:
            notes.append(
                "The runbook's `retention-period` key is Pyroscope v0's; v1 refuses to start with it. "
                "profbot reads and sets retention in the running version's own form."
            )
    else:
        findings.append(Finding(check="retention", severity=Severity.INFO, detail=f"not read: {config.error}"))

    remediations = []
    if config.value is not None:  # the change names the config file: offered only once it was read
        retention = RetentionParams(container=params.container, period=params.retention, config=config.value.path)
        remediations.append(reduce_retention.offer(host, retention))
    else:
        notes.append("Setting retention is not offered: the runner did not read the Pyroscope config file.")
    remediations.append(purge.offer(host, PurgeParams(volume=params.volume, container=params.container)))
    if config.value is not None and not retention_valid:
        notes.append("Setting retention is refused on this Pyroscope until a storage bucket is configured.")
    return Report(
        procedure=ID,
        title="Pyroscope storage",
        host=host,
        findings=findings,
        finished_at=datetime.now(UTC),
        headline=headline,
        remediations=remediations,
        notes=notes,
        evidence=tenants_evidence(params.volume, grown),
        storage=StorageHistory(
            volume=params.volume,
            samples=grown.samples,
            capacity_bytes=disk.value.size_bytes if disk.value else None,
            used_bytes=disk.value.used_bytes if disk.value else None,
            growth_per_day=growth,
            source=grown.source if grown.from_blocks else None,
            tenants=grown.tenants,
        ),
    )


def full_in(disk: DiskUsage | None, growth: float) -> str:
    """When /data fills at this rate, in words; nothing when it does not grow or would take years."""
    if disk is None or growth <= 0 or disk.available_bytes / growth > PROJECTION_MAX_DAYS:
        return ""
    days = disk.available_bytes / growth
    at = datetime.fromtimestamp(time.time() + days * 86400, UTC)
    ahead = f"{days * 24:.0f} h" if days < 1 else f"{days:.0f} days"
    return f"; at this rate /data is full on {at:%Y-%m-%d} (in {ahead})"


def not_enough(grown: GrowthHistory, history: list[VolumeSample]) -> str:
    if grown.from_blocks:
        return f"not enough history yet ({grown.source}; a trend needs an hour)"
    span = (history[-1].at - history[0].at) / 60 if len(history) >= 2 else 0
    return (
        f"not enough history yet ({len(history)} samples over {span:.0f} min; needs an hour): "
        f"{trend_available(history)}"
    )


def over(grown: GrowthHistory) -> str:
    """Over what the rate was taken, and of what, when not the samples alone."""
    if not grown.from_blocks:
        return ""
    days = grown.window / 86400
    span = f"{days:.0f} days" if days >= 2 else f"{grown.window / 3600:.0f} h"
    return f" over the last {span}, {grown.source}"


@RUNBOOK.action(ID, "reduce-retention", risk=OpKind.CHANGE, label="Set retention to {period}", impact=RETENTION_IMPACT)
def reduce_retention(p: RetentionParams) -> Plan:
    return Plan(
        steps=[
            Step(
                SetPyroscopeRetention(config=p.config, period=p.period),
                f"back up {p.config}, set retention to {p.period} in it, recreate {p.container}",
            )
        ],
        verify=ready_within(),
        binds="container",
    )


@RUNBOOK.action(ID, "purge", risk=OpKind.DESTROY, label="Delete volume {volume}", impact=PURGE_IMPACT)
def purge(p: PurgeParams) -> Plan:
    return Plan(
        steps=[
            Step(
                PurgePyroscopeData(volume=p.volume),
                f"stop {p.container}, remove volume {p.volume}, start {p.container}",
            )
        ],
        verify=ready_within(),
        binds="volume",
        also_holds=(p.container,),  # stopped and recreated: no retention, restart or upgrade on it meanwhile
    )
