"""The alert path of one `profbot serve` process: intake throughput, webhook -> thread latency for a
mapped alert, and the storm's Slack call count against the minimum possible.

- Throughput: Alertmanager webhooks (one alert each, 100 groups, so most are re-sends of a group
  the ledger already has) posted 20 at a time with aiohttp; "accepted" means answered 200, i.e.
  stored in Redis.
- Latency: one new group at a time (alertname PyroscopeDown, mapped to INC-PROF-001), from the
  POST to the parent message reaching the Slack stand-in, and to the diagnosis (a real runner on
  the podman rig runs its reads) reaching the thread.
- Storm: 5,000 alerts in 100 groups sent in a burst (100 webhooks of 50 alerts); Slack calls made
  until every group has its thread, against the 100 a perfect coalescer needs.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import redis

from bench.machine import describe, percentile
from tests.rig.podman_rig import PodmanRig
from tests.rig.ports import free_port
from tests.rig.processes import BotProcess, RunnerProcess
from tests.rig.redis_rig import SHARED_URL, PrivateRedis, delete_prefix, new_prefix, shared_redis_answers
from tests.rig.slack_standin import SlackStandIn

TOKEN = "bench-alert-token-0123456789"
CHANNEL = "C0ALERTS"
THROUGHPUT_WEBHOOKS = 2000
CONCURRENCY = 20
LATENCY_SAMPLES = 30
RATE = "10"  # PROFBOT_SLACK_CHANNEL_RATE for the run: Slack's real limit is about 1/s per channel


def webhook(group: str, instances: list[str], alertname: str | None = None) -> bytes:
    """An Alertmanager webhook for group ``group`` (its alertname, unless ``alertname`` is given)."""
    name = alertname or group
    alerts = [{"status": "firing", "labels": {"alertname": name, "instance": i, "severity": "critical"},
               "annotations": {"summary": f"{name} on {i}"}, "startsAt": "2026-11-25T17:15:01Z",
               "fingerprint": f"{group}-{i}"} for i in instances]  # fmt: skip
    return json.dumps({"version": "4", "status": "firing", "receiver": "profbot", "alerts": alerts,
                       "groupKey": f'{{}}:{{group="{group}"}}', "groupLabels": {"alertname": name},
                       "commonLabels": {"alertname": name}}).encode()  # fmt: skip


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


def posted(slack: SlackStandIn, predicate: Any) -> list[Any]:
    return [c for c in slack.calls_to("chat.postMessage") if c.answer.get("ok") and predicate(c)]


def wait(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return False


def inbox_drained(redis_url: str, prefix: str) -> bool:
    """Every inbox entry delivered to a poster and acknowledged."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    groups: Any = client.xinfo_groups(f"{prefix}:alerts:inbox")
    return bool(groups) and all(g["pending"] == 0 and g.get("lag", 0) == 0 for g in groups)


def text_of(call: Any) -> str:
    return json.dumps(call.body.get("blocks") or call.body.get("text"))


def main() -> None:
    private = None if shared_redis_answers() else PrivateRedis().start()
    redis_url = SHARED_URL if private is None else private.url
    prefix = new_prefix()
    slack = SlackStandIn(channels={CHANNEL}).start()
    rig = PodmanRig()
    rig.start()
    rig.start_stack(free_port())
    settings = {"PROFBOT_ALERT_TOKEN": TOKEN, "PROFBOT_ALERT_CHANNEL": CHANNEL, "PROFBOT_SLACK_CHANNEL_RATE": RATE}
    bot = BotProcess(redis_url=redis_url, prefix=prefix, slack_api_url=slack.api_url, **settings).start()
    runner = RunnerProcess(redis_url=redis_url, prefix=prefix, host_id="bench-host", settings=rig.runner_env()).start()
    try:
        print("## Alert intake and threads")
        print(f"machine: {describe()}; one `profbot serve`, PROFBOT_SLACK_CHANNEL_RATE={RATE}")

        bodies = [webhook(f"Throughput{i % 100:03d}", [f"host-{i}"]) for i in range(THROUGHPUT_WEBHOOKS)]
        asyncio.run(post_all(bot.url, bodies[:200]))  # warm-up
        seconds = asyncio.run(post_all(bot.url, bodies))
        print(f"intake: {THROUGHPUT_WEBHOOKS} webhooks (1 alert each, 100 groups), concurrency {CONCURRENCY}: "
              f"{THROUGHPUT_WEBHOOKS / seconds:.0f} alerts/s accepted (stored) in {seconds:.2f} s")  # fmt: skip
        drained = wait(lambda: inbox_drained(redis_url, prefix), 300)  # latency is measured on an idle poster
        updates = len([c for c in slack.calls if c.method == "chat.update"])
        print(f"  ... then brought to Slack as {updates + 100} calls (100 threads + {updates} coalesced updates "
              f"for {THROUGHPUT_WEBHOOKS + 200} webhooks){'' if drained else ' (NOT drained in 300 s)'}")  # fmt: skip

        to_parent, to_diagnosis = [], []
        for i in range(LATENCY_SAMPLES):
            body = webhook(f"latency-{i:02d}", [f"lat-{i}"], alertname="PyroscopeDown")
            started = time.time()
            asyncio.run(post_all(bot.url, [body]))

            def parent(started: float = started, i: int = i) -> list[Any]:
                return posted(
                    slack, lambda c: c.at >= started and "thread_ts" not in c.body and f"lat-{i}" in text_of(c)
                )

            def diagnosis(started: float = started) -> list[Any]:
                return posted(slack, lambda c: c.at >= started and "INC-PROF-001: Pyroscope server" in text_of(c))

            if wait(lambda: bool(parent()), 30):
                to_parent.append((parent()[0].at - started) * 1000)
            if wait(lambda: bool(diagnosis()), 60):
                to_diagnosis.append((diagnosis()[0].at - started) * 1000)
            time.sleep(0.3)
        print(f"webhook -> parent message, {len(to_parent)} mapped alerts one at a time: "
              f"p50 {percentile(to_parent, 50):.0f} ms, p99 {percentile(to_parent, 99):.0f} ms")  # fmt: skip
        print(f"webhook -> INC-PROF-001 diagnosis in the thread (real runner, podman rig): "
              f"p50 {percentile(to_diagnosis, 50):.0f} ms, p99 {percentile(to_diagnosis, 99):.0f} ms")  # fmt: skip

        slack.clear()
        storm = [webhook(f"Storm{g:03d}", [f"host-{i}" for i in range(50)]) for g in range(100)]
        seconds = asyncio.run(post_all(bot.url, storm))
        started = time.monotonic()
        done = wait(lambda: len(posted(slack, lambda c: "Storm" in text_of(c) and "thread_ts" not in c.body)) >= 100,
                    300)  # fmt: skip
        threads_after = time.monotonic() - started
        time.sleep(3)
        calls = [c for c in slack.calls if c.method.startswith("chat.")]
        throttled = [c for c in calls if c.status == 429]
        print(f"storm: 5000 alerts in 100 groups accepted in {seconds:.2f} s; all 100 threads "
              f"{'posted' if done else 'NOT all posted'} {threads_after:.1f} s later; Slack calls {len(calls)} "
              f"(minimum possible 100: {len(calls) / 100:.2f}x), 429s {len(throttled)}")  # fmt: skip
    finally:
        runner.stop()
        bot.stop()
        rig.close()
        slack.close()
        delete_prefix(redis_url, prefix)
        if private is not None:
            private.close()


if __name__ == "__main__":
    main()
