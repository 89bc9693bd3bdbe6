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

Webhooks a second do not carry from one shared 2-core machine to another, so the headline figure
is a ratio measured in the same run: profbot's intake against a bare aiohttp handler that checks
the token, parses the same body and makes one Redis write (bench/bare_apps.py), INTAKE_ROUNDS
rounds of each interleaved, the median of the rounds' ratios.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import aiohttp

from bench.ack_latency import wait_serving
from bench.bare_apps import __name__ as BARE_APPS
from bench.machine import describe
from bench.rig import alertmanager_webhook, bus_redis, inbox_drained, posted, text_of, wait
from bench.table import Row, at_least
from tests.rig.ports import free_port
from tests.rig.processes import REPO, BotProcess
from tests.rig.slack_standin import SlackStandIn

TOKEN = "bench-alert-token-0123456789"
CHANNEL = "C0ALERTS"
THROUGHPUT_WEBHOOKS = 2000
CONCURRENCY = 20
STORM_GROUPS, STORM_ALERTS = 100, 50
INTAKE_ROUNDS = 3
INTAKE_RATIO_TARGET = 0.8
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
    bare_port = free_port()
    bare_args = ["intake", str(bare_port), redis_url, f"{prefix}:bench:bare-intake", TOKEN]
    bare = subprocess.Popen([sys.executable, "-m", BARE_APPS, *bare_args], cwd=REPO, stdout=subprocess.PIPE, text=True)
    bare_url = f"http://127.0.0.1:{bare_port}"
    try:
        assert bare.stdout is not None and bare.stdout.readline().strip() == "ready"
        wait_serving(bare_url)
        print("## Alert intake and threads")
        print(f"machine: {describe()}; one `profbot serve`, PROFBOT_SLACK_CHANNEL_RATE={RATE}")

        bodies = [alertmanager_webhook(f"Throughput{i % 100:03d}", [f"host-{i}"]) for i in range(THROUGHPUT_WEBHOOKS)]
        asyncio.run(post_all(bot.url, bodies[:200]))  # warm-up
        asyncio.run(post_all(bare_url, bodies[:200]))
        assert bot.proc is not None
        cpu = cpu_seconds(bot.proc.pid)
        seconds = asyncio.run(post_all(bot.url, bodies))
        cpu = cpu_seconds(bot.proc.pid) - cpu
        rate = THROUGHPUT_WEBHOOKS / seconds
        rates, bare_rates = [rate], [THROUGHPUT_WEBHOOKS / asyncio.run(post_all(bare_url, bodies))]
        for _ in range(INTAKE_ROUNDS - 1):
            bare_rates.append(THROUGHPUT_WEBHOOKS / asyncio.run(post_all(bare_url, bodies)))
            rates.append(THROUGHPUT_WEBHOOKS / asyncio.run(post_all(bot.url, bodies)))
        ratios = sorted(p / b for p, b in zip(rates, bare_rates, strict=True))
        ratio = ratios[len(ratios) // 2]
        bare_rate = sorted(bare_rates)[len(bare_rates) // 2]
        print(f"intake: {THROUGHPUT_WEBHOOKS} webhooks (1 alert each, 100 groups), concurrency {CONCURRENCY}: "
              f"{rate:.0f} alerts/s accepted (stored) in {seconds:.2f} s; the server's CPU "
              f"{cpu / THROUGHPUT_WEBHOOKS * 1e6:.0f} us per webhook (threads posted meanwhile included), "
              f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
        print(f"bare aiohttp handler (token, JSON parse, one Redis write): {bare_rate:.0f} webhooks/s; profbot / "
              f"bare per round: {', '.join(f'{r:.2f}x' for r in ratios)}; median {ratio:.2f}x")  # fmt: skip
        drained = wait(lambda: inbox_drained(redis_url, prefix), 300)  # the storm starts on an idle poster
        updates = len([c for c in slack.calls if c.method == "chat.update"])
        sent = THROUGHPUT_WEBHOOKS * INTAKE_ROUNDS + 200
        print(f"  ... then brought to Slack as {updates + 100} calls (100 threads + {updates} coalesced updates "
              f"for {sent} webhooks){'' if drained else ' (NOT drained in 300 s)'}")  # fmt: skip

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
        ratio_row = Row(
            f"alert intake / a bare aiohttp handler's (median of {INTAKE_ROUNDS} interleaved rounds)",
            f">= {INTAKE_RATIO_TARGET:g}x",
            f"{ratio:.2f}x ({sorted(rates)[len(rates) // 2]:.0f} / {bare_rate:.0f} /s)",
            ratio >= INTAKE_RATIO_TARGET,
        )
        absolute = at_least("alert intake, single-alert webhooks", rate, 2000, "/s").as_information()
        return [ratio_row, absolute, storm_row]
    finally:
        bare.kill()
        bot.stop()
        slack.close()


if __name__ == "__main__":
    from bench.table import render

    print(render(main()))
