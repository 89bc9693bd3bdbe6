"""Runbook "Performance Baselines": expected, alert threshold, measured, verdict.

Pyroscope's CPU and memory (two-sample stats), profiler overhead per profiled service (its py-spy
processes' CPU), storage growth per day (the runner's sampled volume history), and push latency:
Pyroscope keeps no per-client push timings, so the runner pushes a canary profile from its host
and times it until it can be queried back.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from pydantic import BaseModel

from handlers.context import Outcome, ProcedureContext
from handlers.findings import Finding, Report, Severity, StorageHistory
from handlers.registry import RUNBOOK
from handlers.storage_full import not_enough, over, volume_history
from handlers.storage_history import growth_history, samples_only, tenants_evidence
from profbot.jobs import VolumeSample
from profbot.ops.arguments import ResourceName
from profbot.ops.blocks import BlockListing, ListPyroscopeBlocks
from profbot.ops.containers import (
    ContainerDiskUsage,
    ContainerProcesses,
    ContainerStats,
    DiskUsage,
    ListProfiledContainers,
    ProcessList,
    StatsResult,
)
from profbot.ops.pyroscope import (
    CANARY_SERVICE,
    GetPyroscopeConfig,
    MeasurePushLatency,
    PushLatency,
    PyroscopeConfig,
)

ID = "BASELINES"
MB = 2**20
PUSH_CHECK = "profile push latency"
PUSH_EXPECTED_MS = 1000.0  # the runbook: < 1 s expected
PUSH_ALERT_MS = 5000.0  # alert above 5 s


class BaselineParams(BaseModel):
    container: ResourceName = "pyroscope"
    volume: ResourceName = "pyroscope_data"


def verdict(measured: float, expected: float, alert: float) -> Severity:
    if measured > alert:
        return Severity.CRITICAL
    if measured > expected:
        return Severity.WARNING
    return Severity.OK


def row(metric: str, expected: str, alert: str, measured: str, severity: Severity) -> Finding:
    return Finding(check=metric, severity=severity, detail=f"measured {measured} · expected {expected} · alert {alert}")


@RUNBOOK.procedure(
    ID, title="Performance baselines", runbook_section="Performance Baselines", alias="baselines", argument="container"
)
async def measure_baselines(ctx: ProcedureContext, params: BaselineParams) -> Report:
    stats, profiled, history, disk, push, (blocks, config) = await asyncio.gather(
        ctx.run(ContainerStats(container=params.container, interval=1.0)),
        ctx.run(ListProfiledContainers()),
        volume_history(ctx, params.volume),
        ctx.run(ContainerDiskUsage(container=params.container, path="/data")),  # for the chart's full date
        ctx.run(MeasurePushLatency()),
        asyncio.gather(  # the history from Pyroscope's own blocks, over the retention window
            ctx.run(ListPyroscopeBlocks(volume=params.volume)), ctx.run(GetPyroscopeConfig())
        ),
    )
    names = [c.name for c in profiled.value.containers if c.status == "running"] if profiled.value else []
    spies = await asyncio.gather(*(ctx.run(ContainerProcesses(container=n, match="py-spy")) for n in names))
    spied = dict(zip(names, spies, strict=True))
    return analyse_baselines(
        ctx.host, stats, spied, history, push, volume=params.volume, disk=disk.value, blocks=blocks, config=config
    )


def analyse_push_latency(outcome: Outcome[PushLatency]) -> Finding:
    """The canary's push latency against the runbook's thresholds (< 1 s expected, > 5 s alert)."""
    if outcome.value is None:
        return Finding(check=PUSH_CHECK, severity=Severity.WARNING, detail=f"not measured: {outcome.error}")
    p = outcome.value
    if not p.pushed:
        return Finding(
            check=PUSH_CHECK,
            severity=Severity.CRITICAL,
            detail=f"Pyroscope did not take a canary push from this host ({p.error}): services' profiles are "
            "likely lost too",
        )
    if not p.visible or p.latency_ms is None:
        why = f"; last answer: {p.error}" if p.error else ""
        return Finding(
            check=PUSH_CHECK,
            severity=Severity.CRITICAL,
            detail=f"a canary push was accepted but not visible within {p.within_s:.0f} s (alert > 5 s){why}",
        )
    seconds = p.latency_ms / 1000
    measured = f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.0f} s"
    found = row(PUSH_CHECK, "< 1 s", "> 5 s", measured, verdict(p.latency_ms, PUSH_EXPECTED_MS, PUSH_ALERT_MS))
    push = f"the push itself {p.push_ms:.0f} ms, " if p.push_ms is not None else ""
    found.detail += f" ({push}canary service `{CANARY_SERVICE}`, pushed from this host)"
    return found


def analyse_baselines(
    host: str,
    stats: Outcome[StatsResult],
    spies: dict[str, Outcome[ProcessList]],
    history: list[VolumeSample],
    push: Outcome[PushLatency],
    volume: str = "pyroscope_data",
    disk: DiskUsage | None = None,
    blocks: Outcome[BlockListing] | None = None,
    config: Outcome[PyroscopeConfig] | None = None,
    now: float | None = None,
) -> Report:
    findings: list[Finding] = []
    retention = config.value.retention.value if config is not None and config.value is not None else None
    grown = (
        growth_history(blocks, history, retention, time.time() if now is None else now)
        if blocks is not None
        else samples_only(history, "")
    )
    if stats.value is not None:
        s = stats.value
        findings.append(
            row("Pyroscope CPU", "< 5 %", "> 10 %", f"{s.cpu_percent:.1f} %", verdict(s.cpu_percent, 5, 10))
        )
        mem = s.memory_bytes / MB
        findings.append(row("Pyroscope memory", "< 500 MB", "> 1 GB", f"{mem:,.0f} MB", verdict(mem, 500, 1024)))
    else:
        findings.append(
            Finding(check="Pyroscope CPU and memory", severity=Severity.WARNING, detail=f"not measured: {stats.error}")
        )
    for name, outcome in sorted(spies.items()):
        if outcome.value is None:
            findings.append(
                Finding(check=f"overhead {name}", severity=Severity.WARNING, detail=f"not measured: {outcome.error}")
            )
            continue
        cpu = sum(p.cpu_percent for p in outcome.value.processes)
        findings.append(row(f"profiler overhead {name}", "1-3 %", "> 5 %", f"{cpu:.1f} %", verdict(cpu, 3, 5)))
    growth = grown.growth_per_day
    if growth is None:
        findings.append(
            Finding(check="storage growth per day", severity=Severity.INFO, detail=not_enough(grown, history))
        )
    else:
        measured = f"{growth / MB:,.0f} MB{over(grown)}"
        findings.append(row("storage growth per day", "~100 MB", "> 500 MB", measured, verdict(growth / MB, 200, 500)))
    findings += grown.findings
    findings.append(analyse_push_latency(push))
    return Report(
        procedure=ID,
        title="Performance baselines",
        host=host,
        findings=findings,
        finished_at=datetime.now(UTC),
        notes=grown.notes + ([f"Growth is {grown.source}."] if blocks is not None and not grown.from_blocks else []),
        evidence=tenants_evidence(volume, grown),
        storage=StorageHistory(
            volume=volume,
            samples=grown.samples,
            capacity_bytes=disk.size_bytes if disk else None,
            used_bytes=disk.used_bytes if disk else None,
            growth_per_day=growth,
            source=grown.source if grown.from_blocks else None,
            tenants=grown.tenants,
        ),
    )
