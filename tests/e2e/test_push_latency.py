"""Push latency end to end: `/prof health` and `/prof diagnose baselines` in Slack show the canary the
runner pushed from its host, measured against the runbook's thresholds; a lagging ingester on the
Pyroscope stand-in (/tmp/ingest-delay, a lower bound of what is measured) reads as an alert."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import message_text
from tests.rig.podman_rig import PodmanRig
from tests.rig.processes import BotProcess, RunnerProcess
from tests.rig.slack_requests import post_command
from tests.rig.slack_standin import SlackStandIn

# As Slack shows it: `<` and `>` escaped, so nothing from a runner can ping or link.
PUSH_LINE = re.compile(r"(:\w+:) \*profile push latency\*: measured ([\d.]+) s · expected &lt; 1 s · alert &gt; 5 s")


@pytest.fixture
def lagging(pyroscope: PodmanRig) -> Iterator[PodmanRig]:
    yield pyroscope
    pyroscope.podman("exec", "pyroscope", "rm", "-f", "/tmp/ingest-delay", check=False)


def posted(slack: SlackStandIn, count: int, timeout: float = 60) -> str:
    """The text of the ``count``-th message posted in the channel."""
    return message_text(slack.wait_for("chat.postMessage", count=count, timeout=timeout)[count - 1].body)


def test_health_and_baselines_show_the_canarys_push_latency(
    bot: BotProcess, runner: RunnerProcess, lagging: PodmanRig, slack: SlackStandIn
) -> None:
    post_command(bot.url, "health", response_url=slack.response_url())
    healthy = PUSH_LINE.search(posted(slack, 1))
    assert healthy is not None, "no push latency line in the health report"
    assert healthy.group(1) != ":red_circle:"

    lagging.podman("exec", "pyroscope", "sh", "-c", "echo 6 > /tmp/ingest-delay")
    post_command(bot.url, "health", response_url=slack.response_url("again"))
    text = posted(slack, 2)
    slow = PUSH_LINE.search(text)
    assert slow is not None and slow.group(1) == ":red_circle:" and float(slow.group(2)) >= 6
    assert ":red_circle: *Pyroscope /ready*" not in text  # the one alert is the push latency

    post_command(bot.url, "diagnose baselines", response_url=slack.response_url("baselines"))
    baselines = PUSH_LINE.search(posted(slack, 3))
    assert baselines is not None and baselines.group(1) == ":red_circle:" and float(baselines.group(2)) >= 6
