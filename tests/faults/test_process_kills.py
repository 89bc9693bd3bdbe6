"""Processes killed and Redis restarted in the middle of a confirmed change, with real `profbot
serve` and `profbot runner` processes on the podman rig. The change restarts a container that
ignores SIGTERM (podman waits its 10 s stop timeout, then kills it): a step that takes a while.
Whatever dies, the change runs at most once and the request ends in an honest final state in
Slack: "outcome unknown" when nobody can know, "succeeded" when someone does."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import RunnerFactory
from tests.e2e.conftest import HOST, message_text
from tests.e2e.test_changes import button, click, request_posted, wait_until
from tests.faults.conftest import PYROSCOPE_PASSWORD
from tests.rig.fault_figures import Figures
from tests.rig.podman_rig import IMAGE, PodmanRig
from tests.rig.processes import BotProcess, RunnerProcess
from tests.rig.redis_rig import PrivateRedis
from tests.rig.slack_requests import OPERATOR, post_command
from tests.rig.slack_standin import Call, SlackStandIn

TARGET = "ai-yolo26"
FINAL = (":grey_question: outcome unknown", "succeeded", "failed")
# The bots' executor lease in the bot-kill test: short, so the reaping comes 55 s sooner than with
# the default 60 s; still four renewals' worth for a live executor.
LEASE = "5"


class Sluggish:
    """``TARGET`` replaced by a container that ignores SIGTERM and counts its starts in a file."""

    def __init__(self, rig: PodmanRig, marks: Path) -> None:
        self.rig, self.marks = rig, marks

    def start(self) -> Sluggish:
        self.rig.podman("rm", "-f", "-t", "0", TARGET)
        self.rig.podman(
            "run", "-d", "--name", TARGET, "--label", "pyroscope.profile=true",
            "--label", f"pyroscope.service={TARGET}", "-v", f"{self.marks}:/marks", IMAGE, "/bin/sh", "-c",
            "echo start >> /marks/starts; trap '' TERM; while true; do sleep 1; done",
        )  # fmt: skip
        return self

    def starts(self) -> int:
        path = self.marks / "starts"
        return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture
def sluggish(pyroscope: PodmanRig, tmp_path: Path) -> Iterator[Sluggish]:
    target = Sluggish(pyroscope, tmp_path).start()
    until(lambda: target.starts() == 1, 10, f"{TARGET} started")
    yield target
    pyroscope.podman("rm", "-f", "-t", "0", TARGET)
    pyroscope.compose("up", "-d", TARGET)  # the stack's own container back


def runner_settings(rig: PodmanRig) -> dict[str, str]:
    """The rig's runner settings, its Pyroscope URL carrying credentials that must never reach Slack."""
    return {**rig.runner_env(), "PYROSCOPE_URL": f"http://profbot:{PYROSCOPE_PASSWORD}@127.0.0.1:{rig.pyroscope_port}"}


def confirmed_change(bot: BotProcess, slack: SlackStandIn) -> tuple[str, Call]:
    """Request a restart of TARGET and confirm it; the request's id and its posted message."""
    post_command(bot.url, f"restart {TARGET}", response_url=slack.response_url())
    request = request_posted(slack)
    confirm = button(request.body, "change:confirm")
    assert click(bot, slack, confirm, user=OPERATOR, ts=request.answer["ts"], name="confirm").status_code == 200
    return confirm["value"], request


def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout}s"
        time.sleep(0.02)


def ended(slack: SlackStandIn, request: Call, timeout: float) -> str:
    """The request's message once it shows a final state."""
    update = wait_until(
        slack, "chat.update",
        lambda c: c.body.get("ts") == request.answer["ts"] and any(f in message_text(c.body) for f in FINAL), timeout,
    )  # fmt: skip
    return message_text(update.body)


def events(redis_url: str, prefix: str, request_id: str) -> list[str]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    entries: list = client.xrange(f"{prefix}:audit")  # type: ignore[assignment]
    return [fields["event"] for _, fields in entries if fields.get("request_id") == request_id]


def ran_at_most_once(target: Sluggish, figures: Figures, settle: float = 12) -> int:
    """How many times the change ran, after long enough for a second run to have shown."""
    time.sleep(settle)  # a second restart would wait out the 10 s stop timeout too
    runs = target.starts() - 1
    figures.duplicate_executions += max(0, runs - 1)
    assert runs <= 1, f"the restart ran {runs} times"
    return runs


