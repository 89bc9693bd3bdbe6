"""The alert path of one `profbot serve` process: how many webhooks it stores a second, and how
few Slack calls a storm of them becomes.

- Intake: Alertmanager webhooks (one alert each, 100 groups, so most are re-sends of a group the
  ledger already has) posted 20 at a time with aiohttp; "accepted" means answered 200, i.e. stored
  in Redis (one round trip at most per webhook, bot/stores/alert_ledger.py). The alert threads
  post to the Slack stand-in meanwhile, in the same process, as they would in production. The
  client runs on the same machine: its CPU is taken from the server's. The server's CPU per
  webhook is printed too: a loaded machine disturbs it less than the rate.
- Storm: 5,000 alerts in 100 groups sent in a burst (100 webhooks of 50 alerts, each group whole in
  its one webhook), once the intake's groups are all brought to Slack. The minimum is 100 Slack
  calls: one parent message per group, each already showing its 50 alerts; nothing is left to
  update or reply. So the target is met when all 100 threads are posted with exactly 100 chat.*
  calls, retries after a 429 and any coalesced update counted against it.

Webhook -> thread and -> diagnosis latency is measured by its own benchmark.
"""

from __future__ import annotations

import asyncio
import os
import time

import aiohttp

from bench.machine import describe
from bench.rig import alertmanager_webhook, bus_redis, inbox_drained, posted, text_of, wait
from bench.table import Row, at_least
from tests.rig.processes import BotProcess
from tests.rig.slack_standin import SlackStandIn

TOKEN = "bench-alert-token-0123456789"
CHANNEL = "C0ALERTS"
THROUGHPUT_WEBHOOKS = 2000
CONCURRENCY = 20
STORM_GROUPS, STORM_ALERTS = 100, 50
RATE = "10"  # PROFBOT_SLACK_CHANNEL_RATE for the run: Slack's real limit is about 1/s per channel


async def post_all(url: str, bodies: list[bytes]) -> float:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    semaphore = asyncio.Semaphore(CONCURRENCY)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:

        async def one(body: bytes) -> None:
            async with semaphore, session.post(f"{url}/alerts/alertmanager", data=body, headers=headers) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"intake answered {r.status}")

        started = time.perf_counter()
        await asyncio.gather(*(one(b) for b in bodies))
        return time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    """User and system CPU the process has used: a figure a loaded machine disturbs less than a rate."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def threads_posted(slack: SlackStandIn) -> int:
    return len(posted(slack, lambda c: "Storm" in text_of(c) and "thread_ts" not in c.body))


def main() -> list[Row]:
    with bus_redis() as (redis_url, prefix):
        return measure(redis_url, prefix)


def measure(redis_url: str, prefix: str) -> list[Row]:
    slack = SlackStandIn(channels={CHANNEL}).start()
    settings = {"PROFBOT_ALERT_TOKEN": TOKEN, "PROFBOT_ALERT_CHANNEL": CHANNEL, "PROFBOT_SLACK_CHANNEL_RATE": RATE}
    bot = BotProcess(redis_url=redis_url, prefix=prefix, slack_api_url=slack.api_url, **settings).start()
    try:
        print("## Alert intake and threads")
        print(f"machine: {describe()}; one `profbot serve`, PROFBOT_SLACK_CHANNEL_RATE={RATE}")

        bodies = [alertmanager_webhook(f"Throughput{i % 100:03d}", [f"host-{i}"]) for i in range(THROUGHPUT_WEBHOOKS)]
        asyncio.run(post_all(bot.url, bodies[:200]))  # warm-up
        assert bot.proc is not None
        cpu = cpu_seconds(bot.proc.pid)
        seconds = asyncio.run(post_all(bot.url, bodies))
        cpu = cpu_seconds(bot.proc.pid) - cpu
        rate = THROUGHPUT_WEBHOOKS / seconds
        print(f"intake: {THROUGHPUT_WEBHOOKS} webhooks (1 alert each, 100 groups), concurrency {CONCURRENCY}: "
              f"{rate:.0f} alerts/s accepted (stored) in {seconds:.2f} s; the server's CPU "
              f"{cpu / THROUGHPUT_WEBHOOKS * 1e6:.0f} us per webhook (threads posted meanwhile included), "
              f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
        drained = wait(lambda: inbox_drained(redis_url, prefix), 300)  # the storm starts on an idle poster
        updates = len([c for c in slack.calls if c.method == "chat.update"])
        print(f"  ... then brought to Slack as {updates + 100} calls (100 threads + {updates} coalesced updates "
              f"for {THROUGHPUT_WEBHOOKS + 200} webhooks){'' if drained else ' (NOT drained in 300 s)'}")  # fmt: skip

        slack.clear()
        storm = [
            alertmanager_webhook(f"Storm{g:03d}", [f"host-{i}" for i in range(STORM_ALERTS)])
            for g in range(STORM_GROUPS)
        ]
        seconds = asyncio.run(post_all(bot.url, storm))
        started = time.monotonic()
        done = wait(lambda: threads_posted(slack) >= STORM_GROUPS, 300)
        threads_after = time.monotonic() - started
        time.sleep(3)  # anything more it would send
        calls = [c for c in slack.calls if c.method.startswith("chat.")]
        throttled = [c for c in calls if c.status == 429]
        print(f"storm: {STORM_GROUPS * STORM_ALERTS} alerts in {STORM_GROUPS} groups accepted in {seconds:.2f} s; "
              f"all {STORM_GROUPS} threads {'posted' if done else 'NOT all posted'} {threads_after:.1f} s later; "
              f"Slack calls {len(calls)} (minimum possible {STORM_GROUPS}: {len(calls) / STORM_GROUPS:.2f}x), "
              f"429s {len(throttled)}")  # fmt: skip
        storm_row = Row(
            "5,000 alerts in 100 groups: Slack calls",
            f"= {STORM_GROUPS} (minimum)",
            f"{len(calls)}" + ("" if done else f", {STORM_GROUPS - threads_posted(slack)} threads missing"),
            done and len(calls) == STORM_GROUPS,
        )
        return [at_least("alert intake, single-alert webhooks", rate, 2000, "/s"), storm_row]
    finally:
        bot.stop()
        slack.close()


if __name__ == "__main__":
    from bench.table import render

    print(render(main()))
