"""Changes and destroys end to end: signed clicks and modal submissions to a real `profbot serve`,
a real runner on the podman rig, and what the Slack stand-in was asked to show."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import redis

from profbot.bus import JobBus
from profbot.ops.compose import SetServiceImageTag
from profbot.redis_access import connect
from tests.e2e.conftest import ack_text, message_text
from tests.rig.approvals import approved
from tests.rig.podman_rig import PodmanRig
from tests.rig.processes import BotProcess, RunnerProcess
from tests.rig.slack_requests import (
    APPROVER,
    OPERATOR,
    OPERATOR_2,
    STRANGER,
    button_payload,
    interaction_request,
    post_command,
    post_interaction,
    view_submission_payload,
)
from tests.rig.slack_standin import Call, SlackStandIn, block_errors


@pytest.fixture
def stack(pyroscope: PodmanRig) -> Iterator[PodmanRig]:
    yield pyroscope
    pyroscope.reset_stack()


def buttons(body: dict) -> list[dict]:
    blocks = body["blocks"] if isinstance(body["blocks"], list) else json.loads(body["blocks"])
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def button(body: dict, label_or_action: str) -> dict:
    for b in buttons(body):
        if b["action_id"] == label_or_action or b["text"]["text"] == label_or_action:
            return b
    raise AssertionError(f"no button {label_or_action!r} in {[b['text']['text'] for b in buttons(body)]}")


def wait_until(slack: SlackStandIn, method: str, predicate: Callable[[Call], bool], timeout: float = 60) -> Call:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for call in slack.calls_to(method):
            if predicate(call):
                return call
        time.sleep(0.05)
    texts = [message_text(c.body)[:300] for c in slack.calls_to(method)]
    raise AssertionError(f"no {method} call matched within {timeout}s; saw {texts}")


def click(bot: BotProcess, slack: SlackStandIn, b: dict, *, user: str, ts: str, name: str) -> httpx.Response:
    payload = button_payload(b, user=user, response_url=slack.response_url(name), message_ts=ts)
    return post_interaction(bot.url, payload)


def request_posted(slack: SlackStandIn) -> Call:
    return wait_until(slack, "chat.postMessage", lambda c: "request:" in message_text(c.body))


def latest_update(slack: SlackStandIn, containing: str, timeout: float = 90) -> Call:
    return wait_until(slack, "chat.update", lambda c: containing in message_text(c.body), timeout)


def audit_events(redis_url: str, prefix: str) -> list[dict[str, str]]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    entries: Any = client.xrange(f"{prefix}:audit")
    return [fields for _, fields in entries]


def test_a_restart_is_confirmed_by_its_requester_and_runs_once(
    bot: BotProcess, runner: RunnerProcess, stack: PodmanRig, slack: SlackStandIn, redis_url: str, prefix: str
) -> None:
    stack.podman("stop", "-t", "5", "pyroscope")
    post_command(bot.url, "diagnose unavailable", response_url=slack.response_url())
    diagnosis = wait_until(slack, "chat.postMessage", lambda c: "INC-PROF-001" in message_text(c.body), 30)
    click(bot, slack, button(diagnosis.body, "Restart pyroscope (change)"), user=OPERATOR,
          ts=diagnosis.answer["ts"], name="request")  # fmt: skip

    request = request_posted(slack)
    text = message_text(request.body)
    assert request.body["thread_ts"] == diagnosis.answer["ts"]  # in the diagnosis's thread
    assert "podman restart pyroscope" in text and "host `podhost-1`" in text
    assert "container pyroscope (" in text  # the identity the confirmation binds
    assert "Profiling data is lost during the outage" in text  # the runbook's impact
    assert "waiting for the requester's confirmation" in text
    assert block_errors(request.body["blocks"]) == []
    confirm = button(request.body, "change:confirm")

    # Another operator cannot confirm someone else's change.
    click(bot, slack, confirm, user=OPERATOR_2, ts=request.answer["ts"], name="other")
    assert "Only <@U0OPERATOR>" in slack.said("other")
    assert stack.inspect("pyroscope", "{{.State.Status}}") == "exited"

    # A double click plus Slack replaying one signed request: three deliveries, one execution.
    payload = button_payload(confirm, user=OPERATOR, response_url=slack.response_url("confirm"),
                             message_ts=request.answer["ts"])  # fmt: skip
    body, headers = interaction_request(payload)
    with ThreadPoolExecutor(3) as pool:
        sent = [pool.submit(httpx.post, f"{bot.url}/slack/events", content=body, headers=headers, timeout=30)
                for _ in range(2)]  # fmt: skip
        sent.append(pool.submit(click, bot, slack, confirm, user=OPERATOR, ts=request.answer["ts"], name="again"))
        assert [f.result().status_code for f in sent] == [200, 200, 200]

    done = latest_update(slack, "succeeded")
    assert "confirmed by <@U0OPERATOR>" in message_text(done.body)
    assert buttons(done.body) == []  # no buttons once decided
    assert stack.inspect("pyroscope", "{{.State.Status}}") == "running"
    verified = wait_until(
        slack, "chat.postMessage", lambda c: "Verification of `Restart pyroscope`" in message_text(c.body)
    )
    assert "Pyroscope /ready: ready after" in message_text(verified.body)
    assert verified.body["thread_ts"] == diagnosis.answer["ts"]
    told = [c.body.get("text", "") for c in slack.calls_to("response_url")]
    assert sum("is already" in t for t in told) == 2, told  # the two extra deliveries were told

    events = audit_events(redis_url, prefix)
    assert [e["event"] for e in events if e.get("request_id")].count("executing") == 1
    assert {"requested", "confirmed", "executing", "succeeded", "verified"} <= {e["event"] for e in events}

    # The audit, as an operator reads it.
    post_command(bot.url, "audit 20", response_url=slack.response_url("audit"))
    audit = wait_until(slack, "response_url", lambda c: "Audit: the latest" in message_text(c.body))
    shown = message_text(audit.body)
    for event in ("requested", "confirmed", "executing", "succeeded", "verified"):
        assert f"*{event}*" in shown
    assert "INC-PROF-001 restart pyroscope on `podhost-1`" in shown


def test_deleting_the_volume_takes_the_typed_name_and_a_second_approver(
    bot: BotProcess, runner: RunnerProcess, stack: PodmanRig, slack: SlackStandIn
) -> None:
    stack.podman("exec", "pyroscope", "sh", "-c", "echo history > /data/marker")
    created = stack.podman("volume", "inspect", "pyroscope_data", "--format", "{{.CreatedAt}}").stdout.strip()
    post_command(bot.url, "diagnose storage", response_url=slack.response_url())
    diagnosis = wait_until(slack, "chat.postMessage", lambda c: "INC-PROF-004" in message_text(c.body), 30)
    purge = button(diagnosis.body, "Delete volume pyroscope_data (destroy)")
    click(bot, slack, purge, user=APPROVER, ts=diagnosis.answer["ts"], name="approver-purge")
    assert "you are not an operator" in slack.said("approver-purge")  # approvers approve; operators request
    click(bot, slack, purge, user=OPERATOR, ts=diagnosis.answer["ts"], name="purge")

    [opened] = slack.wait_for("views.open", 1, 30)
    assert opened.answer["ok"], opened.answer
    view = opened.body["view"]
    # The modal says what the registry says: the action's label and the runbook's impact.
    asked = json.dumps(view)
    assert "*Delete volume pyroscope_data* on host `podhost-1` (INC-PROF-004)" in asked
    assert "WARNING: deletes all profiling history. Pyroscope stops and starts again empty." in asked
    assert "Type pyroscope_data to confirm" in asked
    assert "*purge*" not in asked and "\\n\\nA second person" not in asked  # no half-filled remediation

    # A wrong name is refused inside the modal, and nothing is requested.
    wrong = post_interaction(
        bot.url, view_submission_payload(view, user=OPERATOR, values={"typed_name": {"value": "pyroscope"}})
    )
    assert wrong.status_code == 200
    assert wrong.json()["response_action"] == "errors"
    assert "type the volume name exactly" in wrong.json()["errors"]["typed_name"]

    right = post_interaction(
        bot.url, view_submission_payload(view, user=OPERATOR, values={"typed_name": {"value": "pyroscope_data"}})
    )
    assert right.status_code == 200 and right.text in ("", "{}")  # the modal closes
    request = request_posted(slack)
    assert request.body["thread_ts"] == diagnosis.answer["ts"]
    text = message_text(request.body)
    assert "Destroy request: Delete volume pyroscope_data" in text
    assert "waiting for a second person's approval" in text
    assert "*Impact:* WARNING: deletes all profiling history. Pyroscope stops and starts again empty." in text
    assert "volume pyroscope_data (created " in text  # the identity the approval binds
    assert "stop pyroscope, remove volume pyroscope_data, start pyroscope" in text
    approve = button(request.body, "change:approve")
    ts = request.answer["ts"]

    click(bot, slack, approve, user=OPERATOR, ts=ts, name="self")  # the requester, though an approver
    click(bot, slack, approve, user=OPERATOR_2, ts=ts, name="operator")  # an operator, not an approver
    assert "needs a *second* person's approval" in slack.said("self")
    assert "Only profbot's approvers" in slack.said("operator")
    assert stack.podman("exec", "pyroscope", "cat", "/data/marker").stdout.strip() == "history"

    click(bot, slack, approve, user=APPROVER, ts=ts, name="approver")  # an approver through the user group
    done = latest_update(slack, "succeeded")
    assert "approved by <@U0APPROVER>" in message_text(done.body)
    assert "removed volume pyroscope_data" in message_text(done.body)
    verified = wait_until(
        slack, "chat.postMessage", lambda c: "Verification of `Delete volume pyroscope_data`" in message_text(c.body)
    )
    assert "ready after" in message_text(verified.body)
    # The volume is really gone: a new, empty one in its place, and Pyroscope answers again.
    assert stack.podman("volume", "inspect", "pyroscope_data", "--format", "{{.CreatedAt}}").stdout.strip() != created
    assert stack.podman("exec", "pyroscope", "cat", "/data/marker", check=False).returncode != 0
    assert stack.inspect("pyroscope", "{{.State.Status}}") == "running"


def test_an_expired_request_cannot_be_confirmed(
    bot_with: Callable[..., BotProcess], runner: RunnerProcess, stack: PodmanRig, slack: SlackStandIn
) -> None:
    impatient_bot = bot_with(PROFBOT_APPROVAL_TTL="2")
    before = stack.inspect("backend", "{{.State.StartedAt}}")
    post_command(impatient_bot.url, "restart backend", response_url=slack.response_url())
    request = request_posted(slack)
    assert "podman restart backend" in message_text(request.body)
    expired = latest_update(slack, "expired: nothing ran", timeout=30)
    assert buttons(expired.body) == []
    click(impatient_bot, slack, button(request.body, "change:confirm"), user=OPERATOR, ts=request.answer["ts"],
          name="late")  # fmt: skip
    assert "is already :alarm_clock: expired" in slack.said("late")
    time.sleep(1)
    assert stack.inspect("backend", "{{.State.StartedAt}}") == before


def test_a_target_recreated_after_the_request_is_refused_and_the_hourly_limit_holds(
    bot_with: Callable[..., BotProcess], runner: RunnerProcess, stack: PodmanRig, slack: SlackStandIn
) -> None:
    impatient_bot = bot_with(PROFBOT_CHANGES_PER_HOUR="1")
    post_command(impatient_bot.url, "restart backend", response_url=slack.response_url())
    request = request_posted(slack)
    stack.compose("up", "-d", "--force-recreate", "backend")  # replaced by someone else meanwhile
    recreated_start = stack.inspect("backend", "{{.State.StartedAt}}")
    click(impatient_bot, slack, button(request.body, "change:confirm"), user=OPERATOR, ts=request.answer["ts"],
          name="confirm")  # fmt: skip
    failed = latest_update(slack, "failed")
    assert "it was replaced since; nothing ran" in message_text(failed.body)
    assert stack.inspect("backend", "{{.State.StartedAt}}") == recreated_start

    # That attempt counted: one change per target and hour, so the next request is refused.
    post_command(impatient_bot.url, "restart backend", response_url=slack.response_url("second"))
    refused = slack.said("second")
    assert "already ran 1 times on `backend`" in refused and "escalate" in refused


def test_a_non_operator_may_read_health_but_nothing_else(
    bot: BotProcess, runner: RunnerProcess, slack: SlackStandIn, redis_url: str, prefix: str
) -> None:
    health = post_command(bot.url, "health", response_url=slack.response_url(), user=STRANGER)
    assert "not an operator" not in ack_text(health)
    for text in ("diagnose unavailable", "restart pyroscope", "audit"):
        refused = post_command(bot.url, text, response_url=slack.response_url(), user=STRANGER)
        assert refused.status_code == 200
        assert "you are not an operator of profbot" in ack_text(refused), text
    forged = {"action_id": "change:confirm", "value": "0" * 32, "text": {"text": "x"}}
    click(bot, slack, forged, user=STRANGER, ts="1.1", name="stranger")
    assert "you are not an operator" in slack.said("stranger")
    assert [e["event"] for e in audit_events(redis_url, prefix)].count("refused") == 4
    assert not slack.calls_to("chat.postMessage") or all(
        "request:" not in message_text(c.body) for c in slack.calls_to("chat.postMessage")
    )


def test_the_audit_reaches_its_channel_in_order_after_slack_comes_back(
    bot_with: Callable[..., BotProcess], slack: SlackStandIn
) -> None:
    slack.channels.add("C0AUDIT")
    bot = bot_with(PROFBOT_AUDIT_CHANNEL="C0AUDIT")
    time.sleep(0.5)  # the mirror's consumer group exists
    slack.fail_next("chat.postMessage", status=503, times=7)  # Slack down for a while
    for text in ("diagnose unavailable", "runners", "audit"):
        post_command(bot.url, text, response_url=slack.response_url(), user=STRANGER)
    deadline = time.monotonic() + 60
    posted: list[Call] = []
    while time.monotonic() < deadline and len(posted) < 3:
        time.sleep(0.1)
        posted = [c for c in slack.calls_to("chat.postMessage") if c.answer.get("ok")]
    texts = [message_text(c.body) for c in posted]
    assert [c.body.get("channel") for c in posted] == ["C0AUDIT"] * 3
    assert ["`diagnose`" in texts[0], "`runners`" in texts[1], "`audit`" in texts[2]] == [True] * 3, texts
    assert all("*refused* by <@U0STRANGER>" in t for t in texts), texts
    assert len([c for c in slack.calls_to("chat.postMessage") if c.status == 503]) == 7  # it kept trying


def pin_pyroscope(redis_url: str, prefix: str, host: str, tag: str) -> None:
    """profbot's override pins pyroscope to ``tag``, as an earlier approved upgrade step left it."""

    async def pin() -> None:
        client = connect(redis_url)
        bus = JobBus(client, prefix)
        bus.waiter.start()
        try:
            step = SetServiceImageTag(service="pyroscope", tag=tag)
            await bus.call(host, step, timeout=60, approval_id=await approved(bus, host, step))
        finally:
            await bus.waiter.stop()
            await client.aclose()

    asyncio.run(pin())


