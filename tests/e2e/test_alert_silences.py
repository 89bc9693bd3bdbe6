"""Silencing an alert group from its thread, end to end: a signed click through the Slack stand-in
on a real `profbot serve`, and the silence in Debian's real `prometheus-alertmanager`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.contract.test_silencer_contract import alertmanager  # noqa: F401 - the fixture
from tests.e2e.test_alerts import ALERT_CHANNEL, alert, alert_bot, group, send, wait_for_posts  # noqa: F401
from tests.rig.processes import BotProcess
from tests.rig.slack_requests import OPERATOR, button_payload, post_interaction
from tests.rig.slack_standin import SlackStandIn

pytestmark = pytest.mark.usefixtures("alertmanager")


def silences(am: str) -> list[dict[str, Any]]:
    return list(httpx.get(f"{am}/api/v2/silences", timeout=10).json())


def button(post_body: dict[str, Any], text: str) -> dict[str, Any]:
    blocks = post_body["blocks"] if isinstance(post_body["blocks"], list) else json.loads(post_body["blocks"])
    for block in blocks:
        for element in block.get("elements", []):
            if element.get("type") == "button" and element["text"]["text"] == text:
                return dict(element)
    raise AssertionError(f"no {text!r} button in {blocks}")


@pytest.fixture
def silencing_bot(alert_bot: Callable[..., BotProcess], alertmanager: str) -> BotProcess:  # noqa: F811
    return alert_bot(PROFBOT_ALERTMANAGER_URL=alertmanager, PROFBOT_OPERATORS=OPERATOR)


def test_a_click_silences_the_group_in_alertmanager_not_where_the_webhook_points(
    silencing_bot: BotProcess,
    slack: SlackStandIn,
    alertmanager: str,  # noqa: F811
) -> None:
    name = f"ProfbotSilence{time.time_ns()}"
    payload = {**group(name, [alert(name, "a:1")]), "externalURL": "http://127.0.0.1:9/attacker"}
    assert send(silencing_bot, payload).status_code == 200
    [parent] = wait_for_posts(slack, 1)
    ts = parent.answer["ts"]
    click = button_payload(button(parent.body, "Silence 1 h"), user=OPERATOR, response_url=slack.response_url("s"),
                           message_ts=ts, channel=ALERT_CHANNEL)  # fmt: skip
    assert post_interaction(silencing_bot.url, click).status_code == 200
    deadline = time.monotonic() + 20
    mine: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not mine:
        mine = [s for s in silences(alertmanager) if {"name": "alertname", "value": name} in
                [{"name": m["name"], "value": m["value"]} for m in s["matchers"]]]  # fmt: skip
        time.sleep(0.2)
    [made] = mine
    assert made["status"]["state"] == "active" and OPERATOR in made["createdBy"]
    assert all(not m["isRegex"] for m in made["matchers"])


def test_a_non_operators_click_creates_nothing_and_expire_from_the_thread_expires_it(
    silencing_bot: BotProcess,
    slack: SlackStandIn,
    alertmanager: str,  # noqa: F811
) -> None:
    name = f"ProfbotExpire{time.time_ns()}"
    assert send(silencing_bot, group(name, [alert(name, "a:1")])).status_code == 200
    [parent] = wait_for_posts(slack, 1)
    ts, mine = parent.answer["ts"], lambda: [s for s in silences(alertmanager) if name in json.dumps(s["matchers"])]

    def click(body: dict[str, Any], text: str, user: str) -> None:
        payload = button_payload(button(body, text), user=user, response_url=slack.response_url(text[:6]),
                                 message_ts=ts, channel=ALERT_CHANNEL)  # fmt: skip
        assert post_interaction(silencing_bot.url, payload).status_code == 200

    click(parent.body, "Silence 4 h", "U0STRANGER")
    time.sleep(2)
    assert mine() == []
    click(parent.body, "Silence 4 h", OPERATOR)
    [update] = wait_for_posts(slack, 1, method="chat.update")
    assert "silenced by" in json.dumps(update.body)
    click(update.body, "Expire silence", OPERATOR)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and mine()[0]["status"]["state"] != "expired":
        time.sleep(0.2)
    assert mine()[0]["status"]["state"] == "expired"
