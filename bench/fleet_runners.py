"""`/prof runners` across a fleet of 50 hosts: how long the use case and its Slack rendering take.

In this process: 50 runners' heartbeats (their info in the runners hash and their alive keys, as
runner/worker.py writes them, 40 of them still heartbeating) in a real Redis under a key prefix
of its own, read by profbot's own JobBus, use case (``/prof runners`` as the front end runs it,
through Profbot.run with its access check) and Slack rendering (``render(...).as_kwargs()``, what
is sent to Slack). In-memory fakes stand for the stores the command does not touch.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import redis.asyncio as aioredis

from bench.machine import describe, percentile
from bench.rig import bus_redis
from bench.table import Row, at_least, at_most
from bot.slack.render import render
from bot.usecases.app import Ports, Profbot, Settings
from bot.usecases.commands import Asker, Place, Runners
from bot.usecases.content import RunnersOverview
from profbot.bus import JobBus
from profbot.jobs import RunnerInfo
from profbot.keys import Keys
from tests.unit.fakes import Clock, FakeAuditTrail, FakeChangeStore, FakeDirectory, FakeOfferStore, FakePeople

HOSTS = 50
ALIVE = 40
CONTAINERS_PER_HOST = 12
RUNS = 50
TARGET_MS = 200
OPERATOR = "U0OPERATOR"
CHANNEL = "C0PROFOPS"


async def register(client: aioredis.Redis, keys: Keys) -> None:
    """Every runner's heartbeat, as RunnerWorker.heartbeat writes it."""
    now = time.time()
    async with client.pipeline(transaction=False) as pipe:
        for i in range(HOSTS):
            host = f"podhost-{i:02d}"
            info = RunnerInfo(
                host=host, version="0.1.0", pid=1000 + i, started_at=now - 86400,
                last_seen=now - (0 if i < ALIVE else 600), heartbeat_seconds=5.0, podman_version="5.4.2",
                podman_api_version="5.4.2", pyroscope_url="http://pyroscope:4040",
                containers=[f"svc-{i:02d}-{c}" for c in range(CONTAINERS_PER_HOST)],
                pyroscope_ui_url="https://pyroscope.example.com", grafana_ui_url="https://grafana.example.com",
            )  # fmt: skip
            pipe.hset(keys.runners, host, info.model_dump_json())
            if i < ALIVE:
                pipe.set(keys.alive(host), "1", ex=600)
        await pipe.execute()


async def measure(url: str, prefix: str) -> tuple[list[float], list[float], int, int, int, str]:
    client = aioredis.Redis.from_url(url)
    await register(client, Keys(prefix))
    bus = JobBus(client, prefix)
    clock = Clock()
    people = FakePeople()
    ports = Ports(bus=bus, people=people, changes=FakeChangeStore(clock), trail=FakeAuditTrail(),
                  offers=FakeOfferStore(), directory=FakeDirectory({}))  # fmt: skip
    profbot = Profbot(ports, Settings(operators=frozenset({OPERATOR}), job_timeout=5), clock=clock)
    roles = await profbot.access.roles(OPERATOR)
    asker = Asker(user=OPERATOR, place=Place(channel=CHANNEL), roles=roles, reply_to="reply", form_handle="trigger")
    totals: list[float] = []
    renders: list[float] = []
    blocks = chars = listed = 0
    text = ""
    try:
        for run in range(RUNS + 1):  # the first warms up connections and imports, not counted
            people.said.clear()
            started = time.perf_counter()
            await profbot.run(asker, Runners())
            [said] = [s.content for s in people.said if isinstance(s.content, RunnersOverview)]
            rendered = time.perf_counter()
            message = render(said).as_kwargs()
            done = time.perf_counter()
            if run:
                totals.append((done - started) * 1000)
                renders.append((done - rendered) * 1000)
            blocks = len(message["blocks"])
            texts = [b.get("text", {}).get("text", "") for b in message["blocks"]]
            chars = sum(len(t) for t in texts)
            listed = sum(f"*podhost-{i:02d}*" in t for i in range(HOSTS) for t in texts)
            text = message["text"]
    finally:
        await client.aclose()
    return totals, renders, blocks, chars, listed, text


def main() -> list[Row]:
    with bus_redis() as (url, prefix):
        totals, renders, blocks, chars, listed, text = asyncio.run(measure(url, prefix))
    median = statistics.median(totals)
    print("## /prof runners across the fleet")
    print(f"machine: {describe()}")
    print(f"{HOSTS} runners in a real Redis ({ALIVE} heartbeating), {RUNS} runs after a warm-up: the use case as "
          f"the front end runs it, then its Slack rendering")  # fmt: skip
    print(f"  answered and rendered in median {median:.1f} ms, p90 {percentile(totals, 90):.1f} ms, "
          f"max {max(totals):.1f} ms (rendering alone: median {statistics.median(renders):.1f} ms); "
          f"target under {TARGET_MS} ms")  # fmt: skip
    print(f"  it said: {text}, in {blocks} blocks, {chars} characters of section text, listing {listed} of "
          f"{HOSTS} hosts")  # fmt: skip
    return [
        at_most(f"/prof runners, {HOSTS} hosts (real Redis)", median, TARGET_MS, "ms"),
        at_least(f"/prof runners: hosts listed in the Slack message, of {HOSTS}", listed, HOSTS, "hosts"),
    ]


if __name__ == "__main__":
    main()