def test_an_upgrade_stops_at_the_step_that_fails_and_a_rollback_shows_each_step(
    bot: BotProcess, runner: RunnerProcess, stack: PodmanRig, slack: SlackStandIn, redis_url: str, prefix: str
) -> None:
    # No registry is reachable here: the upgrade's pull fails, and nothing after it runs.
    post_command(bot.url, "upgrade 1.19.0", response_url=slack.response_url())
    preflight = wait_until(slack, "chat.postMessage", lambda c: "MAINT-PROF-001" in message_text(c.body), 30)
    click(bot, slack, button(preflight.body, "Upgrade to 1.19.0 (change)"), user=OPERATOR,
          ts=preflight.answer["ts"], name="upgrade")  # fmt: skip
    request = request_posted(slack)
    text = message_text(request.body)
    steps = [
        "1. pull grafana/pyroscope:1.19.0",
        "2. stop pyroscope",
        "3. back up the config",
        "4. pin 1.19.0 in profbot's compose override",
        "5. podman-compose up -d --force-recreate pyroscope",
    ]
    assert [step in text for step in steps] == [True] * 5, text
    click(bot, slack, button(request.body, "change:confirm"), user=OPERATOR, ts=request.answer["ts"], name="go")
    failed = latest_update(slack, "failed")
    shown = message_text(failed.body)
    assert ":x: `image.pull`" in shown and "step 1 (image.pull)" in shown
    assert ":white_small_square: `container.stop`" in shown  # not run
    assert stack.inspect("pyroscope", "{{.State.Status}}") == "running"

    # A rollback from a pin profbot left: stop, drop the pin, recreate, each shown as it finishes.
    pin_pyroscope(redis_url, prefix, runner.host_id, "1.19.0")
    slack.clear()
    post_command(bot.url, "rollback", response_url=slack.response_url())
    preflight = wait_until(slack, "chat.postMessage", lambda c: "MAINT-PROF-001-ROLLBACK" in message_text(c.body), 30)
    rollback = next(b for b in buttons(preflight.body) if b["action_id"].endswith(":rollback"))
    click(bot, slack, rollback, user=OPERATOR, ts=preflight.answer["ts"], name="rollback")
    request = request_posted(slack)
    click(bot, slack, button(request.body, "change:confirm"), user=OPERATOR, ts=request.answer["ts"], name="go2")
    done = latest_update(slack, "succeeded", timeout=120)
    updates = [message_text(c.body) for c in slack.calls_to("chat.update")]
    # Progress was shown step by step: after the first step, before the last.
    assert any(":white_check_mark: `container.stop`" in u and ":gear: `compose.clear_image`" in u for u in updates)
    assert ":white_check_mark: `compose.recreate`" in message_text(done.body)
    verified = wait_until(
        slack,
        "chat.postMessage",
        lambda c: "Verification of `Roll back to " in message_text(c.body),
    )
    assert "ready after" in message_text(verified.body)
    assert "docker.io/grafana/pyroscope:1.19.0" not in stack.inspect("pyroscope", "{{.ImageName}}")


