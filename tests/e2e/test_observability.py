"""What an operator watches profbot by: `GET /metrics` of a real `profbot serve` and runner after a
scenario (parsed with prometheus_client's own parser), `GET /readyz` following Redis and Slack's
Socket Mode connection, and `PROFBOT_LOG_FORMAT=json` making every line of the process a JSON object,
the libraries' lines included."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from bot.usecases.alert_model import group_id
from tests.conftest import RunnerFactory
from tests.e2e.conftest import ack_text, message_text
from tests.e2e.test_alerts import ALERT_CHANNEL, ALERT_TOKEN, alert, group, send, wait_for_posts
from tests.e2e.test_changes import button, latest_update, request_posted, wait_until
from tests.rig.ports import free_port
from tests.rig.processes import BotProcess
from tests.rig.redis_rig import PrivateRedis
from tests.rig.slack_requests import STRANGER, button_payload, post_command, post_interaction
from tests.rig.slack_standin import SlackStandIn
from tests.rig.socket_mode_standin import SocketModeStandIn

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("text/plain; version=")  # the exposition format
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every sample of ``name`` that has ``labels`` (and any others)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def poll(url: str, path: str, status: int, timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(f"{url}{path}", timeout=10)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def gauge_until(url: str, name: str, predicate: Callable[[float], bool], timeout: float = 30) -> float:
    deadline = time.monotonic() + timeout
    while True:
        seen = value(scrape(url), name)
        if predicate(seen) or time.monotonic() > deadline:
            return seen
        time.sleep(0.2)


def test_metrics_count_what_slack_the_runners_and_the_alert_senders_did(
    bot_with: Callable[..., BotProcess], start_runner: RunnerFactory, slack: SlackStandIn, redis_url: str, prefix: str
) -> None:
    slack.channels.add(ALERT_CHANNEL)
    bot = bot_with(
        PROFBOT_ALERT_TOKEN=ALERT_TOKEN, PROFBOT_ALERT_CHANNEL=ALERT_CHANNEL, PROFBOT_SLACK_CHANNEL_RATE="50"
    )
    runner_port = free_port()
    start_runner(PROFBOT_RUNNER_METRICS_LISTEN=f"127.0.0.1:{runner_port}")

    # /prof health, its answer refused once with a 429 that slack_sdk waits out.
    slack.rate_limit_next("chat.postMessage")
    assert "Checking Pyroscope health" in ack_text(post_command(bot.url, "health", response_url=slack.response_url()))
    wait_until(
        slack, "chat.postMessage", lambda c: c.answer.get("ok") is True and "Pyroscope health" in message_text(c.body)
    )
    # Someone who may not, and a typo.
    refused = post_command(bot.url, "runners", user=STRANGER, response_url=slack.response_url("stranger"))
    assert "you are not an operator of profbot" in ack_text(refused)
    assert "Unknown command" in ack_text(post_command(bot.url, "restart-everything now", response_url="http://x/"))
    # A change request, then cancelled by its button.
    post_command(bot.url, "restart backend", response_url=slack.response_url("restart"))
    request = request_posted(slack)
    waiting = scrape(bot.url)
    assert value(waiting, "profbot_change_requests", state="awaiting_confirmation") == 1
    cancel = button(request.body, "change:cancel")
    payload = button_payload(cancel, user="U0OPERATOR", response_url=slack.response_url("c"),
                             message_ts=request.answer["ts"])  # fmt: skip
    assert post_interaction(bot.url, payload).status_code == 200
    latest_update(slack, "cancelled")

    # An alert whose group another replica holds: it waits in the inbox, and the lag shows it.
    payload_alert = group("ProfbotMetrics", [alert("ProfbotMetrics", "a:1")])
    lock = f"{prefix}:alerts:group:{group_id('alertmanager', payload_alert['groupKey'])}:lock"
    held = redis.Redis.from_url(redis_url)
    held.set(lock, "another-replica", px=120_000)
    assert send(bot, payload_alert).status_code == 200
    assert send(bot, payload_alert, token="forged-token-0123456789").status_code == 401
    assert gauge_until(bot.url, "profbot_alert_inbox_lag_seconds", lambda lag: lag > 0) > 0
    held.delete(lock)
    wait_for_posts(slack, 1)
    assert gauge_until(bot.url, "profbot_alert_inbox_lag_seconds", lambda lag: lag == 0) == 0

    seen = scrape(bot.url)
    assert value(seen, "profbot_slash_commands_total", command="health", outcome="ok") == 1
    assert value(seen, "profbot_slash_commands_total", command="runners", outcome="not_allowed") == 1
    assert value(seen, "profbot_slash_commands_total", command="unknown", outcome="bad_input") == 1
    assert value(seen, "profbot_slash_commands_total", command="restart", outcome="ok") == 1
    assert value(seen, "profbot_interactions_total", kind="block_actions", outcome="ok") == 1
    assert value(seen, "profbot_ack_seconds_count", kind="command") == 4
    assert value(seen, "profbot_ack_seconds_count", kind="block_actions") == 1
    assert value(seen, "profbot_ack_seconds_bucket", kind="command", le="+Inf") == 4

    assert total(seen, "profbot_jobs_total", outcome="ok") >= 1  # health's jobs, restart's lookups
    assert total(seen, "profbot_job_seconds_count") == total(seen, "profbot_jobs_total")
    assert 0 <= value(seen, "profbot_runner_heartbeat_age_seconds", host="podhost-1") < 30

    assert value(seen, "profbot_alert_webhooks_total", source="alertmanager", outcome="accepted") == 1
    assert value(seen, "profbot_alert_webhooks_total", source="alertmanager", outcome="unauthorized") == 1

    assert value(seen, "profbot_slack_api_calls_total", method="chat.postMessage", error="ratelimited") == 1
    assert value(seen, "profbot_slack_api_calls_total", method="chat.postMessage", error="") >= 2
    assert value(seen, "profbot_slack_api_calls_total", method="auth.test", error="") >= 1
    assert value(seen, "profbot_change_requests", state="cancelled") == 1
    assert value(seen, "profbot_change_requests", state="awaiting_confirmation") == 0

    # The runner counts what it ran, on its own port.
    ran = scrape(f"http://127.0.0.1:{runner_port}")
    assert total(ran, "profbot_runner_jobs_total", outcome="ok") >= 1
    assert total(ran, "profbot_runner_job_seconds_count") == total(ran, "profbot_runner_jobs_total")
    assert total(ran, "profbot_slash_commands_total") == 0  # the runner's own, not the bot's


def test_readyz_follows_redis_and_says_why_without_its_error_text(
    bot_with: Callable[..., BotProcess], slack: SlackStandIn
) -> None:
    private = PrivateRedis().start()
    try:
        bot = bot_with(redis_url=private.url)
        ready = httpx.get(f"{bot.url}/readyz", timeout=10)
        assert (ready.status_code, ready.json()) == (200, {"ready": True})

        private.stop()
        down = poll(bot.url, "/readyz", 503)
        assert down.status_code == 503
        assert down.json() == {"ready": False, "reason": "redis unreachable"}  # nothing of Redis' own error
        alive = httpx.get(f"{bot.url}/healthz", timeout=10)
        assert (alive.status_code, alive.json()) == (200, {"status": "ok"})  # liveness: still serving
        assert "profbot_slash_commands_total" in httpx.get(f"{bot.url}/metrics", timeout=10).text

        private.start()
        back = poll(bot.url, "/readyz", 200)
        assert (back.status_code, back.json()) == (200, {"ready": True})
    finally:
        private.close()


@pytest.fixture
def socket(slack: SlackStandIn) -> Iterator[SocketModeStandIn]:
    standin = SocketModeStandIn(slack).start()
    yield standin
    standin.close()


def unknown_button(slack: SlackStandIn) -> dict[str, Any]:
    b = {"action_id": "nobody:listens", "value": "x"}
    return button_payload(b, user="U0OPERATOR", response_url=slack.response_url("x"), message_ts="1.2")


def test_json_logs_hold_every_line_and_readyz_follows_the_socket_mode_connection(
    redis_url: str, prefix: str, slack: SlackStandIn, socket: SocketModeStandIn
) -> None:
    bot = BotProcess(
        redis_url=redis_url, prefix=prefix, slack_api_url=slack.api_url, SOCKET_MODE="1", PROFBOT_LOG_FORMAT="json"
    ).start()
    try:
        socket.wait_connected()
        assert poll(bot.url, "/readyz", 200).json() == {"ready": True}
        socket.ack(socket.send("interactive", unknown_button(slack)))  # bolt warns, over several lines

        # Slack drops the connection and will not hand out another for a while (slack_sdk logs
        # its failures with their tracebacks): not ready, until it can connect again.
        url, slack.socket_url = slack.socket_url, None
        socket.drop()
        down = poll(bot.url, "/readyz", 503)
        assert (down.status_code, down.json()) == (503, {"ready": False, "reason": "slack socket mode disconnected"})
        assert httpx.get(f"{bot.url}/healthz", timeout=10).status_code == 200
        slack.socket_url = url
        assert poll(bot.url, "/readyz", 200).status_code == 200
    finally:
        bot.stop()
        print(f"---- profbot serve log ----\n{bot.log()}")

    lines = [line for line in bot.log().splitlines() if line.strip()]
    events = []
    for line in lines:
        event = json.loads(line)  # every line, whoever wrote it
        assert {"timestamp", "level", "logger", "event"} <= set(event), line
        events.append(event)
    bolt = [e for e in events if e["logger"].startswith("slack_bolt")]  # bolt's and its Socket Mode client's
    assert any("Unhandled request" in e["event"] and "\n" in e["event"] for e in bolt)  # many lines, one object
    assert any("not_allowed_token_type" in e["event"] and e["level"] == "error" for e in bolt)
    assert {"serving", "shutting_down"} <= {e["event"] for e in events}
