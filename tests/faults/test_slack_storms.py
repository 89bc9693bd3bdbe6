"""Slack answering 429 (Retry-After) and 5xx for a while: alerts are still taken (2xx) and
commands still acknowledged during the storm; after it, every alert thread, every resolution and
every answer is posted exactly once: none lost, none twice."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx

from tests.e2e.conftest import message_text
from tests.e2e.test_alerts import ALERT_CHANNEL, ALERT_TOKEN, alert, group
from tests.rig.fault_figures import Figures
from tests.rig.processes import BotProcess
from tests.rig.slack_requests import post_command
from tests.rig.slack_standin import Call, SlackStandIn

NAMES = [f"Storm{i:02d}" for i in range(12)]
RESOLVED = NAMES[::2]
STORM = {429: 6, 500: 3, 503: 3}  # refusals in a row, for each of chat.postMessage and chat.update


def send(bot: BotProcess, payload: dict) -> httpx.Response:
    return httpx.post(f"{bot.url}/alerts/alertmanager", json=payload, timeout=10,
                      headers={"Authorization": f"Bearer {ALERT_TOKEN}"})  # fmt: skip


def delivered(slack: SlackStandIn, method: str = "chat.postMessage") -> list[Call]:
    return [c for c in slack.calls_to(method) if c.answer.get("ok")]


def settled(slack: SlackStandIn, done: Callable[[], bool], timeout: float = 120, quiet: float = 3.0) -> None:
    """Wait until ``done()`` and then nothing more was posted for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            said = [(c.method, c.status, c.name, message_text(c.body)[:80]) for c in slack.calls]
            raise AssertionError(f"not settled within {timeout}s; Slack was asked: {said}")
        time.sleep(0.2)
    seen = len(slack.calls)
    while True:
        time.sleep(quiet)
        if len(slack.calls) == seen:
            return
        seen = len(slack.calls)


def test_a_429_and_5xx_storm_delays_alert_threads_and_answers_but_loses_and_repeats_none(
    bot_with: Callable[..., BotProcess], slack: SlackStandIn, figures: Figures
) -> None:
    slack.channels.add(ALERT_CHANNEL)
    b = bot_with(PROFBOT_ALERT_TOKEN=ALERT_TOKEN, PROFBOT_ALERT_CHANNEL=ALERT_CHANNEL, PROFBOT_SLACK_CHANNEL_RATE="50")
    # The storm: every write Slack is asked for is refused for a while, rate limited then failing.
    for method in ("chat.postMessage", "chat.update"):
        slack.rate_limit_next(method, retry_after=1, times=STORM[429])
        slack.fail_next(method, status=500, times=STORM[500])
        slack.fail_next(method, status=503, times=STORM[503])

    for name in NAMES:
        response = send(b, group(name, [alert(name, "a:1"), alert(name, "b:1")]))
        assert response.status_code == 200, response.text  # taken, whatever Slack does
    for i in range(3):
        started = time.monotonic()
        ack = post_command(b.url, f"health podhost-{i}", response_url=slack.response_url(f"health-{i}"))
        assert ack.status_code == 200 and time.monotonic() - started < 3  # within Slack's 3 s

    def parents() -> list[Call]:
        return [c for c in delivered(slack) if c.body.get("channel") == ALERT_CHANNEL and "thread_ts" not in c.body]

    # Resolved once their threads are up (through the storm), so their parents are updated in place:
    # updates meet the storm too (resolved before, a group would open resolved, with no update).
    settled(slack, lambda: all(any(n in message_text(c.body) for c in parents()) for n in RESOLVED), quiet=0)
    for name in RESOLVED:
        resolved = [{**alert(name, h), "status": "resolved"} for h in ("a:1", "b:1")]
        assert send(b, group(name, resolved, "resolved")).status_code == 200

    def shown() -> dict[str, str]:
        """Each group's thread as it reads now: its parent, updated in place."""
        latest = {c.answer["ts"]: message_text(c.body) for c in parents()}
        for update in delivered(slack, "chat.update"):
            if update.body.get("ts") in latest:
                latest[update.body["ts"]] = message_text(update.body)
        return {re.search(r"(?:FIRING|RESOLVED): (\w+)", text)[1]: text for text in latest.values()}  # type: ignore[index]

    def answers() -> list[Call]:
        return [c for c in delivered(slack) if "no runner registered for host podhost-" in message_text(c.body)]

    def told() -> list[Call]:
        return [c for c in slack.calls_to("response_url") if c.name.startswith("health-")]

    def caught_up() -> bool:
        now = shown()
        return (len(now) == len(NAMES) and all(f"RESOLVED: {n}" in now[n] for n in RESOLVED if n in now)
                and len(answers()) + len(told()) >= 3)  # fmt: skip

    settled(slack, caught_up)
    refused = {m: [c for c in slack.calls_to(m) if c.status in STORM] for m in ("chat.postMessage", "chat.update")}
    assert len(refused["chat.postMessage"]) == sum(STORM.values())  # the whole storm was met
    assert refused["chat.update"], "no update met the storm"

    # One thread per group (a group resolved before Slack took its thread opens resolved), each
    # showing the group's latest state.
    heads = [message_text(c.body).split("\n")[0] for c in parents()]
    now = shown()
    lost = [n for n in NAMES if n not in now]
    lost += [n for n in NAMES if n in now and ("RESOLVED" if n in RESOLVED else "FIRING") not in now[n]]
    figures.alerts_lost += len(lost)
    assert lost == [], now
    assert len(heads) == len(NAMES), heads  # none twice
    # Each command is answered once: in the channel or, Slack still refusing after the client's
    # retries, privately, saying the answer could not be posted.
    for i in range(3):
        in_channel = [c for c in answers() if f"host podhost-{i}" in message_text(c.body)]
        privately = [c for c in told() if c.name == f"health-{i}"]
        assert len(in_channel) + len(privately) == 1, (i, [message_text(c.body) for c in in_channel + privately])
