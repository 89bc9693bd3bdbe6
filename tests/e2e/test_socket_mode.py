"""Slack over Socket Mode, end to end: a real `profbot serve` with SLACK_APP_TOKEN and no signing
secret, connected to the Socket Mode stand-in through `apps.connections.open` on SLACK_API_URL; a
real runner on the podman rig. Every envelope is acknowledged with its envelope_id within Slack's
3 s; a dropped connection is reopened."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import message_text
from tests.e2e.test_changes import button, latest_update, request_posted, wait_until
from tests.rig.podman_rig import PodmanRig
from tests.rig.processes import BotProcess, RunnerProcess
from tests.rig.slack_requests import (
    APPROVER,
    OPERATOR,
    button_payload,
    command_payload,
    view_submission_payload,
)
from tests.rig.slack_standin import SlackStandIn
from tests.rig.socket_mode_standin import SocketModeStandIn

SLACK_ACK_DEADLINE = 3.0


@pytest.fixture
def socket(slack: SlackStandIn) -> Iterator[SocketModeStandIn]:
    standin = SocketModeStandIn(slack).start()
    yield standin
    standin.close()


@pytest.fixture
def socket_bot(redis_url: str, prefix: str, slack: SlackStandIn, socket: SocketModeStandIn) -> Iterator[BotProcess]:
    bot = BotProcess(redis_url=redis_url, prefix=prefix, slack_api_url=slack.api_url, SOCKET_MODE="1").start()
    socket.wait_connected()
    yield bot
    bot.stop()
    print(f"---- profbot serve log ----\n{bot.log()}")


@pytest.fixture
def stack(pyroscope: PodmanRig) -> Iterator[PodmanRig]:
    yield pyroscope
    pyroscope.reset_stack()


def command(socket: SocketModeStandIn, slack: SlackStandIn, text: str, *, user: str = OPERATOR, name: str = "r1"):
    envelope = socket.send("slash_commands", command_payload(text, user=user, response_url=slack.response_url(name)))
    ack = socket.ack(envelope)
    assert ack.seconds < SLACK_ACK_DEADLINE, f"{text}: acknowledged after {ack.seconds:.2f}s"
    return ack


def click(socket: SocketModeStandIn, slack: SlackStandIn, b: dict, *, user: str, ts: str, name: str):
    payload = button_payload(b, user=user, response_url=slack.response_url(name), message_ts=ts)
    ack = socket.ack(socket.send("interactive", payload))
    assert ack.seconds < SLACK_ACK_DEADLINE
    return ack


def test_health_over_socket_mode_is_acknowledged_in_time_and_answered(
    socket_bot: BotProcess, runner: RunnerProcess, slack: SlackStandIn, socket: SocketModeStandIn
) -> None:
    ack = command(socket, slack, "health")
    assert ack.payload is not None and "Checking Pyroscope health" in ack.payload["text"]
    [post] = slack.wait_for("chat.postMessage", timeout=30)
    assert "Pyroscope health: all checks pass" in message_text(post.body)
    assert slack.calls_to("apps.connections.open")  # on SLACK_API_URL, like every Web API call

    # No signing secret: Slack's HTTP route is not served; the alerts' and the probe's port still is.
    assert httpx.post(f"{socket_bot.url}/slack/events", content=b"x", timeout=5).status_code == 404
    ready = httpx.get(f"{socket_bot.url}/readyz", timeout=5)
    assert (ready.status_code, ready.json()) == (200, {"ready": True})  # Redis answers, Socket Mode connected

    # A typo gets its answer in the acknowledgement, as over HTTP.
    ack = command(socket, slack, "restart-everything now", name="typo")
    assert ack.payload is not None and "Unknown command `restart-everything`" in json.dumps(ack.payload)
    assert socket.unknown_acks == []


def test_a_change_confirmed_by_button_goes_through_a_dropped_connection(
    socket_bot: BotProcess, runner: RunnerProcess, stack: PodmanRig, slack: SlackStandIn, socket: SocketModeStandIn
) -> None:
    before = stack.inspect("backend", "{{.State.StartedAt}}")
    command(socket, slack, "restart backend")
    request = request_posted(slack)
    assert "Change request: Restart backend" in message_text(request.body)

    opened = len(slack.calls_to("apps.connections.open"))
    socket.drop()  # Slack closes the connection (a refresh): profbot opens a new one
    socket.wait_connected(count=2)
    assert len(slack.calls_to("apps.connections.open")) == opened + 1

    click(socket, slack, button(request.body, "change:confirm"), user=OPERATOR, ts=request.answer["ts"], name="go")
    done = latest_update(slack, "succeeded")
    assert "confirmed by <@U0OPERATOR>" in message_text(done.body)
    assert stack.inspect("backend", "{{.State.StartedAt}}") != before


def test_a_destroy_over_socket_mode_takes_the_typed_name_and_a_second_approver(
    socket_bot: BotProcess, runner: RunnerProcess, stack: PodmanRig, slack: SlackStandIn, socket: SocketModeStandIn
) -> None:
    created = stack.podman("volume", "inspect", "pyroscope_data", "--format", "{{.CreatedAt}}").stdout.strip()
    command(socket, slack, "diagnose storage")
    diagnosis = wait_until(slack, "chat.postMessage", lambda c: "INC-PROF-004" in message_text(c.body), 30)
    click(socket, slack, button(diagnosis.body, "Delete volume pyroscope_data (destroy)"), user=OPERATOR,
          ts=diagnosis.answer["ts"], name="purge")  # fmt: skip
    [opened] = slack.wait_for("views.open", 1, 30)
    view = opened.body["view"]
    assert "*Delete volume pyroscope_data*" in json.dumps(view)

    wrong = view_submission_payload(view, user=OPERATOR, values={"typed_name": {"value": "pyroscope"}})
    ack = socket.ack(socket.send("interactive", wrong))
    assert ack.payload is not None and ack.payload["response_action"] == "errors"
    assert "type the volume name exactly" in ack.payload["errors"]["typed_name"]
    right = view_submission_payload(view, user=OPERATOR, values={"typed_name": {"value": "pyroscope_data"}})
    ack = socket.ack(socket.send("interactive", right))
    assert ack.payload in (None, {})  # the modal closes

    request = request_posted(slack)
    assert "Destroy request: Delete volume pyroscope_data" in message_text(request.body)
    click(socket, slack, button(request.body, "change:approve"), user=APPROVER, ts=request.answer["ts"], name="ok")
    done = latest_update(slack, "succeeded")
    assert "approved by <@U0APPROVER>" in message_text(done.body)
    assert stack.podman("volume", "inspect", "pyroscope_data", "--format", "{{.CreatedAt}}").stdout.strip() != created
