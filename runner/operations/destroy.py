"""The one destroy: the runbook's urgent storage path (INC-PROF-004), deleting all profiling history."""

from __future__ import annotations

import time

from profbot.errors import NotAllowed
from profbot.ops.contract import ChangeResult
from profbot.ops.pyroscope import (
    PurgePyroscopeData,
)
from runner import progress
from runner.host_policy import HostContext, container_id
from runner.operations.table import op
from runner.podman_gateway import container_state_from_attrs


@op(PurgePyroscopeData)
async def purge_pyroscope_data(host: HostContext, o: PurgePyroscopeData) -> ChangeResult:
    # Every precondition first: once the volume is gone there is no undo. The first: the volume
    # named (and approved) is this runner's own.
    container, volume = host.policy.pyroscope_container, host.require_pyroscope_volume(o.volume)
    await host.require_changeable(container)
    compose = host.require_compose()
    service = compose.service_for_container(container)
    await host.podman.volume(volume)
    users = sorted(container_state_from_attrs(a).name for a in await host.podman.list_containers(f"volume={volume}"))
    others = [name for name in users if name != container]
    if others:
        raise NotAllowed(f"{volume} is also used by {', '.join(others)}: not purging data other containers use")
    steps = progress.steps()
    started = time.monotonic()
    await host.podman.stop(container, 30)
    steps.append(f"stopped {container}")
    # The stopped container still holds the volume; removing it lets the volume go without
    # `force`, which would also remove any other container using it.
    await host.podman.remove_container(container)
    steps.append(f"removed container {container} (compose creates it again)")
    await host.podman.remove_volume(volume)
    steps.append(f"removed volume {volume}: all profiling history deleted")
    await compose.up(service)
    steps.append(f"podman-compose up -d {service} (new empty {volume})")
    steps.append(f"done in {time.monotonic() - started:.1f}s")
    return ChangeResult(target=volume, steps=steps, container_id=await container_id(host, container))
