"""One alert group as large as the intake takes: 30,000 alerts with Kubernetes-sized labels in a
body just under 16 MiB, to one `profbot serve`. Measured: the time from the request to its 200
(stored in Redis), the time until its thread is in Slack, and serve's RSS (VmRSS) once the thread
is posted and the group is at rest, against serve's RSS before it.

Why these: Alertmanager resends only on 5xx, so the intake must take whatever a real group is
within its body limit, fast enough that the sender's timeout never fires; and a group that large
must not leave serve holding its alerts."""

from __future__ import annotations

import gc
import json
import time

import httpx

from bench.machine import describe
from bench.memory import rss_mb
from bench.rig import bus_redis, posted, wait
from bench.table import Row, at_most
from tests.rig.processes import BotProcess
from tests.rig.slack_standin import SlackStandIn

TOKEN = "bench-alert-token-0123456789"
CHANNEL = "C0ALERTS"
ALERTS = 30_000
ACCEPT_TARGET_S = 2.0
RSS_TARGET_MB = 100.0


def crowded_group() -> bytes:
    """30,000 alerts as a Kubernetes scrape labels them, grouped by alertname."""
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": "PodProfilesMissing", "severity": "warning", "job": "kubernetes-pods",
                       "namespace": "checkout", "pod": f"checkout-7d9f8b6c5-{n:05d}", "container": "app",
                       "instance": f"10.{n // 65536}.{n // 256 % 256}.{n % 256}:8080", "team": "payments"},
            "annotations": {"summary": "no profiles from this pod for 10 minutes"},
            "startsAt": "2026-11-25T17:15:01.904Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=absent_over_time%28pyroscope%5B10m%5D%29",
            "fingerprint": f"{n:016x}",
        }
        for n in range(ALERTS)
    ]  # fmt: skip
    return json.dumps({"version": "4", "status": "firing", "receiver": "profbot", "alerts": alerts,
                       "groupKey": '{}:{alertname="PodProfilesMissing"}',
                       "groupLabels": {"alertname": "PodProfilesMissing"},
                       "commonLabels": {"alertname": "PodProfilesMissing", "severity": "warning"},
                       "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0}).encode()  # fmt: skip


def main() -> list[Row]:
    with bus_redis() as (redis_url, prefix):
        return measure(redis_url, prefix)


def measure(redis_url: str, prefix: str) -> list[Row]:
    slack = SlackStandIn(channels={CHANNEL}).start()
    settings = {"PROFBOT_ALERT_TOKEN": TOKEN, "PROFBOT_ALERT_CHANNEL": CHANNEL, "PROFBOT_SLACK_CHANNEL_RATE": "10"}
    bot = BotProcess(redis_url=redis_url, prefix=prefix, slack_api_url=slack.api_url, **settings).start()
    try:
        assert bot.proc is not None
        body = crowded_group()
        gc.collect()
        print("## One alert group of 30,000 alerts")
        print(f"machine: {describe()}; body {len(body) / 1024 / 1024:.1f} MiB")
        before = rss_mb(bot.proc.pid)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
        started = time.monotonic()
        response = httpx.post(f"{bot.url}/alerts/alertmanager", content=body, headers=headers, timeout=60)
        accepted = time.monotonic() - started
        ok = response.status_code == 200 and response.json().get("alerts") == ALERTS
        threaded = wait(lambda: bool(posted(slack, lambda c: not c.body.get("thread_ts"))), 120)
        to_thread = time.monotonic() - started
        time.sleep(5)  # the thread's replies and the group at rest
        after = rss_mb(bot.proc.pid)
        late = "" if threaded else " (NOT posted in 120 s)"
        print(f"accepted: {response.status_code} in {accepted:.2f} s; thread in Slack after {to_thread:.1f} s{late}; "
              f"serve RSS {before:.0f} MB before, {after:.0f} MB after")  # fmt: skip
        accept_row = at_most(f"{ALERTS:,}-alert group ({len(body) / 1024 / 1024:.1f} MiB): time to its 200", accepted,
                             ACCEPT_TARGET_S, "s")  # fmt: skip
        if not ok:
            accept_row = Row(accept_row.figure, accept_row.target, f"HTTP {response.status_code}", False)
        rss_row = at_most("serve RSS after that group's thread is posted", after, RSS_TARGET_MB, "MB")
        if not threaded:
            rss_row = Row(rss_row.figure, rss_row.target, f"{after:.0f} MB, thread not posted", False)
        return [accept_row, rss_row]
    finally:
        bot.stop()
        slack.close()


if __name__ == "__main__":
    from bench.table import render

    print(render(main()))
