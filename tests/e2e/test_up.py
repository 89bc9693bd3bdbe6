"""`profbot up`, what `make run` runs, from an empty state directory with REDIS_URL unset: profbot's
own Redis, this host's runner on the podman rig, and a front end chosen from what is configured."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import message_text
from tests.rig.podman_rig import PodmanRig
from tests.rig.ports import free_port
from tests.rig.processes import base_env, run_profbot
from tests.rig.slack_requests import OPERATOR, command_payload
from tests.rig.slack_standin import APP_TOKEN, DEFAULT_TOKEN, SlackStandIn
from tests.rig.socket_mode_standin import SocketModeStandIn


@pytest.fixture
def up_env(pyroscope: PodmanRig, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A machine nobody configured: no REDIS_URL, no Slack, no operators; the rig's podman."""
    env = base_env(**pyroscope.runner_env(), PROFBOT_STATE_DIR=str(tmp_path / "state"), PROFBOT_HOST_ID="uphost",
                   PROFBOT_HEARTBEAT_SECONDS="1")  # fmt: skip
    assert "REDIS_URL" not in env
    yield env
    pyroscope.reset_stack()


def test_up_on_a_fresh_machine_answers_in_the_shell_from_its_own_redis(up_env: dict[str, str]) -> None:
    state = Path(up_env["PROFBOT_STATE_DIR"])
    done = run_profbot("up", "--user", "alice", env=up_env, stdin="health\nrunners\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "host uphost: OK" in done.stdout and "Pyroscope health: all checks pass" in done.stdout
    assert "1 of 1 runners up" in done.stdout
    assert (state / "appendonlydir").is_dir()  # its own Redis kept its data here...
    assert not (state / "redis.sock").exists()  # ...and was stopped when `up` ended


def test_a_pending_request_survives_a_restart_of_profbot(up_env: dict[str, str], pyroscope: PodmanRig) -> None:
    first = run_profbot("up", "--user", "alice", env=up_env, stdin="diagnose storage\n2\npyroscope_data\n")
    assert first.returncode == 0, first.stdout + first.stderr
    [request_id] = re.findall(r"Destroy request ([0-9a-f]{32}): ", first.stdout)[-1:]

    again = run_profbot("up", "--user", "alice", env=up_env, stdin=f"request {request_id[:8]}\n")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"Destroy request {request_id}: Delete volume pyroscope_data" in again.stdout
    assert "state: waiting for a second person's approval" in again.stdout


def test_up_with_slack_tokens_serves_slack_over_socket_mode_and_stops_on_sigterm(
    up_env: dict[str, str], slack: SlackStandIn
) -> None:
    socket = SocketModeStandIn(slack).start()
    env = {**up_env, "SLACK_BOT_TOKEN": DEFAULT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN, "SLACK_API_URL": slack.api_url,
           "PROFBOT_OPERATORS": OPERATOR, "PROFBOT_LISTEN": f"127.0.0.1:{free_port()}"}  # fmt: skip
    up = subprocess.Popen([sys.executable, "-m", "cli", "up"], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        socket.wait_connected(timeout=30)
        envelope = socket.send("slash_commands", command_payload("health", response_url=slack.response_url()))
        assert socket.ack(envelope).seconds < 3
        [post] = slack.wait_for("chat.postMessage", timeout=30)
        assert "Pyroscope health: all checks pass" in message_text(post.body)
        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=60) == 0
    finally:
        if up.poll() is None:
            up.kill()
        socket.close()
        print(up.stdout.read() if up.stdout else "")
    assert not (Path(up_env["PROFBOT_STATE_DIR"]) / "redis.sock").exists()
