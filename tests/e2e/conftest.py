from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.conftest import RunnerFactory
from tests.rig.podman_rig import PodmanRig
from tests.rig.processes import BotProcess, RunnerProcess
from tests.rig.slack_standin import SlackStandIn

HOST = "podhost-1"


@pytest.fixture
def bot(redis_url: str, prefix: str, slack: SlackStandIn) -> Iterator[BotProcess]:
    process = BotProcess(redis_url=redis_url, prefix=prefix, slack_api_url=slack.api_url).start()
    yield process
    process.stop()
    print(f"---- profbot serve log ----\n{process.log()}")  # shown by pytest when the test fails


@pytest.fixture
def bot_with(redis_url: str, prefix: str, slack: SlackStandIn) -> Iterator[Callable[..., BotProcess]]:
    """Start bots with some settings changed (``redis_url=`` too); all are stopped after the test."""
    started: list[BotProcess] = []

    def start(**settings: str) -> BotProcess:
        url = settings.pop("redis_url", redis_url)
        process = BotProcess(redis_url=url, prefix=prefix, slack_api_url=slack.api_url, **settings).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
        print(f"---- profbot serve log ----\n{process.log()[-20000:]}")


@pytest.fixture
def start_runner(runner_factory: RunnerFactory, pyroscope: PodmanRig) -> RunnerFactory:
    """Runners on the rig with `pyroscope` healthy; the host id defaults to HOST."""

    def start(host_id: str = HOST, **overrides: str) -> RunnerProcess:
        return runner_factory(host_id, **overrides)

    return start


@pytest.fixture
def runner(start_runner: RunnerFactory) -> RunnerProcess:
    return start_runner()


def message_text(call_body: dict) -> str:
    """Everything a user reads in a posted message: its blocks' texts, else its text."""
    import json

    blocks = call_body.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    parts: list[str] = []
    for block in blocks or []:
        if "text" in block:
            parts.append(block["text"]["text"])
        for element in block.get("elements", []):
            if "text" in element:
                parts.append(element["text"] if isinstance(element["text"], str) else element["text"]["text"])
    return "\n".join(parts) or call_body.get("text", "")


def ack_text(response) -> str:
    """What the user sees of an ack: Slack shows a plain-text body, or a JSON body's text/blocks."""
    if response.headers.get("content-type", "").startswith("application/json"):
        return message_text(response.json())
    return response.text
