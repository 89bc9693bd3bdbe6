"""Alert to diagnosis: from an Alertmanager webhook to the INC-PROF-001 diagnosis in the alert's
thread, against the time the runbook's four diagnosis commands take typed into the podman CLI one
after another, both measured in this one run on the same machine and rig.

- Webhook -> diagnosis: a real `profbot serve` (alert intake, ledger and poster), a real `profbot
  runner` on the isolated podman rig with the compose stack, the Slack stand-in. One new alert group
  (alertname PyroscopeDown, mapped to INC-PROF-001) at a time, from the POST to the diagnosis
  message reaching the thread; 30 samples.
- CLI: `podman ps`, `podman inspect pyroscope --format {{.State.Health.Status}}`, `podman logs
  pyroscope --tail 100`, `podman exec backend ...GET http://pyroscope:4040/ready` run one after
  another against the same rig (as bench/runner_ops.py does); 20 samples, interleaved with the
  webhook samples so both see the same load.

Targets: webhook -> diagnosis p50 at most 0.6x and p99 at most 1.0x the CLI's median.
"""

from __future__ import annotations

import http.client
import statistics
import subprocess
import time
from typing import Any

from bench.machine import describe, percentile
from bench.rig import alertmanager_webhook, bus_redis, inbox_drained, posted, text_of, wait
from bench.table import Row
from tests.rig.podman_rig import PodmanRig
from tests.rig.ports import free_port
from tests.rig.processes import BotProcess, RunnerProcess
from tests.rig.slack_standin import SlackStandIn

TOKEN = "bench-diagnosis-token-0123456789"
CHANNEL = "C0ALERTS"
WEBHOOK_SAMPLES = 30
CLI_SAMPLES = 20
RATE = "10"  # PROFBOT_SLACK_CHANNEL_RATE, as bench/alert_intake.py runs it
P50_TARGET = 0.6
P99_TARGET = 1.0
DIAGNOSIS_MARK = "INC-PROF-001: Pyroscope server"

# The runbook's `curl -s` cannot resolve names in the rig's stand-in (host curl, busybox image);
# the same GET through the container's python3 is the fair equivalent (bench/runner_ops.py).
HTTP_GET = "import urllib.request; print(urllib.request.urlopen('http://pyroscope:4040/ready', timeout=5).read())"


def cli_four_commands(rig: PodmanRig) -> float:
    """INC-PROF-001's diagnosis typed into the podman CLI, command after command: ms."""

    def cli(*args: str) -> None:
        subprocess.run(["podman", *args], env=rig.env, capture_output=True, check=False)

    started = time.perf_counter()
    cli("ps")
    cli("inspect", "pyroscope", "--format", "{{.State.Health.Status}}")
    cli("logs", "pyroscope", "--tail", "100")
    cli("exec", "backend", "python3", "-c", HTTP_GET)
    return (time.perf_counter() - started) * 1000


def webhook_to_diagnosis(bot: BotProcess, slack: SlackStandIn, i: int) -> float | None:
    """One new PyroscopeDown group: ms from the POST to its diagnosis in the thread (None: none came)."""
    body = alertmanager_webhook(f"diagnosis-{i:02d}", [f"diag-{i}"], alertname="PyroscopeDown")
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    connection = http.client.HTTPConnection("127.0.0.1", bot.port, timeout=30)  # no client set-up timed
    started = time.time()
    connection.request("POST", "/alerts/alertmanager", body=body, headers=headers)
    status = connection.getresponse().status
    connection.close()
    if status != 200:
        raise RuntimeError(f"intake answered {status}")

    def parent() -> list[Any]:
        return posted(slack, lambda c: c.at >= started and "thread_ts" not in c.body and f"diag-{i}" in text_of(c))

    def diagnosis() -> list[Any]:
        return posted(slack, lambda c: c.at >= started and "thread_ts" in c.body and DIAGNOSIS_MARK in text_of(c))

    if not wait(lambda: bool(diagnosis()), 60, poll=0.002):
        return None
    thread = parent()
    found = diagnosis()[0]
    if not thread or found.body["thread_ts"] != thread[0].answer["ts"]:
        raise RuntimeError(f"sample {i}: the diagnosis was not posted in its alert's thread")
    return (found.at - started) * 1000


