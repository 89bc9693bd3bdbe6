"""`/prof freshness` across a fleet of 200 profiled services: how long it takes and how many
queries it sends Pyroscope.

A synthetic stand-in, in this process: two hosts of 100 profiled containers each, answered by a
bus that waits a job's round trip (bot -> Redis -> runner -> back, ~10 ms as measured by
bench/runner_ops.py) per job, and the runner's real Pyroscope client against a simulated v1
server (5 ms per request, two profile types) that counts what it is asked. Half the services have
data. The use case, the analysis and the rendering are profbot's own.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import httpx

from bench.machine import describe
from bench.table import Row, at_most
from bot.slack.render import render
from bot.usecases.commands import Freshness
from bot.usecases.content import DiagnosisPosted
from profbot import logs
from profbot.ops.containers import ContainerList, ContainerSummary
from runner.pyroscope import PyroscopeClient
from tests.unit.fakes import Call
from tests.unit.world import HOST, World, make_world

SERVICES = 200
HOSTS = (HOST, "podhost-2")
JOB_ROUNDTRIP = 0.010
PYROSCOPE_LATENCY = 0.005
PROFILE_TYPES = ["process_cpu:cpu:nanoseconds:cpu:nanoseconds", "wall:wall:nanoseconds:wall:nanoseconds"]
RUNS = 5
TARGET_SECONDS = 2.0


class SimulatedPyroscope:
    """A v1 Pyroscope that knows ``seen`` and counts every request by path."""

    def __init__(self, seen: list[str]) -> None:
        self.seen = seen
        self.asked: list[str] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request.url.path)
        await asyncio.sleep(PYROSCOPE_LATENCY)
        if request.url.path.endswith("/LabelValues"):
            return httpx.Response(200, json={"names": self.seen})
        if request.url.path.endswith("/ProfileTypes"):
            return httpx.Response(200, json={"profileTypes": [{"ID": t} for t in PROFILE_TYPES]})
        if request.url.path == "/pyroscope/render":
            return httpx.Response(200, json={"flamebearer": {"numTicks": 1_000_000}})
        return httpx.Response(404)


def fleet(world: World, pyroscope: PyroscopeClient) -> None:
    """Two hosts of profiled containers; every job waits its round trip; freshness goes to the
    runner's real client."""
    per_host = SERVICES // len(HOSTS)
    for h, host in enumerate(HOSTS):
        names = [f"svc-{h * per_host + i:03d}" for i in range(per_host)]
        world.bus.hosts.setdefault(host, [])
        world.bus.hosts[host] += names
        world.bus.answers_on[(host, "containers.profiled")] = ContainerList(
            containers=[ContainerSummary(name=n, id=f"{n}-id", service=n, compose_service=n, status="running",
                                         health=None) for n in names]
        )  # fmt: skip
    plain_call = world.bus.call

    async def call(host: str, operation: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(JOB_ROUNDTRIP)
        if operation.name == "pyroscope.freshness":
            await world.bus.ensure_runner(host)
            world.bus.calls.append(Call(host, operation, None))
            return await pyroscope.freshness(list(operation.services), operation.minutes)
        return await plain_call(host, operation, **kwargs)

    world.bus.call = call  # type: ignore[method-assign]


async def one_run() -> tuple[float, int, int, str]:
    seen = [f"svc-{i:03d}" for i in range(0, SERVICES, 2)]
    server = SimulatedPyroscope(seen)
    async with PyroscopeClient("http://pyroscope:4040", timeout=5, transport=httpx.MockTransport(server)) as client:
        world = make_world()
        fleet(world, client)
        asker = await world.asker()
        started = time.perf_counter()
        await world.profbot.run(asker, Freshness())
        elapsed = time.perf_counter() - started
    [posted] = [s.content for s in world.people.said if isinstance(s.content, DiagnosisPosted)]
    render(posted)  # what Slack would be sent, within its limits
    return elapsed, len(server.asked), len(world.bus.calls), posted.report.summary()


def main() -> list[Row]:
    print("## /prof freshness across the fleet")
    print(f"machine: {describe()}")
    stand_in = f"{JOB_ROUNDTRIP * 1000:.0f} ms per job, {PYROSCOPE_LATENCY * 1000:.0f} ms per Pyroscope request"
    print(f"/prof freshness over {SERVICES} profiled services on {len(HOSTS)} hosts (synthetic stand-in: {stand_in})")
    runs = [asyncio.run(one_run()) for _ in range(RUNS)]
    times = [r[0] for r in runs]
    _, queries, jobs, said = runs[-1]
    median = statistics.median(times)
    verdict = "within" if median < TARGET_SECONDS else "OVER"
    print(f"  answered in median {median * 1000:.1f} ms over {RUNS} runs (max {max(times) * 1000:.1f} ms; "
          f"target under {TARGET_SECONDS:.0f} s: {verdict})")  # fmt: skip
    print(f"  Pyroscope queries: {queries} (one LabelValues for every service); runner jobs: {jobs} "
          f"(one list per host, one freshness)")  # fmt: skip
    before = 2 + (SERVICES // 2) * len(PROFILE_TYPES)
    print(f"  the per-service render queries it replaces would have been {before} here (LabelValues, "
          f"ProfileTypes, and one render per service with data and profile type)")  # fmt: skip
    print(f"  it said: {said}")
    return [
        at_most(f"/prof freshness, {SERVICES} services on {len(HOSTS)} hosts (stand-in)", median * 1000,
                TARGET_SECONDS * 1000, "ms"),
        # informational: one query, where a query per service would be 202 here
        Row(f"Pyroscope queries per /prof freshness, {SERVICES} services", "-", f"{queries}", met=True),
    ]  # fmt: skip


if __name__ == "__main__":
    logs.configure("warning")
    main()
