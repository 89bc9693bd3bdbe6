"""Memory of a long-running `profbot serve` and `profbot runner`: resident set size after 1,000
commands and after 5,000.

From this separate process: signed slash commands to a real `profbot serve` backed by Redis
(`/prof health`, `/prof freshness` and `/prof runners` in turn, CONCURRENCY at a time), with a real
`profbot runner` on the isolated podman rig answering the jobs they start (health and freshness
checks against the rig's Pyroscope stand-in), and the Slack stand-in, in a process of its own,
receiving the posts. After each batch the bench waits until the bot has posted nothing for
SETTLE seconds (its background work done), then reads VmRSS from /proc/<pid>/status.

Targets (issue 14): serve under 80 MB and runner under 60 MB after 1,000 commands, and no
growth from 1,000 to 5,000. "No growth" is taken as: RSS after 5,000 at most 5 % above RSS
after 1,000 (about 3 to 4 MB for these processes). CPython's allocator seldom gives pages back,
so a leak shows as steady growth, while a process that keeps nothing per command stays within a
few pages of where it was.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import httpx

from bench.machine import describe
from bench.table import Row, at_most
from tests.rig.podman_rig import PodmanRig
from tests.rig.ports import free_port
from tests.rig.processes import REPO, BotProcess, RunnerProcess
from tests.rig.redis_rig import SHARED_URL, PrivateRedis, delete_prefix, new_prefix, shared_redis_answers
from tests.rig.slack_requests import command_body, sign

FIRST = 1_000
TOTAL = 5_000
CONCURRENCY = 10
COMMANDS = ("health", "freshness", "runners")
SETTLE = 3.0
SERVE_TARGET_MB = 80
RUNNER_TARGET_MB = 60
GROWTH_TARGET_PERCENT = 5


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


async def fire(url: str, response_url: str, start: int, count: int) -> int:
    """``count`` commands, CONCURRENCY at a time; how many the bot did not acknowledge with 200."""
    semaphore = asyncio.Semaphore(CONCURRENCY)
    failed = 0
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> None:
            nonlocal failed
            body = command_body(COMMANDS[i % len(COMMANDS)], response_url=response_url)
            async with semaphore:
                headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
                async with session.post(f"{url}/slack/events", data=body, headers=headers) as response:
                    await response.read()
                    failed += response.status != 200

        await asyncio.gather(*(one(i) for i in range(start, start + count)))
    return failed


def posted(slack_port: int) -> int:
    return sum(
        int(httpx.get(f"http://127.0.0.1:{slack_port}/_count/{method}", timeout=10).text)
        for method in ("chat.postMessage", "chat.update", "response_url")
    )


def settle(slack_port: int, timeout: float = 600) -> int:
    """Wait until nothing was posted for SETTLE seconds; the number of posts so far."""
    deadline = time.monotonic() + timeout
    last, quiet_since = posted(slack_port), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = posted(slack_port)
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= SETTLE:
            break
    return last


def main() -> list[Row]:
    private = None if shared_redis_answers() else PrivateRedis().start()
    redis_url = SHARED_URL if private is None else private.url
    prefix = new_prefix()
    slack = subprocess.Popen(
        [sys.executable, "-m", "tests.rig.slack_standin"], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert slack.stdout is not None
    slack_port = int(slack.stdout.readline())
    response_url = f"http://127.0.0.1:{slack_port}/response/bench"
    rig = PodmanRig()
    rig.start()
    rig.start_stack(free_port())
    bot = BotProcess(
        redis_url=redis_url, prefix=prefix, slack_api_url=f"http://127.0.0.1:{slack_port}/api/",
        PROFBOT_SLACK_CHANNEL_RATE="100",  # the stand-in is not Slack: the bench measures memory, not pacing
    ).start()  # fmt: skip
    runner = RunnerProcess(redis_url=redis_url, prefix=prefix, host_id="bench-host", settings=rig.runner_env()).start()
    assert bot.proc is not None and runner.proc is not None
    pids = {"serve": bot.proc.pid, "runner": runner.proc.pid}
    try:
        settle(slack_port)
        rss = {"start": {k: rss_mb(p) for k, p in pids.items()}}
        started = time.monotonic()
        failed = asyncio.run(fire(bot.url, response_url, 0, FIRST))
        posts = settle(slack_port)
        rss[str(FIRST)] = {k: rss_mb(p) for k, p in pids.items()}
        first_seconds = time.monotonic() - started
        failed += asyncio.run(fire(bot.url, response_url, FIRST, TOTAL - FIRST))
        posts = settle(slack_port)
        rss[str(TOTAL)] = {k: rss_mb(p) for k, p in pids.items()}
        elapsed = time.monotonic() - started
    finally:
        runner.stop()
        bot.stop()
        rig.close()
        slack.kill()
        slack.wait()
        delete_prefix(redis_url, prefix)
        if private is not None:
            private.close()
    print("## Memory of serve and runner")
    print(f"machine: {describe()}")
    print(f"{TOTAL} signed commands ({', '.join(COMMANDS)} in turn), concurrency {CONCURRENCY}; a real runner "
          f"on the podman rig; {posts} posts to the Slack stand-in; {failed} not acknowledged with 200")  # fmt: skip
    print(f"first {FIRST} in {first_seconds:.0f} s, all {TOTAL} in {elapsed:.0f} s")
    for when, figures in rss.items():
        print(f"RSS {'at start' if when == 'start' else f'after {when} commands'}: "
              f"serve {figures['serve']:.1f} MB, runner {figures['runner']:.1f} MB")  # fmt: skip
    rows = [
        at_most(f"serve RSS after {FIRST:,} commands", rss[str(FIRST)]["serve"], SERVE_TARGET_MB, "MB"),
        at_most(f"runner RSS after {FIRST:,} commands", rss[str(FIRST)]["runner"], RUNNER_TARGET_MB, "MB"),
    ]
    for role in ("serve", "runner"):
        before, after = rss[str(FIRST)][role], rss[str(TOTAL)][role]
        growth = 100 * (after - before) / before
        print(f"{role}: {after - before:+.1f} MB ({growth:+.1f} %) from {FIRST:,} to {TOTAL:,} commands "
              f"(no growth: under +{GROWTH_TARGET_PERCENT} %)")  # fmt: skip
        rows.append(at_most(f"{role} RSS growth {FIRST:,} -> {TOTAL:,} commands", growth, GROWTH_TARGET_PERCENT, "%"))
    return rows


if __name__ == "__main__":
    main()
