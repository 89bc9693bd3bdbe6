"""`/prof health` end to end: signed Slack request -> profbot serve -> Redis -> profbot runner
-> podman and Pyroscope -> a message in the channel on the Slack stand-in."""

from __future__ import annotations

import time

import pytest
import redis

from tests.conftest import RunnerFactory
from tests.e2e.conftest import HOST, ack_text, message_text
from tests.e2e.test_diagnose import backend_sends_a_profile
from tests.rig.podman_rig import PodmanRig
from tests.rig.processes import BotProcess, RunnerProcess
from tests.rig.slack_requests import post_command
from tests.rig.slack_standin import DEFAULT_CHANNEL, SlackStandIn


def ask_health(bot: BotProcess, slack: SlackStandIn, text: str = "health") -> str:
    response = post_command(bot.url, text, response_url=slack.response_url())
    assert response.status_code == 200, response.text
    assert "Checking Pyroscope health" in ack_text(response)
    [post] = slack.wait_for("chat.postMessage")
    assert post.body["channel"] == DEFAULT_CHANNEL
    assert post.answer["ok"] is True, post.answer
    return message_text(post.body)


@pytest.fixture
def fresh_stack(pyroscope: PodmanRig) -> PodmanRig:
    """The stack as the operator's files make it, with no profiles stored: which services sent
    profiles must not depend on the tests that ran before on this worker's rig."""
    pyroscope.reset_stack()
    return pyroscope


def test_healthy_pyroscope_reports_every_check_ok(
    bot: BotProcess, runner: RunnerProcess, fresh_stack: PodmanRig, slack: SlackStandIn
) -> None:
    backend_sends_a_profile(fresh_stack)
    text = ask_health(bot, slack)
    assert "all checks pass" in text
    assert f"host {HOST}" in text
    assert ":white_check_mark: *Pyroscope /ready*: HTTP 200 with `ready`" in text
    assert ":white_check_mark: *container pyroscope*: running since" in text
    assert "healthy" in text
    # The profiles summary below flags ai-yolo26 (its stand-in never pushes); Pyroscope's own checks pass.
    pyroscope_part, profiles = text.split(" *Profiles*: ")
    assert ":red_circle:" not in pyroscope_part.rsplit("\n", 1)[0]
    assert "*ai-yolo26*: expected (container ai-yolo26 on podhost-1 (running))" in profiles


def test_stopped_container_is_reported_and_the_command_still_succeeds(
    bot: BotProcess, runner: RunnerProcess, pyroscope: PodmanRig, slack: SlackStandIn
) -> None:
    pyroscope.podman("stop", "-t", "5", "pyroscope")
    text = ask_health(bot, slack)
    assert "Pyroscope health: 2 failing checks" in text
    assert ":red_circle: *container pyroscope*: exited with code 0 (stopped cleanly) at" in text
    assert ":red_circle: *Pyroscope /ready*: no answer from" in text


def test_killed_container_reads_as_likely_out_of_memory(
    bot: BotProcess, runner: RunnerProcess, pyroscope: PodmanRig, slack: SlackStandIn
) -> None:
    pyroscope.podman("kill", "--signal", "KILL", "pyroscope")
    pyroscope.podman("wait", "pyroscope", check=False)
    text = ask_health(bot, slack)
    assert "exited with code 137 (killed: likely out of memory)" in text


def test_unready_pyroscope_shows_its_reason_and_failing_healthcheck(
    bot: BotProcess, runner: RunnerProcess, pyroscope: PodmanRig, slack: SlackStandIn
) -> None:
    pyroscope.podman("exec", "pyroscope", "sh", "-c", "echo 'ingester not ready' > /tmp/unhealthy")
    text = ask_health(bot, slack)
    assert ":red_circle: *Pyroscope /ready*: HTTP 503 with `ingester not ready`" in text
    assert ":red_circle: *container pyroscope*: running since" in text
    assert "but unhealthy" in text


def test_runner_without_podman_socket_says_it_cannot_reach_podman(
    bot: BotProcess, start_runner: RunnerFactory, slack: SlackStandIn
) -> None:
    start_runner(CONTAINER_HOST="unix:///run/profbot-test-no-such/podman.sock")
    text = ask_health(bot, slack)
    assert "the runner cannot reach podman" in text
    assert "socket /run/profbot-test-no-such/podman.sock does not exist" in text
    # Pyroscope itself is still checked and fine: one failing check, not two.
    assert "Pyroscope health: 1 failing check" in text