def test_two_bot_replicas_given_the_same_click_run_the_change_once(
    bot: BotProcess, bot_with: Callable[..., BotProcess], runner: RunnerProcess, stack: PodmanRig,
    slack: SlackStandIn, redis_url: str, prefix: str,
) -> None:  # fmt: skip
    replica = bot_with()  # a second `profbot serve` on the same Redis
    post_command(bot.url, "restart backend", response_url=slack.response_url())
    request = request_posted(slack)
    payload = button_payload(button(request.body, "change:confirm"), user=OPERATOR,
                             response_url=slack.response_url("confirm"), message_ts=request.answer["ts"])  # fmt: skip
    body, headers = interaction_request(payload)
    with ThreadPoolExecutor(2) as pool:
        sent = [pool.submit(httpx.post, f"{b.url}/slack/events", content=body, headers=headers, timeout=30)
                for b in (bot, replica)]  # fmt: skip
        assert [f.result().status_code for f in sent] == [200, 200]
    latest_update(slack, "succeeded")
    events = [e["event"] for e in audit_events(redis_url, prefix) if e.get("request_id")]
    assert events.count("confirmed") == 1 and events.count("executing") == 1, events
    assert sum("is already" in c.body.get("text", "") for c in slack.calls_to("response_url")) == 1


