"""Bad input gets a clear answer and runs nothing; lost dependencies give errors, never hangs."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest
import redis

from tests.conftest import RunnerFactory
from tests.e2e.conftest import HOST, ack_text, message_text
from tests.rig.podman_rig import PodmanRig
from tests.rig.processes import BotProcess, RunnerProcess, base_env
from tests.rig.redis_rig import PrivateRedis
from tests.rig.slack_requests import command_body, post_command, sign
from tests.rig.slack_standin import SlackStandIn


def jobs_queued(redis_url: str, prefix: str, host: str = HOST) -> int:
    client = redis.Redis.from_url(redis_url)
    key = f"{prefix}:jobs:{host}"
    return int(client.xlen(key)) if client.exists(key) else 0


def post_raw(bot: BotProcess, body: str | bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{bot.url}/slack/events", content=body, headers=headers, timeout=30)


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_forged_signature_is_refused_and_runs_nothing(
    bot: BotProcess, runner: RunnerProcess, slack: SlackStandIn, redis_url: str, prefix: str
) -> None:
    response = post_command(bot.url, "health", response_url=slack.response_url(), secret="not-the-secret")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid signature"
    time.sleep(0.5)
    assert jobs_queued(redis_url, prefix) == 0
    assert slack.calls_to("chat.postMessage") == []


def test_stale_signature_is_refused(
    bot: BotProcess, runner: RunnerProcess, slack: SlackStandIn, redis_url: str, prefix: str
) -> None:
    six_minutes_ago = int(time.time()) - 360
    response = post_command(bot.url, "health", response_url=slack.response_url(), timestamp=six_minutes_ago)
    assert response.status_code == 401
    assert "five minutes" in response.json()["error"]
    assert jobs_queued(redis_url, prefix) == 0


def test_unsigned_request_is_refused(bot: BotProcess, slack: SlackStandIn) -> None:
    body = command_body("health", response_url=slack.response_url())
    response = post_raw(bot, body, FORM)
    assert response.status_code == 401
    assert "missing" in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        ('{"type": "event_callback", ', "application/json", "not valid JSON"),
        ("[1, 2, 3]", "application/json", "no 'type' field"),
        ("payload=%7Bnot-json", "application/x-www-form-urlencoded", "'payload' is not valid JSON"),
        ("hello=world", "application/x-www-form-urlencoded", "neither a slash command"),
    ],
)
def test_malformed_but_signed_body_gets_400_with_the_reason(
    bot: BotProcess, body: str, content_type: str, reason: str
) -> None:
    response = post_raw(bot, body, {"Content-Type": content_type, **sign(body)})
    assert response.status_code == 400
    assert reason in response.json()["error"]


def test_ten_megabyte_body_is_refused_with_413(bot: BotProcess) -> None:
    body = "command=%2Fprof&text=" + "a" * (10 * 1024 * 1024)
    response = post_raw(bot, body, {**FORM, **sign(body)})
    assert response.status_code == 413
    assert "Maximum request body size" in response.text
    # The bot still serves afterwards.
    assert httpx.get(f"{bot.url}/healthz", timeout=5).status_code == 200


def test_shell_metacharacters_as_host_are_refused_before_anything_runs(
    bot: BotProcess, runner: RunnerProcess, slack: SlackStandIn, redis_url: str, prefix: str
) -> None:
    response = post_command(bot.url, "health ai-yolo26;rm${IFS}-rf${IFS}/", response_url=slack.response_url())
    assert response.status_code == 200
    assert "is not a host name" in ack_text(response)
    time.sleep(0.5)
    assert jobs_queued(redis_url, prefix) == 0
    assert slack.calls_to("chat.postMessage") == []


def test_unknown_host_is_told_there_is_no_runner(bot: BotProcess, runner: RunnerProcess, slack: SlackStandIn) -> None:
    post_command(bot.url, "health no-such-host", response_url=slack.response_url())
    [post] = slack.wait_for("chat.postMessage")
    assert "no runner registered for host no-such-host" in message_text(post.body)


def test_unknown_subcommand_gets_the_help_privately(bot: BotProcess, slack: SlackStandIn) -> None:
    response = post_command(bot.url, "restart-everything now", response_url=slack.response_url())
    assert response.status_code == 200
    text = ack_text(response)
    assert "Unknown command `restart-everything`" in text
    assert "/prof health [HOST]" in text
    assert response.json().get("response_type", "ephemeral") == "ephemeral"


def test_help_lists_every_command(bot: BotProcess, slack: SlackStandIn) -> None:
    text = ack_text(post_command(bot.url, "help", response_url=slack.response_url()))
    for usage in ("/prof help", "/prof health [HOST]", "/prof runners"):
        assert usage in text


def test_runners_lists_heartbeat_and_podman_version(
    bot: BotProcess, runner: RunnerProcess, slack: SlackStandIn, podman_rig: PodmanRig
) -> None:
    response = post_command(bot.url, "runners", response_url=slack.response_url())
    assert response.status_code == 200
    [answer] = slack.wait_for("response_url")
    text = message_text(answer.body)
    version = podman_rig.podman("version", "--format", "{{.Server.Version}}").stdout.strip()
    assert f"*{HOST}*: last seen" in text
    assert f"podman {version}" in text
    assert "1 of 1 runners up" in answer.body["text"]


def test_redis_lost_while_serving_answers_with_an_error_then_recovers(
    prefix: str, slack: SlackStandIn, pyroscope: PodmanRig
) -> None:
    private = PrivateRedis().start()
    bot = BotProcess(redis_url=private.url, prefix=prefix, slack_api_url=slack.api_url).start()
    runner = RunnerProcess(redis_url=private.url, prefix=prefix, host_id=HOST, settings=pyroscope.runner_env()).start()
    try:
        private.stop()
        started = time.monotonic()
        response = post_command(bot.url, "health", response_url=slack.response_url())
        assert response.status_code == 200, "the ack never waits on Redis"
        [post] = slack.wait_for("chat.postMessage", timeout=20)
        assert time.monotonic() - started < 10
        assert "cannot reach its Redis job bus" in message_text(post.body)

        slack.clear()
        private.start()  # same port, empty: the runner must re-register and the bot reconnect
        deadline = time.monotonic() + 20
        text = ""
        while time.monotonic() < deadline:
            post_command(bot.url, "health", response_url=slack.response_url())
            [post] = slack.wait_for("chat.postMessage", timeout=20)
            text = message_text(post.body)
            if "all checks pass" in text:
                break
            slack.clear()
            time.sleep(0.5)
        assert "all checks pass" in text
    finally:
        runner.stop()
        bot.stop()
        private.close()
        print(bot.log(), runner.log())


def test_redis_unreachable_at_start_is_one_clear_error(slack: SlackStandIn) -> None:
    bot = BotProcess(redis_url="redis://127.0.0.1:1/0", prefix="unused", slack_api_url=slack.api_url)
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "serve"],
        env=bot.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("profbot: cannot reach Redis at redis://127.0.0.1:1/0")
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("role", "drop", "named"),
    [("serve", "SLACK_SIGNING_SECRET", "SLACK_SIGNING_SECRET is missing"),
     ("serve", "SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN is missing")],
)  # fmt: skip
def test_missing_setting_exits_2_naming_it(role: str, drop: str, named: str, tmp_path) -> None:
    env = base_env(SLACK_BOT_TOKEN="xoxb-x", SLACK_SIGNING_SECRET="s")
    env.pop(drop)
    proc = subprocess.run(
        [sys.executable, "-m", "cli", role],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"profbot: configuration error: {named}"


def test_invalid_setting_exits_2_naming_it(tmp_path) -> None:
    env = base_env(PROFBOT_HOST_ID="bad host;rm", CONTAINER_HOST="unix:///x.sock")
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "runner"], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=30,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.startswith("profbot: configuration error: PROFBOT_HOST_ID is invalid")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_settings_come_from_a_dotenv_file(tmp_path) -> None:
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-x\nSLACK_SIGNING_SECRET=s\nREDIS_URL=redis://127.0.0.1:1/0\n")
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "serve"], env=base_env(), cwd=tmp_path, capture_output=True,
        text=True, timeout=30,
    )  # fmt: skip
    # Past the settings (both Slack ones came from .env) to the Redis check.
    assert proc.returncode == 1
    assert "cannot reach Redis at redis://127.0.0.1:1/0" in proc.stderr


@pytest.mark.parametrize("role", ["serve", "runner"])
def test_each_command_has_help(role: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "cli", role, "--help"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0
    assert f"usage: profbot {role}" in proc.stdout


def test_runner_shutdown_removes_its_heartbeat_at_once(
    start_runner: RunnerFactory, redis_url: str, prefix: str
) -> None:
    runner = start_runner()
    assert runner.stop() == 0
    assert not redis.Redis.from_url(redis_url).exists(f"{prefix}:runner:{HOST}:alive")
    assert "runner_stopped" in runner.log()