def test_no_runner_registered_is_said_plainly(bot: BotProcess, slack: SlackStandIn) -> None:
    text = ask_health(bot, slack)
    assert "No runner registered" in text


def test_stopped_runner_is_named_with_its_last_heartbeat(
    bot: BotProcess, start_runner: RunnerFactory, slack: SlackStandIn
) -> None:
    runner = start_runner()
    assert runner.stop() == 0
    started = time.monotonic()
    text = ask_health(bot, slack)
    assert time.monotonic() - started < 5, "a dead runner must be reported at once, not after a timeout"
    assert f"no runner for host {HOST} seen since" in text


def test_health_on_two_hosts_reports_each(bot: BotProcess, start_runner: RunnerFactory, slack: SlackStandIn) -> None:
    start_runner("podhost-a")
    start_runner("podhost-b", PYROSCOPE_URL="http://127.0.0.1:9")  # nothing listens on port 9
    text = ask_health(bot, slack)
    assert "host podhost-a" in text and "host podhost-b" in text
    host_b = text.split("host podhost-b", 1)[1]
    assert "no answer from http://127.0.0.1:9/ready" in host_b
    assert "Pyroscope health: 1 failing check" in text


def test_health_for_one_named_host(bot: BotProcess, start_runner: RunnerFactory, slack: SlackStandIn) -> None:
    start_runner("podhost-a")
    start_runner("podhost-b")
    text = ask_health(bot, slack, "health podhost-b")
    assert "host podhost-b" in text
    assert "podhost-a" not in text


def test_job_queued_while_runner_down_is_answered_when_it_returns(
    bot: BotProcess, start_runner: RunnerFactory, slack: SlackStandIn, redis_url: str, prefix: str
) -> None:
    first = start_runner()
    first.stop()
    # The heartbeat key is gone, so the bot refuses at once rather than queueing blindly...
    assert "no runner for host" in ask_health(bot, slack)
    slack.clear()
    # ...and a runner that comes back serves the next request.
    start_runner()
    assert "all checks pass" in ask_health(bot, slack)
    # Its stream keeps no unacknowledged job behind (a job is acknowledged once its answer is out).
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 5
    while client.xpending(f"{prefix}:jobs:{HOST}", "runners")["pending"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.xpending(f"{prefix}:jobs:{HOST}", "runners")["pending"] == 0


def test_message_goes_privately_when_the_bot_is_not_in_the_channel(
    bot: BotProcess, runner: RunnerProcess, slack: SlackStandIn
) -> None:
    response = post_command(bot.url, "health", channel="C0NOTJOINED", response_url=slack.response_url("priv"))
    assert response.status_code == 200
    [refused] = slack.wait_for("chat.postMessage")
    assert refused.answer["error"] == "channel_not_found"
    [private] = slack.wait_for("response_url")
    assert private.body["response_type"] == "ephemeral"
    text = message_text(private.body)
    assert "I cannot see <#C0NOTJOINED> (`channel_not_found`)" in text  # and how to invite the bot
    assert "/invite" in text
    assert "all checks pass" in text


def test_rate_limited_post_is_retried_after_retry_after(
    bot: BotProcess, runner: RunnerProcess, slack: SlackStandIn
) -> None:
    slack.rate_limit_next("chat.postMessage", retry_after=1)
    post_command(bot.url, "health", response_url=slack.response_url())
    first, second = slack.wait_for("chat.postMessage", count=2)
    assert first.status == 429
    assert second.answer["ok"] is True
    assert second.at - first.at >= 0.9, "the retry must wait for Retry-After"
    time.sleep(0.5)
    assert len(slack.calls_to("chat.postMessage")) == 2, "posted exactly once after the 429"


def test_health_summarises_the_expected_services_without_profiles(
    bot: BotProcess, runner: RunnerProcess, fresh_stack: PodmanRig, slack: SlackStandIn
) -> None:
    # The backend stand-in sends a profile; the ai-yolo26 one does not on a fresh stack.
    backend_sends_a_profile(fresh_stack)
    text = ask_health(bot, slack)
    assert "Pyroscope health: all checks pass" in text
    assert ":red_circle: *Profiles*: 1 of 2 services sent no profiles in the last 5 min" in text
    assert ":red_circle: *ai-yolo26*: expected (container ai-yolo26 on podhost-1 (running))" in text
    assert "`/prof freshness` offers their diagnosis" in text
    assert "*backend*" not in text  # it has data: counted, not listed
