"""The alert corpus (tests/conformance/alerts) through the real intake, on real Redis, into the
Slack stand-in: what the thread shows is what a person reads, named and counted as the sender
meant (the names that tell alerts apart, the alerts it left out, how long the incident lasted by
its own clock)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.conformance.alerts import fixture_names, load
from tests.e2e.conftest import message_text
from tests.e2e.test_alerts import alert_bot, grafana_signed, posts, send, wait_for_posts
from tests.rig.processes import BotProcess
from tests.rig.slack_standin import SlackStandIn

__all__ = ["alert_bot"]  # the fixture, used by name


def _parent_now(slack: SlackStandIn) -> dict[str, object]:
    """The thread's parent as it reads now: its post, or the latest edit of it."""
    [parent] = [c for c in posts(slack) if not c.body.get("thread_ts")]
    ts = parent.answer["ts"]
    edits = [c for c in posts(slack, "chat.update") if c.body.get("ts") == ts]
    return edits[-1].body if edits else parent.body


def _header(body: dict[str, object]) -> str:
    blocks = body["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert isinstance(blocks, list) and blocks[0]["type"] == "header"
    return str(blocks[0]["text"]["text"])


@pytest.mark.parametrize("name", fixture_names())
def test_what_the_real_senders_send_is_shown_as_they_meant_it(
    name: str, alert_bot: Callable[..., BotProcess], slack: SlackStandIn
) -> None:
    fixture, b = load(name), alert_bot()
    see = fixture["see"]
    for n, notification in enumerate(fixture["notifications"]):
        body = json.dumps(notification).encode()
        headers = grafana_signed(body) if fixture["sender"] == "grafana" else None
        response = send(b, body, path=fixture["sender"], headers=headers)
        assert response.status_code == 200, (name, response.text)
        wait_for_posts(slack, 1)
        if n:  # a later notification edits the parent: wait for its edit
            wait_for_posts(slack, n, "chat.update")
    if "reply" in see:
        replies = [message_text(c.body) for c in wait_for_posts(slack, 2) if c.body.get("thread_ts")]
        assert any(see["reply"] in reply for reply in replies), replies
    parent = _parent_now(slack)
    shown = message_text(parent)
    assert _header(parent).endswith(see["header"]), (_header(parent), see["header"])
    for text in see.get("contains", []):
        assert text in shown, (text, shown)
    for text in see.get("absent", []):
        assert text not in shown, (text, shown)
