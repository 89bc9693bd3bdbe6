"""The App Home end to end: `app_home_opened` signed as Slack signs it to `/slack/events`, and over
the Socket Mode stand-in, to a real `profbot serve`; a real runner on the podman rig; the home as
the Slack stand-in's `views.publish` received it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import HOST, message_text
from tests.e2e.test_changes import button, latest_update, request_posted, wait_until
from tests.rig.podman_rig import PodmanRig
from tests.rig.processes import BotProcess, RunnerProcess
from tests.rig.slack_requests import (
    OPERATOR,
    OPERATOR_2,
    STRANGER,
    home_button_payload,
    home_opened_event,
    post_command,
    post_event,
    post_interaction,
    sign,
)
from tests.rig.slack_standin import SlackStandIn
from tests.rig.socket_mode_standin import SocketModeStandIn

SLACK_ACK_DEADLINE = 3.0


@pytest.fixture
def stack(pyroscope: PodmanRig) -> Iterator[PodmanRig]:
    yield pyroscope
    pyroscope.reset_stack()


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


def test_the_home_shows_the_runner_the_health_and_the_open_request_and_its_button_decides_it(
    bot: BotProcess, runner: RunnerProcess, stack: PodmanRig, slack: SlackStandIn
) -> None:
    post_command(bot.url, "health", response_url=slack.response_url("health"))
    wait_until(slack, "chat.postMessage", lambda c: "Pyroscope health" in message_text(c.body), 30)
    post_command(bot.url, "restart backend", response_url=slack.response_url("restart"))
    request = request_posted(slack)
    request_id = button(request.body, "change:confirm")["value"]

    opened = post_event(bot.url, home_opened_event(OPERATOR))
    assert opened.status_code == 200

    home = slack.homes.wait_for(OPERATOR, lambda h: "Restart backend" in h.text)
    assert home.view["type"] == "home"
    assert f"*{HOST}* · runner " in home.text and "last heartbeat" in home.text and "podman " in home.text
    assert "Pyroscope health: nothing wrong found" in home.text  # the health check's verdict, remembered
    assert "waiting for the requester's confirmation" in home.text
    assert "Audit: the latest" in home.text and "*requested* by <@U0OPERATOR>" in home.text  # an operator's
    confirm = next(b for b in home.buttons() if b["action_id"] == "change:confirm")
    assert confirm["value"] == request_id  # the request message's own button

    # Confirmed from the home: it runs, its message is updated where it lives, and the home shows it.
    assert post_interaction(bot.url, home_button_payload(confirm, user=OPERATOR)).status_code == 200
    assert "confirmed by <@U0OPERATOR>" in message_text(latest_update(slack, "succeeded").body)
    shown = slack.homes.wait_for(OPERATOR, lambda h: ":white_check_mark: succeeded" in h.text, 90)
    assert "Restart backend" in shown.text
    assert [b["action_id"] for b in shown.buttons()] == []

    # The same button again: the person is told, in the app's Messages tab, that it is done already.
    assert post_interaction(bot.url, home_button_payload(confirm, user=OPERATOR)).status_code == 200
    told = wait_until(slack, "chat.postMessage", lambda c: c.body.get("channel") == OPERATOR, 30)
    assert "is already" in message_text(told.body) and "Nothing more was run" in message_text(told.body)
    assert slack.homes.of(OPERATOR_2) == []  # never opened: nothing published for them


def test_the_home_over_socket_mode(
    socket_bot: BotProcess, runner: RunnerProcess, slack: SlackStandIn, socket: SocketModeStandIn
) -> None:
    ack = socket.ack(socket.send("events_api", home_opened_event(OPERATOR)))
    assert ack.seconds < SLACK_ACK_DEADLINE

    home = slack.homes.wait_for(OPERATOR)
    assert f"*{HOST}* · runner " in home.text and "Pyroscope: not checked yet" in home.text
    assert "Your requests" in home.text and "Audit" in home.text

    socket.ack(socket.send("events_api", home_opened_event(STRANGER)))
    stranger = slack.homes.wait_for(STRANGER)
    assert f"*{HOST}*" in stranger.text and "Pyroscope: not checked yet" in stranger.text
    assert "runner " not in stranger.text and "Audit" not in stranger.text and "Your requests" not in stranger.text
    assert socket.unknown_acks == []


def test_a_forged_home_event_is_refused_and_shows_nothing(bot: BotProcess, slack: SlackStandIn) -> None:
    forged = post_event(bot.url, home_opened_event(STRANGER), secret="not-the-signing-secret")
    assert forged.status_code == 401
    messages_tab = post_event(bot.url, home_opened_event(OPERATOR_2, tab="messages"))
    assert messages_tab.status_code == 200

    # Slack checks the events URL of the HTTP manifest once, with a challenge.
    body = '{"token": "x", "challenge": "ch4llenge", "type": "url_verification"}'
    answered = httpx.post(f"{bot.url}/slack/events", content=body, timeout=10,
                          headers={"Content-Type": "application/json", **sign(body)})  # fmt: skip
    assert answered.status_code == 200 and "ch4llenge" in answered.text

    assert post_event(bot.url, home_opened_event(OPERATOR)).status_code == 200
    home = slack.homes.wait_for(OPERATOR)
    assert "No runner has registered yet" in home.text
    # Only the genuine event for the Home tab published anything (the others were answered before it).
    assert [h.user_id for h in slack.homes.published] == [OPERATOR]
