"""Containers and volumes as podman sees them: state and health, the profiled containers, disk
usage, volume size, current CPU and memory; restart, stop and start."""

from __future__ import annotations

import asyncio
import os

from profbot.errors import OperationError
from profbot.ops.containers import (
    ContainerDiskUsage,
    ContainerInspect,
    ContainerList,
    ContainerState,
    ContainerStats,
    ContainerSummary,
    DiskUsage,
    ListProfiledContainers,
    RestartContainer,
    StartContainer,
    StatsResult,
    StopContainer,
    VolumeInfo,
    VolumeInspect,
)
from profbot.ops.contract import ChangeResult
from runner.host_policy import PROFILED_LABEL, HostContext, container_id
from runner.operations.table import op
from runner.podman_gateway import container_state_from_attrs, parse_podman_time


@op(ContainerInspect)
async def container_inspect(host: HostContext, o: ContainerInspect) -> ContainerState:
    if o.run_healthcheck:  # an exec, whose output is shown: only in the containers profbot manages
        await host.require_readable(o.container)
    return await host.podman.inspect(o.container, run_healthcheck=o.run_healthcheck)


@op(ListProfiledContainers)
async def list_profiled(host: HostContext, _: ListProfiledContainers) -> ContainerList:
    docs = await host.podman.list_containers(f"label={PROFILED_LABEL}")
    summaries = []
    for attrs in docs:
        state = container_state_from_attrs(attrs)
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        # Of the environment only SERVICE_NAME is taken: the rest may hold secrets.
        env = (attrs.get("Config") or {}).get("Env") or []
        service_name = next((e.split("=", 1)[1][:128] for e in env if e.startswith("SERVICE_NAME=")), None)
        summaries.append(
            ContainerSummary(
                name=state.name,
                id=state.id,
                service=labels.get("pyroscope.service"),
                compose_service=labels.get("com.docker.compose.service"),
                status=state.status,
                health=state.health,
                service_name=service_name or None,
            )
        )
    return ContainerList(containers=sorted(summaries, key=lambda c: c.name))


@op(ContainerDiskUsage)
async def container_disk_usage(host: HostContext, o: ContainerDiskUsage) -> DiskUsage:
    attrs = await host.require_readable(o.container)  # an exec: only in the containers profbot manages
    # POSIX output (-P) in 1024-byte blocks (-k): one line per filesystem, same columns everywhere.
    code, out, err = await host.podman.exec(o.container, ["df", "-P", "-k", o.path], attrs)
    if code != 0:
        raise OperationError(f"df {o.path} in {o.container} failed (exit {code}): {err.strip()[:300]}")
    return parse_df(o.container, o.path, out)


def parse_df(container: str, path: str, output: str) -> DiskUsage:
    lines = [line for line in output.splitlines() if line.strip()]
    if len(lines) < 2:
        raise OperationError(f"unexpected df output: {output[:200]!r}")
    parts = lines[-1].split()
    if len(parts) < 6 or not all(p.isdigit() for p in parts[1:4]):
        raise OperationError(f"unexpected df output: {lines[-1][:200]!r}")
    size, used, available = (int(p) * 1024 for p in parts[1:4])
    # df's own Capacity rounds up; recompute from the figures, as used / (used + available).
    use_percent = round(100.0 * used / (used + available), 1) if used + available else 0.0
    return DiskUsage(
        container=container,
        path=path,
        filesystem=parts[0],
        size_bytes=size,
        used_bytes=used,
        available_bytes=available,
        use_percent=use_percent,
    )


MAX_VOLUME_WALK_FILES = 200_000


def tree_size(root: str) -> int | None:
    if not os.path.isdir(root):
        return None  # not on this host's filesystem (a remote podman): df answers instead
    total = 0
    seen = 0
    for directory, _dirs, files in os.walk(root):
        for name in files:
            seen += 1
            if seen > MAX_VOLUME_WALK_FILES:
                return None  # too large to walk within a job; df answers for the filesystem
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                continue
    return total


@op(VolumeInspect)
async def volume_inspect(host: HostContext, o: VolumeInspect) -> VolumeInfo:
    attrs = await host.podman.volume(o.volume)
    mountpoint = str(attrs.get("Mountpoint", ""))
    size = await asyncio.to_thread(tree_size, mountpoint) if mountpoint else None
    users = await host.podman.list_containers(f"volume={o.volume}")
    return VolumeInfo(
        name=str(attrs.get("Name", o.volume)),
        driver=str(attrs.get("Driver", "")),
        mountpoint=mountpoint,
        created_at=parse_podman_time(attrs.get("CreatedAt")),
        labels={str(k): str(v) for k, v in (attrs.get("Labels") or {}).items()},
        size_bytes=size,
        used_by=sorted(container_state_from_attrs(a).name for a in users),
    )


@op(ContainerStats)
async def container_stats(host: HostContext, o: ContainerStats) -> StatsResult:
    await host.require_readable(o.container)
    # podman's CPU figure is the container's lifetime average; two samples give the current rate.
    first = await host.podman.stats_sample(o.container)
    await asyncio.sleep(o.interval)
    second = await host.podman.stats_sample(o.container)
    cpu_ns = int(second.get("CPUNano", 0)) - int(first.get("CPUNano", 0))
    wall_ns = int(second.get("SystemNano", 0)) - int(first.get("SystemNano", 0))
    cpu_percent = round(100.0 * cpu_ns / wall_ns, 2) if wall_ns > 0 else 0.0
    memory = int(second.get("MemUsage", 0))
    limit = int(second.get("MemLimit", 0))
    return StatsResult(
        container=o.container,
        cpu_percent=max(cpu_percent, 0.0),
        online_cpus=len(second.get("PerCPU") or []) or (os.cpu_count() or 1),
        memory_bytes=memory,
        memory_limit_bytes=limit,
        memory_percent=round(100.0 * memory / limit, 2) if limit else 0.0,
        interval_seconds=wall_ns / 1e9 if wall_ns > 0 else o.interval,
    )


@op(RestartContainer)
async def restart_container(host: HostContext, o: RestartContainer) -> ChangeResult:
    await host.require_changeable(o.container)
    await host.podman.restart(o.container, o.stop_timeout)
    return ChangeResult(
        target=o.container,
        steps=[f"restarted {o.container} (stop timeout {o.stop_timeout}s)"],
        container_id=await container_id(host, o.container),
    )


@op(StopContainer)
async def stop_container(host: HostContext, o: StopContainer) -> ChangeResult:
    await host.require_changeable(o.container)
    await host.podman.stop(o.container, o.stop_timeout)
    return ChangeResult(target=o.container, steps=[f"stopped {o.container} (stop timeout {o.stop_timeout}s)"])


@op(StartContainer)
async def start_container(host: HostContext, o: StartContainer) -> ChangeResult:
    await host.require_changeable(o.container)
    await host.podman.start(o.container)
    return ChangeResult(
        target=o.container, steps=[f"started {o.container}"], container_id=await container_id(host, o.container)
    )
