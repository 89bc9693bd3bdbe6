"""`/prof runners` as Slack is sent it, for a fleet: every host listed, each section within
Block Kit's limits (checked by the Slack stand-in's validator)."""

from __future__ import annotations

import time

from bot.slack.render import render
from bot.usecases.content import RunnersOverview
from profbot.jobs import RunnerInfo
from tests.rig.slack_standin import block_errors


def runner(host: str) -> RunnerInfo:
    return RunnerInfo(
        host=host, version="0.1.0", pid=1, started_at=0, last_seen=time.time(), podman_version="5.4.2",
        pyroscope_url="http://pyroscope:4040", containers=[f"{host}-svc-{c}" for c in range(12)],
    )  # fmt: skip


def test_fifty_runners_are_all_listed_in_sections_within_slacks_limits() -> None:
    runners = [runner(f"podhost-{i:02d}") for i in range(50)]
    alive = frozenset(r.host for r in runners[:40])

    message = render(RunnersOverview(runners, alive)).as_kwargs()

    assert block_errors(message["blocks"]) == []
    texts = [b["text"]["text"] for b in message["blocks"]]
    assert len(texts) > 1
    assert texts[0].startswith("*Runners*")
    lines = [line for t in texts for line in t.splitlines() if line != "*Runners*"]
    assert [line.split("*")[1] for line in lines] == [r.host for r in runners]
    assert sum(":red_circle: not heartbeating" in line for line in lines) == 10
    assert message["text"] == "40 of 50 runners up"


def test_a_few_runners_stay_in_one_section() -> None:
    message = render(RunnersOverview([runner("podhost-1")], frozenset({"podhost-1"}))).as_kwargs()

    [block] = message["blocks"]
    assert block["text"]["text"].startswith("*Runners*\n:large_green_circle: up *podhost-1*")
