"""Runner read operations: latency of each, and the runbook's INC-PROF-001 diagnosis through
profbot versus the same commands typed into the podman CLI one after another.

Everything is real: a `profbot runner` process on the isolated podman rig with the compose stack,
jobs over Redis from this process (what the bot does), 20 runs of each, medians quoted. ``main()``
returns the diagnosis's ratio as an informational row (bench/alert_diagnosis.py holds the target).
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable

import handlers
from bench.machine import describe, percentile
from bench.rig import bus_redis
from bench.table import Row
from handlers.context import ProcedureContext
from handlers.pyroscope_unavailable import ID as UNAVAILABLE
from handlers.pyroscope_unavailable import UnavailableParams
from profbot.bus import JobBus
from profbot.ops.containers import (
    ContainerDiskUsage,
    ContainerEnv,
    ContainerHttpGet,
    ContainerInspect,
    ContainerLogs,
    ContainerPackageVersion,
    ContainerProcesses,
    ContainerReach,
    ContainerStats,
    ListProfiledContainers,
    ReadContainerFile,
    VolumeInspect,
)
from profbot.ops.contract import Operation
from profbot.ops.pyroscope import GetPyroscopeConfig, GetPyroscopeVersion, PyroscopeFreshness, PyroscopeReady
from profbot.redis_access import connect
from tests.rig.podman_rig import PodmanRig
from tests.rig.ports import free_port
from tests.rig.processes import RunnerProcess

RUNS = 20
HOST = "bench-host"

READ_OPERATIONS: list[Operation] = [
    PyroscopeReady(),
    ContainerInspect(container="pyroscope"),
    ContainerInspect(container="pyroscope", run_healthcheck=True),
    ListProfiledContainers(),
    ContainerLogs(container="pyroscope", tail=100),
    ReadContainerFile(container="ai-yolo26", path="/tmp/profiler.log"),
    ContainerEnv(container="ai-yolo26", names=["SERVICE_NAME", "PROFILE_INTERVAL"]),
    ContainerProcesses(container="ai-yolo26", match="py-spy"),
    ContainerDiskUsage(container="pyroscope", path="/data"),
    VolumeInspect(volume="pyroscope_data"),
    ContainerStats(container="ai-yolo26", interval=0.5),
    ContainerHttpGet(container="backend"),
    ContainerReach(container="backend"),
    ContainerPackageVersion(container="backend"),
    GetPyroscopeVersion(),
    PyroscopeFreshness(services=["ai-yolo26", "backend"], minutes=5),
    GetPyroscopeConfig(),
]

HTTP_GET = "import urllib.request; print(urllib.request.urlopen('http://pyroscope:4040/ready', timeout=5).read())"


async def timed(call: Callable[[], Awaitable[object]]) -> list[float]:
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def label(op: Operation) -> str:
    args = ", ".join(f"{k}={v}" for k, v in op.model_dump().items() if v not in (None, [], False))
    return f"{op.name}({args})"


async def measure(bus: JobBus, rig: PodmanRig) -> list[Row]:
    print("## runner read operations (one job each, bot -> Redis -> runner -> podman/Pyroscope -> back)")
    print(f"machine: {describe()}")
    print(f"{RUNS} runs each, sequential; figures in ms")
    for op in READ_OPERATIONS:
        await bus.call(HOST, op, timeout=60)  # warm-up
        samples = await timed(lambda op=op: bus.call(HOST, op, timeout=60))  # type: ignore[misc]
        print(f"{label(op):<78} median {statistics.median(samples):7.1f}  p90 {percentile(samples, 90):7.1f}")

    # INC-PROF-001's four diagnosis commands. Through profbot: the procedure itself, its reads as
    # concurrent jobs; by hand an engineer types them one after another.
    procedure = handlers.RUNBOOK.get(UNAVAILABLE)
    assert procedure is not None

    async def through_profbot() -> None:
        await procedure(ProcedureContext(bus, HOST, timeout=60), UnavailableParams())

    def cli(*args: str) -> None:
        subprocess.run(["podman", *args], env=rig.env, capture_output=True, check=False)

    def by_hand() -> None:
        cli("ps")
        cli("inspect", "pyroscope", "--format", "{{.State.Health.Status}}")
        cli("logs", "pyroscope", "--tail", "100")
        # The runbook's `curl -s` cannot resolve names in the rig's stand-in (host curl, busybox
        # image); the same GET through the container's python3 is the fair equivalent.
        cli("exec", "backend", "python3", "-c", HTTP_GET)

    await through_profbot()
    profbot = await timed(through_profbot)

    async def cli_async() -> None:
        await asyncio.to_thread(by_hand)

    by_hand()
    manual = await timed(cli_async)
    p, m = statistics.median(profbot), statistics.median(manual)
    print()
    print("## INC-PROF-001 diagnosis: profbot vs the podman CLI, command after command")
    print(
        f"profbot (the procedure: its reads as concurrent jobs): median {p:.1f} ms, p90 {percentile(profbot, 90):.1f}"
    )
    print(f"podman CLI, 4 commands in a row:                    median {m:.1f} ms, p90 {percentile(manual, 90):.1f}")
    print(f"ratio CLI / profbot: {m / p:.2f}x")
    return [
        Row(
            "profbot's INC-PROF-001 diagnosis / CLI's four commands (median)",
            "informational",
            f"{p / m:.2f}x ({p:.0f} / {m:.0f} ms)",
            True,
        )
    ]


def main() -> list[Row]:
    with bus_redis() as (redis_url, prefix):
        return on_rig(redis_url, prefix)


def on_rig(redis_url: str, prefix: str) -> list[Row]:
    rig = PodmanRig()
    rig.start()
    rig.start_stack(free_port())
    runner = RunnerProcess(redis_url=redis_url, prefix=prefix, host_id=HOST, settings=rig.runner_env()).start()

    async def run() -> list[Row]:
        client = connect(redis_url)
        bus = JobBus(client, prefix)
        bus.waiter.start()
        try:
            return await measure(bus, rig)
        finally:
            await bus.waiter.stop()
            await client.aclose()

    try:
        return asyncio.run(run())
    finally:
        runner.stop()
        rig.close()


if __name__ == "__main__":
    main()