def rows(to_diagnosis: list[float], cli: list[float]) -> list[Row]:
    four = statistics.median(cli)
    p50, p99 = percentile(to_diagnosis, 50), percentile(to_diagnosis, 99)
    return [
        Row(
            "webhook -> diagnosis p50 / CLI's four commands (Pyroscope healthy)",
            f"<= {P50_TARGET:g}x",
            f"{p50 / four:.2f}x ({p50:.0f} / {four:.0f} ms)",
            p50 / four <= P50_TARGET,
        ),
        Row(
            "webhook -> diagnosis p99 / CLI's four commands (Pyroscope healthy)",
            f"<= {P99_TARGET:g}x",
            f"{p99 / four:.2f}x ({p99:.0f} / {four:.0f} ms)",
            p99 / four <= P99_TARGET,
        ),
    ]


def main() -> list[Row]:
    with bus_redis() as (redis_url, prefix):
        return measure(redis_url, prefix)


def measure(redis_url: str, prefix: str) -> list[Row]:
    slack = SlackStandIn(channels={CHANNEL}).start()
    rig = PodmanRig()
    rig.start()
    rig.start_stack(free_port())
    settings = {"PROFBOT_ALERT_TOKEN": TOKEN, "PROFBOT_ALERT_CHANNEL": CHANNEL, "PROFBOT_SLACK_CHANNEL_RATE": RATE}
    bot = BotProcess(redis_url=redis_url, prefix=prefix, slack_api_url=slack.api_url, **settings).start()
    runner = RunnerProcess(redis_url=redis_url, prefix=prefix, host_id="bench-host", settings=rig.runner_env()).start()
    try:
        print("## Alert to diagnosis: webhook -> INC-PROF-001 diagnosis in the thread vs the podman CLI")
        print(f"machine: {describe()}; one `profbot serve`, one `profbot runner`, PROFBOT_SLACK_CHANNEL_RATE={RATE}")
        cli_four_commands(rig)  # warm-up, both paths
        if webhook_to_diagnosis(bot, slack, -1) is None:
            raise RuntimeError("the warm-up alert got no diagnosis")
        to_diagnosis: list[float] = []
        cli: list[float] = []
        for i in range(WEBHOOK_SAMPLES):
            wait(lambda: inbox_drained(redis_url, prefix), 30, poll=0.002)
            time.sleep(0.3)  # the previous thread's evidence and pictures posted: an idle bot
            sample = webhook_to_diagnosis(bot, slack, i)
            if sample is not None:
                to_diagnosis.append(sample)
            if i % 3 != 2:  # 20 of the 30 rounds, spread over the run
                time.sleep(0.3)
                cli.append(cli_four_commands(rig))
        if len(to_diagnosis) < WEBHOOK_SAMPLES:
            print(f"  {WEBHOOK_SAMPLES - len(to_diagnosis)} alerts got NO diagnosis within 60 s")
        print(f"podman CLI, the runbook's 4 commands one after another, {len(cli)} runs: "
              f"median {statistics.median(cli):.0f} ms, p90 {percentile(cli, 90):.0f} ms")  # fmt: skip
        print(f"webhook -> INC-PROF-001 diagnosis in the thread, {len(to_diagnosis)} alerts one at a time: "
              f"p50 {percentile(to_diagnosis, 50):.0f} ms, p90 {percentile(to_diagnosis, 90):.0f} ms, "
              f"p99 {percentile(to_diagnosis, 99):.0f} ms")  # fmt: skip
        result = rows(to_diagnosis, cli)
        for row in result:
            print(f"{row.figure}: {row.measured} (target {row.target}): {row.verdict}")
        return result
    finally:
        runner.stop()
        bot.stop()
        rig.close()
        slack.close()


if __name__ == "__main__":
    main()
