"""profbot's own processes given the sentinels (REDIS_SENTINELS and REDIS_SENTINEL_MASTER, or a
redis+sentinel:// REDIS_URL) while the primary is killed: a runner answers again, a change
confirmed in the shell runs at most once and its outcome is shown, and no alert answered 2xx is lost."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from profbot.bus import JobBus
from profbot.errors import ProfbotError
from profbot.keys import Keys
from profbot.ops.pyroscope import PyroscopeReady
from tests.e2e.conftest import message_text
from tests.faults.sentinel.conftest import HOST, until
from tests.rig.podman_rig import PodmanRig
from tests.rig.processes import BotProcess, ProfbotProcess, base_env, run_profbot
from tests.rig.sentinel_rig import MASTER, SentinelRig
from tests.rig.slack_standin import SlackStandIn


class ReadyServer:
    """Pyroscope's /ready and nothing else, counting the times it was asked."""

    def __init__(self) -> None:
        counter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                counter.hits += 1
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ready")

            def log_message(self, *args: object) -> None:
                pass

        self.hits = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ready_server() -> Iterator[ReadyServer]:
    server = ReadyServer()
    yield server
    server.close()


def on_sentinels(sentinel: SentinelRig, prefix: str, **settings: str) -> dict[str, str]:
    return base_env(REDIS_SENTINELS=sentinel.addresses, REDIS_SENTINEL_MASTER=MASTER, PROFBOT_REDIS_PREFIX=prefix,
                    **settings)  # fmt: skip


def start_runner(sentinel: SentinelRig, prefix: str, **settings: str) -> ProfbotProcess:
    runner = ProfbotProcess(
        "runner", on_sentinels(sentinel, prefix, PROFBOT_HOST_ID=HOST, PROFBOT_HEARTBEAT_SECONDS="1", **settings)
    ).start()
    deadline = time.monotonic() + 20
    while not sentinel.client().exists(Keys(prefix).alive(HOST)):
        assert runner.proc is not None and runner.proc.poll() is None, runner.log()
        assert time.monotonic() < deadline, f"profbot runner never heartbeated:\n{runner.log()}"
        time.sleep(0.05)
    return runner


async def test_a_profbot_runner_given_the_sentinels_answers_again_after_the_primary_dies(
    sentinel: SentinelRig, bus: JobBus, prefix: str, ready_server: ReadyServer
) -> None:
    runner = start_runner(sentinel, prefix, CONTAINER_HOST="unix:///nonexistent/podman.sock",
                          PYROSCOPE_URL=ready_server.url)  # fmt: skip
    try:
        asked = 1
        assert (await bus.call(HOST, PyroscopeReady(), timeout=10)).ready
        old = await asyncio.to_thread(sentinel.kill_primary)
        await asyncio.to_thread(sentinel.wait_for_failover, old)
        deadline = time.monotonic() + 30
        while True:  # the runner finds the new primary and reads its jobs there
            asked += 1
            try:
                assert (await bus.call(HOST, PyroscopeReady(), timeout=5)).ready
                break
            except ProfbotError:
                assert time.monotonic() < deadline, "no answer within 30s of the failover"
        assert ready_server.hits <= asked
        # The bot's result listener subscribed again, on the new primary.
        primary = sentinel.client()
        channel = Keys(prefix).results_channel
        await until("the result listener on the new primary", lambda: primary.pubsub_numsub(channel)[0][1] >= 1, 20)
    finally:
        runner.stop()
        print(f"---- profbot runner log ----\n{runner.log()[-20000:]}")


@pytest.fixture
def stack(podman_rig: PodmanRig) -> Iterator[PodmanRig]:
    podman_rig.ensure_pyroscope_healthy()
    yield podman_rig
    podman_rig.reset_stack()


def restarts(stack: PodmanRig, container: str, since: str) -> int:
    events = stack.podman("events", "--stream=false", "--since", since, "--filter", f"container={container}",
                          "--filter", "event=restart", "--format", "{{.Status}}").stdout  # fmt: skip
    return len(events.split())


async def test_a_change_confirmed_in_the_shell_runs_at_most_once_across_a_failover_and_its_outcome_is_shown(
    sentinel: SentinelRig, prefix: str, stack: PodmanRig, tmp_path: Path
) -> None:
    runner = start_runner(sentinel, prefix, **stack.runner_env())
    try:
        stack.podman("stop", "-t", "5", "pyroscope")
        since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        env = on_sentinels(sentinel, prefix, PROFBOT_STATE_DIR=str(tmp_path / "state"), PROFBOT_OPERATORS="shell:alice",
                           PROFBOT_JOB_TIMEOUT="30", PROFBOT_VERIFY_SECONDS="30")  # fmt: skip
        shell = asyncio.create_task(
            asyncio.to_thread(run_profbot, "shell", "--user", "alice", env=env, stdin="diagnose unavailable\n1\ny\n")
        )
        jobs = Keys(prefix).jobs(HOST)
        primary = sentinel.client()

        def restart_sent() -> bool:
            entries: Any = primary.xrange(jobs)
            return any('"op":"container.restart"' in fields.get("job", "") for _, fields in entries)

        await until("the restart sent to the runner", restart_sent, 60)
        old = await asyncio.to_thread(sentinel.kill_primary)  # right after the dispatch
        await asyncio.to_thread(sentinel.wait_for_failover, old)
        await asyncio.to_thread(sentinel.restart, old)
        done = await asyncio.wait_for(shell, 180)
        out = done.stdout
        print(out, done.stderr[-5000:])
        outcome = re.search(r"request [0-9a-f]{12} \(Restart pyroscope\): (succeeded|failed|outcome unknown)", out)
        assert outcome is not None, out
        ran = restarts(stack, "pyroscope", since)
        assert ran <= 1  # at most once
        # Told the truth: a restart that ran is reported done (the bot waited the failover out);
        # one that did not is "failed" (refused unconfirmed: nothing ran) or "outcome unknown" (lost).
        assert (outcome[1] == "succeeded") == (ran == 1), (outcome[1], ran)
    finally:
        runner.stop()
        print(f"---- profbot runner log ----\n{runner.log()[-20000:]}")