def test_runner_killed_mid_step_is_outcome_unknown_and_not_run_again(
    bot: BotProcess, start_runner: RunnerFactory, sluggish: Sluggish, pyroscope: PodmanRig, slack: SlackStandIn,
    redis_url: str, prefix: str, figures: Figures,
) -> None:  # fmt: skip
    runner = start_runner(**runner_settings(pyroscope))
    request_id, request = confirmed_change(bot, slack)
    until(lambda: "job_approved" in runner.log(), 30, "the runner took the step")
    time.sleep(1)  # podman is waiting out the container's stop timeout
    runner.stop(signal.SIGKILL)
    start_runner(**runner_settings(pyroscope))  # the same host comes back and finds the step it had taken

    text = ended(slack, request, 60)
    assert ":grey_question: outcome unknown" in text, text
    assert "stopped while running it; outcome unknown, not re-run" in text
    ran_at_most_once(sluggish, figures)
    assert events(redis_url, prefix, request_id).count("executing") == 1
    assert "unknown" in events(redis_url, prefix, request_id)

    # What the runners and Pyroscope's health show goes through the redaction too.
    post_command(bot.url, "runners", response_url=slack.response_url("runners"))
    post_command(bot.url, f"health {HOST}", response_url=slack.response_url("health"))
    wait_until(slack, "response_url", lambda c: c.name == "runners" and f"*{HOST}*" in message_text(c.body), 30)
    wait_until(slack, "chat.postMessage", lambda c: "Pyroscope" in message_text(c.body) and "health" in
               message_text(c.body).lower(), 30)  # fmt: skip


def test_bot_killed_after_a_confirmation_is_reaped_to_outcome_unknown_and_never_runs_twice(
    bot_with: Callable[..., BotProcess], start_runner: RunnerFactory, sluggish: Sluggish, pyroscope: PodmanRig,
    slack: SlackStandIn, redis_url: str, prefix: str, figures: Figures,
) -> None:  # fmt: skip
    start_runner(**runner_settings(pyroscope))
    doomed = bot_with(PROFBOT_EXECUTOR_LEASE_SECONDS=LEASE)
    request_id, request = confirmed_change(doomed, slack)
    state = redis.Redis.from_url(redis_url, decode_responses=True)
    until(lambda: state.hget(f"{prefix}:change:{request_id}", "state") == "running", 10, "the request running")
    doomed.stop(signal.SIGKILL)  # right after the confirmation moved it: its executor dies with it
    # The move and its audit event are one write: however soon the kill, the confirmation is audited.
    assert events(redis_url, prefix, request_id).count("confirmed") == 1
    replacement = bot_with(PROFBOT_EXECUTOR_LEASE_SECONDS=LEASE)

    # Its executor's lease lapses (it covers the step it sent: the restart's 70 s budget, plus LEASE);
    # the new bot's sweeper reaps it. The runner may have run the step meanwhile, but nobody is left
    # to hear it: "outcome unknown", in place and in its thread.
    text = ended(slack, request, 200)
    assert ":grey_question: outcome unknown" in text, text
    assert "no profbot process has been running it" in text
    thread = request.body.get("thread_ts") or request.answer["ts"]
    wait_until(slack, "chat.postMessage", lambda c: c.body.get("thread_ts") == thread and "nobody can say how it "
               "ended" in message_text(c.body), 10)  # fmt: skip
    assert "unknown" in events(redis_url, prefix, request_id)

    # A late click on the old message runs nothing.
    click(replacement, slack, button(request.body, "change:confirm"), user=OPERATOR, ts=request.answer["ts"],
          name="late")  # fmt: skip
    assert "is already" in slack.said("late")
    ran_at_most_once(sluggish, figures, settle=2)
    assert events(redis_url, prefix, request_id).count("confirmed") == 1


def test_redis_restarted_mid_change_runs_it_at_most_once_and_reports_its_outcome(
    bot_with: Callable[..., BotProcess], sluggish: Sluggish, pyroscope: PodmanRig, slack: SlackStandIn, prefix: str,
    figures: Figures,
) -> None:  # fmt: skip
    private = PrivateRedis(appendonly=True).start()
    runner = None
    try:
        bot = bot_with(redis_url=private.url)
        runner = RunnerProcess(redis_url=private.url, prefix=prefix, host_id=HOST,
                               settings=runner_settings(pyroscope)).start()  # fmt: skip
        request_id, request = confirmed_change(bot, slack)
        until(lambda: "job_approved" in runner.log(), 30, "the runner took the step")
        private.stop()  # SIGKILL, mid-step: what it acknowledged is in its AOF
        time.sleep(2)
        private.start()

        text = ended(slack, request, 120)
        assert "succeeded" in text or ":grey_question: outcome unknown" in text, text
        runs = ran_at_most_once(sluggish, figures, settle=2)
        if "succeeded" in text:
            assert runs == 1
        assert events(private.url, prefix, request_id).count("executing") == 1
    finally:
        if runner is not None:
            runner.stop()
            print(f"---- profbot runner log ----\n{runner.log()}")
        private.close()
