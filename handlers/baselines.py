"""Runbook "Performance Baselines": expected, alert threshold, measured, verdict.

Pyroscope's CPU and memory (two-sample stats), profiler overhead per profiled service (its py-spy
processes' CPU), storage growth per day (the runner's sampled volume history). Push latency is
not measurable from here: Pyroscope keeps no per-client push timings, and the report says so.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from pydantic import BaseModel

from handlers.context import Outcome, ProcedureContext
from handlers.findings import Finding, Report, Severity, StorageHistory
from handlers.registry import RUNBOOK
from handlers.storage_full import growth_per_day, trend_available, volume_history
from profbot.bus import VolumeSample
from profbot.ops.arguments import ResourceName
from profbot.ops.containers import (
    ContainerDiskUsage,
    ContainerProcesses,
    ContainerStats,
    DiskUsage,
    ListProfiledContainers,
    ProcessList,
    StatsResult,
)

ID = "BASELINES"
MB = 2**20


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
    stats, profiled, history, disk = await asyncio.gather(
        ctx.run(ContainerStats(container=params.container, interval=1.0)),
        ctx.run(ListProfiledContainers()),
        volume_history(ctx, params.volume),
        ctx.run(ContainerDiskUsage(container=params.container, path="/data")),  # for the chart's full date
    )
    names = [c.name for c in profiled.value.containers if c.status == "running"] if profiled.value else []
    spies = await asyncio.gather(*(ctx.run(ContainerProcesses(container=n, match="py-spy")) for n in names))
    spied = dict(zip(names, spies, strict=True))
    return analyse_baselines(ctx.host, stats, spied, history, volume=params.volume, disk=disk.value)


def analyse_baselines(
    host: str,
    stats: Outcome[StatsResult],
    spies: dict[str, Outcome[ProcessList]],
    history: list[VolumeSample],
    volume: str = "pyroscope_data",
    disk: DiskUsage | None = None,
) -> Report:
    findings: list[Finding] = []
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
    growth = growth_per_day(history)
    if growth is None:
        findings.append(
            Finding(
                check="storage growth per day",
                severity=Severity.INFO,
                detail=f"not enough history yet (needs an hour of samples): {trend_available(history)}",
            )
        )
    else:
        findings.append(
            row(
                "storage growth per day",
                "~100 MB",
                "> 500 MB",
                f"{growth / MB:,.0f} MB",
                verdict(growth / MB, 200, 500),
            )
        )
    findings.append(
        Finding(
            check="profile push latency",
            severity=Severity.INFO,
            detail="not measurable from the server side: Pyroscope keeps no per-client push timings "
            "(expected < 1 s, alert > 5 s)",
        )
    )
    return Report(
        procedure=ID,
        title="Performance baselines",
        host=host,
        findings=findings,
        finished_at=datetime.now(UTC),
        storage=StorageHistory(
            volume=volume,
            samples=history,
            capacity_bytes=disk.size_bytes if disk else None,
            used_bytes=disk.used_bytes if disk else None,
            growth_per_day=growth,
        ),
    )