def test_a_second_change_on_the_same_container_is_refused_naming_who_holds_it(
    bot: BotProcess, runner: RunnerProcess, pyroscope: PodmanRig, slack: SlackStandIn, redis_url: str, prefix: str
) -> None:
    post_command(bot.url, "diagnose unavailable", response_url=slack.response_url())
    diagnosis = wait_until(slack, "chat.postMessage", lambda c: "INC-PROF-001" in message_text(c.body), 30)
    ts = diagnosis.answer["ts"]
    click(bot, slack, button(diagnosis.body, "Restart pyroscope (change)"), user=OPERATOR, ts=ts, name="first")
    request_posted(slack)

    click(bot, slack, button(diagnosis.body, "Recreate pyroscope (change)"), user=OPERATOR_2, ts=ts, name="second")

    refused = slack.said("second")
    assert refused.startswith(":no_entry: `Recreate pyroscope` was not filed: `pyroscope` on host `podhost-1` is held")
    assert "by `Restart pyroscope`" in refused and "requested by <@U0OPERATOR>, since " in refused
    assert "waiting for the requester's confirmation" in refused and "Nothing new was filed." in refused
    requests = [c for c in slack.calls_to("chat.postMessage") if "request:" in message_text(c.body)]
    assert len(requests) == 1  # the first one only
    refusals = [e for e in audit_events(redis_url, prefix) if e["event"] == "refused"]
    assert [e["actor"] for e in refusals] == [OPERATOR_2]


def test_a_retention_request_names_the_config_file_it_edits(
    bot: BotProcess, runner: RunnerProcess, pyroscope: PodmanRig, slack: SlackStandIn
) -> None:
    post_command(bot.url, "diagnose storage", response_url=slack.response_url())
    diagnosis = wait_until(slack, "chat.postMessage", lambda c: "INC-PROF-004" in message_text(c.body), 30)
    click(bot, slack, button(diagnosis.body, "Set retention to 7d (change)"), user=OPERATOR,
          ts=diagnosis.answer["ts"], name="retention")  # fmt: skip

    text = message_text(request_posted(slack).body)
    # The file the runner read is the one the approval binds, and the only one the runner edits.
    assert f"back up {pyroscope.pyroscope_config}, set retention to 7d in it, recreate pyroscope" in text
    assert "container pyroscope (" in text