ALERT_CHANNEL = "C0ALERTS"
ALERT_TOKEN = "alert-token-0123456789abcdef"


def notification(name: str) -> dict[str, object]:
    """Alertmanager's webhook for one firing alert of its own group."""
    return {
        "receiver": "profbot", "status": "firing", "groupLabels": {"alertname": name},
        "commonLabels": {"alertname": name}, "commonAnnotations": {}, "externalURL": "http://127.0.0.1:19093",
        "version": "4", "groupKey": f'{{}}:{{alertname="{name}"}}', "truncatedAlerts": 0,
        "alerts": [{"status": "firing", "labels": {"alertname": name, "instance": "a:1"},
                    "annotations": {"summary": f"{name} fired"}, "startsAt": "2026-11-25T17:15:01.904Z",
                    "endsAt": "0001-01-01T00:00:00Z", "fingerprint": name.lower()}],
    }  # fmt: skip


@pytest.fixture
def alert_bot(sentinel: SentinelRig, prefix: str, slack: SlackStandIn) -> Iterator[BotProcess]:
    """`profbot serve` taking alerts, given the sentinels as a redis+sentinel:// REDIS_URL this time."""
    slack.channels.add(ALERT_CHANNEL)
    bot = BotProcess(redis_url=sentinel.url, prefix=prefix, slack_api_url=slack.api_url,
                     PROFBOT_ALERT_TOKEN=ALERT_TOKEN, PROFBOT_ALERT_CHANNEL=ALERT_CHANNEL,
                     PROFBOT_SLACK_CHANNEL_RATE="50").start()  # fmt: skip
    yield bot
    bot.stop()
    print(f"---- profbot serve log ----\n{bot.log()[-20000:]}")


def post_alert(bot: BotProcess, name: str) -> httpx.Response:
    return httpx.post(f"{bot.url}/alerts/alertmanager", json=notification(name), timeout=30,
                      headers={"Authorization": f"Bearer {ALERT_TOKEN}"})  # fmt: skip


def test_an_alert_no_replica_confirms_is_refused_for_the_sender_to_retry(
    sentinel: SentinelRig, alert_bot: BotProcess
) -> None:
    [replica] = [node for node in sentinel.nodes if node is not sentinel.primary()]
    assert replica.proc is not None
    os.kill(replica.proc.pid, signal.SIGSTOP)
    try:
        refused = post_alert(alert_bot, "Unconfirmed")
    finally:
        os.kill(replica.proc.pid, signal.SIGCONT)
    assert refused.status_code == 503
    assert "no Redis replica confirmed the alert" in refused.json()["error"]
    sentinel.wait_for_replicas()
    assert post_alert(alert_bot, "Unconfirmed").status_code == 200  # Alertmanager's retry


def test_no_alert_answered_2xx_is_lost_across_a_failover(
    sentinel: SentinelRig, prefix: str, slack: SlackStandIn, alert_bot: BotProcess
) -> None:
    bot = alert_bot
    answers: dict[str, int] = {}
    stop = threading.Event()

    def send() -> None:
        while not stop.is_set():
            name = f"Failover{len(answers):03d}"
            try:
                answers[name] = post_alert(bot, name).status_code
            except httpx.HTTPError:
                answers[name] = 0
            time.sleep(0.1)  # the webhooks' pace (ten a second), not a wait for anything

    def accepted(first: int = 0) -> list[str]:
        return [name for name, status in list(answers.items())[first:] if 200 <= status < 300]

    def wait(what: str, condition: Callable[[], bool], timeout: float) -> None:
        asyncio.run(until(what, condition, timeout))

    sender = threading.Thread(target=send)
    sender.start()
    try:
        wait("5 alerts accepted", lambda: len(accepted()) >= 5, 20)
        old = sentinel.kill_primary()
        sentinel.wait_for_failover(old)
        sentinel.restart(old)  # a replica again: alerts are confirmed (WAIT) and accepted again
        sentinel.wait_for_replicas()
        back = len(answers)
        wait("5 alerts accepted after the failover", lambda: len(accepted(back)) >= 5, 30)
    finally:
        stop.set()
        sender.join(timeout=60)
    taken = accepted()
    assert set(answers.values()) <= {200, 503, 0}, answers  # refused while failing over: the sender retries
    entries: Any = sentinel.client().xrange(f"{prefix}:alerts:ledger")
    ledger = {fields["alertname"] for _, fields in entries}
    assert set(taken) <= ledger, sorted(set(taken) - ledger)

    def in_slack() -> set[str]:
        texts = " ".join(message_text(c.body) for c in slack.calls_to("chat.postMessage"))
        return {name for name in taken if name in texts}

    wait("every accepted alert in its thread", lambda: in_slack() == set(taken), 60)
