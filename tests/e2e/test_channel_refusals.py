"""Channels that refuse the bot, with a real `profbot serve` and the Slack stand-in: the asker is told
privately how to let the bot in; an alert channel the bot was not invited to keeps taking alerts,
is said once in the log, is not hammered, and gets every thread once the bot is invited. Every
message goes with unfurls off."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis

from profbot.keys import Keys
from tests.e2e.conftest import message_text
from tests.e2e.test_alerts import ALERT_CHANNEL, ALERT_TOKEN, alert, group, send, wait_for_posts
from tests.rig.processes import BotProcess
from tests.rig.slack_requests import post_command
from tests.rig.slack_standin import BOT_USER_ID, SlackStandIn

ELSEWHERE = "C0NOTINVITED"


def unfurls_off(body: dict) -> bool:
    return all(body.get(key) in (False, "false", "0") for key in ("unfurl_links", "unfurl_media"))


def test_the_asker_is_told_privately_how_to_invite_the_bot(bot: BotProcess, slack: SlackStandIn) -> None:
    slack.not_member_of.add(ELSEWHERE)

    response = post_command(bot.url, "health", channel=ELSEWHERE, response_url=slack.response_url())

    assert response.status_code == 200
    said = slack.said("r1")
    assert f"I am not in <#{ELSEWHERE}>. Invite me: /invite <@{BOT_USER_ID}> in <#{ELSEWHERE}>." in said
    assert said.endswith("visible only to you:\nPyroscope health: no runner registered")  # and the answer
    [refused] = slack.calls_to("chat.postMessage")
    assert refused.answer["error"] == "not_in_channel"
    [private] = [c for c in slack.calls_to("response_url") if c.name == "r1" and "Invite me" in c.body["text"]]
    assert unfurls_off(refused.body) and unfurls_off(private.body)


def inbox_done(redis_url: str, prefix: str) -> bool:
    """Every webhook so far taken by the alert poster, and nothing left pending."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        stream = Keys(prefix).alert_inbox
        last: Any = client.xrevrange(stream, count=1)
        groups: Any = client.xinfo_groups(stream) if last else []
        return bool(groups) and groups[0]["last-delivered-id"] == last[0][0] and groups[0]["pending"] == 0
    finally:
        client.close()


def test_an_alert_channel_that_refuses_the_bot_keeps_the_alerts_and_posts_them_once_invited(
    bot_with: Callable[..., BotProcess], slack: SlackStandIn, redis_url: str, prefix: str
) -> None:
    slack.not_member_of.add(ALERT_CHANNEL)  # it exists; nobody invited the bot
    b = bot_with(PROFBOT_ALERT_TOKEN=ALERT_TOKEN, PROFBOT_ALERT_CHANNEL=ALERT_CHANNEL, PROFBOT_SLACK_CHANNEL_RATE="50")
    names = ["QueueBacklog", "DiskPressure", "ProfilesLate"]

    for name in names:
        assert send(b, group(name, [alert(name, "node-1:9100")])).status_code == 200  # alerts are still taken

    def refused() -> list:
        return [c for c in slack.calls if c.body.get("channel") == ALERT_CHANNEL and not c.answer.get("ok")]

    deadline = time.monotonic() + 15
    while not refused() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert refused() and refused()[0].answer["error"] == "not_in_channel"
    deadline = time.monotonic() + 15
    while not inbox_done(redis_url, prefix) and time.monotonic() < deadline:  # the three webhooks handled
        time.sleep(0.05)
    assert inbox_done(redis_url, prefix)
    tried = len(refused())
    assert tried <= len(names)  # at most one try per notification, not one per retry
    time.sleep(3)
    assert len(refused()) == tried  # nothing new to post: not tried again, no loop
    assert b.log().count("channel_refuses_bot") == 1  # said once, with the fix
    assert "/invite @profbot" in next(line for line in b.log().splitlines() if "channel_refuses_bot" in line)

    # The bot is invited; Alertmanager re-sends one group: every parked group gets its thread.
    slack.not_member_of.discard(ALERT_CHANNEL)
    slack.channels.add(ALERT_CHANNEL)
    assert send(b, group(names[0], [alert(names[0], "node-1:9100")])).status_code == 200
    parents = wait_for_posts(slack, len(names))
    firsts = sorted(message_text(c.body).split("\n")[0] for c in parents if "thread_ts" not in c.body)
    assert len(firsts) == len(names) and all(any(n in line for line in firsts) for n in names), firsts
    assert "channel_accepts_bot" in b.log()
    assert slack.calls_to("conversations.history") == []  # a refused post was not posted: not looked for
