"""`/prof diagnose` end to end: a signed slash command, a real runner on the podman rig, the
findings message with its buttons in the channel, the evidence in the thread, and a click."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest

from tests.conftest import RunnerFactory
from tests.e2e.conftest import ack_text, message_text
from tests.e2e.test_pictures import STACKS, push_from_backend
from tests.rig.podman_rig import PodmanRig
from tests.rig.processes import BotProcess, RunnerProcess
from tests.rig.slack_requests import OPERATOR, post_command, sign
from tests.rig.slack_standin import DEFAULT_CHANNEL, SlackStandIn, block_errors


@pytest.fixture
def stack(pyroscope: PodmanRig) -> Iterator[PodmanRig]:
    yield pyroscope
    pyroscope.reset_stack()


def click(
    bot: BotProcess, slack: SlackStandIn, button: dict, message_ts: str, user: str = OPERATOR, name: str = "click"
) -> httpx.Response:
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "team": {"id": "T0PROFBOT"},
        "channel": {"id": DEFAULT_CHANNEL},
        "message": {"ts": message_ts},
        "response_url": slack.response_url(name),
        "trigger_id": "1.2.3",
        "actions": [{"type": "button", "action_id": button["action_id"], "value": button["value"],
                     "block_id": "b", "action_ts": str(time.time())}],
    }  # fmt: skip
    body = urlencode({"payload": json.dumps(payload)})
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
    return httpx.post(f"{bot.url}/slack/events", content=body, headers=headers, timeout=10)


def buttons(post_body: dict) -> list[dict]:
    blocks = post_body["blocks"]
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_diagnose_unavailable_posts_findings_buttons_and_evidence(
    bot: BotProcess, runner: RunnerProcess, stack: PodmanRig, slack: SlackStandIn
) -> None:
    stack.podman("kill", "--signal", "KILL", "pyroscope")
    stack.podman("wait", "pyroscope", check=False)
    response = post_command(bot.url, "diagnose unavailable", response_url=slack.response_url())
    assert response.status_code == 200
    assert "Running INC-PROF-001" in ack_text(response)
    main, thread = slack.wait_for("chat.postMessage", count=2, timeout=30)
    assert main.answer["ok"] and thread.answer["ok"], (main.answer, thread.answer)
    text = message_text(main.body)
    assert "INC-PROF-001: Pyroscope server unavailable" in text
    assert "Pyroscope is down: exited with code 137 (killed: likely out of memory)" in text
    assert "backend cannot reach pyroscope:4040" in text
    labels = [b["text"]["text"] for b in buttons(main.body)]
    assert labels == ["Restart pyroscope (change)", "Recreate pyroscope (change)", "Verify /ready (read)"]
    assert block_errors(main.body["blocks"]) == []
    # The 100 log lines went to the thread, not into the message.
    assert thread.body["thread_ts"] == main.answer["ts"]
    assert "pyroscope: last 100 log lines" in message_text(thread.body)


def test_a_change_button_asks_for_confirmation_and_runs_nothing_yet(
    bot: BotProcess, runner: RunnerProcess, stack: PodmanRig, slack: SlackStandIn
) -> None:
    stack.podman("stop", "-t", "5", "pyroscope")
    post_command(bot.url, "diagnose INC-PROF-001", response_url=slack.response_url())
    main = slack.wait_for("chat.postMessage", count=1, timeout=30)[0]
    restart = buttons(main.body)[0]
    assert click(bot, slack, restart, main.answer["ts"]).status_code == 200
    assert "confirm it in the thread before" in slack.said("click")
    click(bot, slack, restart, main.answer["ts"], name="again")  # a double click files no second request
    assert "is already requested" in slack.said("again")
    posted = [message_text(c.body) for c in slack.wait_for("chat.postMessage", count=3, timeout=15)]
    assert any("Change request: Restart pyroscope" in text for text in posted), posted
    time.sleep(1)
    assert stack.inspect("pyroscope", "{{.State.Status}}") == "exited"  # still stopped: nobody confirmed


def test_a_forged_button_value_is_refused(bot: BotProcess, runner: RunnerProcess, slack: SlackStandIn) -> None:
    # A button carries an offer's id only: a remediation spelled out, or an id profbot never
    # offered, selects nothing.
    remediation = {"p": "INC-PROF-004", "a": "rm -rf /", "t": "pyroscope_data", "h": "x"}
    spelled_out = {"action_id": "remediate:INC-PROF-004:purge", "value": json.dumps(remediation)}
    never_offered = {"action_id": "remediate:INC-PROF-004:purge", "value": "0123456789abcdef" * 2}
    assert click(bot, slack, spelled_out, "1.1", name="spelled").status_code == 200
    assert click(bot, slack, never_offered, "1.1", name="unknown").status_code == 200
    for name in ("spelled", "unknown"):
        assert "no longer matches a runbook remediation" in slack.said(name)
    assert slack.calls_to("views.open") == [] and slack.calls_to("chat.postMessage") == []


def test_diagnose_bad_input_is_refused(bot: BotProcess, slack: SlackStandIn) -> None:
    response = post_command(bot.url, "diagnose no-data a;b", response_url=slack.response_url())
    assert "is not a container name" in ack_text(response)
    response = post_command(bot.url, "diagnose INC-PROF-009", response_url=slack.response_url())
    assert "No runbook procedure `INC-PROF-009`" in ack_text(response)


def test_diagnose_storage_and_freshness_and_runbook(
    bot: BotProcess, start_runner: RunnerFactory, slack: SlackStandIn
) -> None:
    start_runner()
    post_command(bot.url, "diagnose storage", response_url=slack.response_url())
    [storage] = slack.wait_for("chat.postMessage", timeout=30)
    text = message_text(storage.body)
    assert "INC-PROF-004" in text
    assert "Pyroscope v1 refuses at start-up" in text
    assert [b["style"] for b in buttons(storage.body)] == ["primary", "danger"]
    slack.clear()
    post_command(bot.url, "freshness", response_url=slack.response_url())
    [fresh] = slack.wait_for("chat.postMessage", timeout=30)
    assert "INC-PROF-003: Profile freshness, every host" in message_text(fresh.body)
    assert "v0 syntax" in message_text(fresh.body)
    listing = ack_text(post_command(bot.url, "runbook", response_url=slack.response_url()))
    for pid in ("INC-PROF-001", "INC-PROF-002", "INC-PROF-003", "INC-PROF-004"):
        assert pid in listing
    entry = ack_text(post_command(bot.url, "runbook storage", response_url=slack.response_url()))
    assert "Diagnosis (concurrently)" in entry


def test_onboard_and_baselines_commands(bot: BotProcess, runner: RunnerProcess, slack: SlackStandIn) -> None:
    post_command(bot.url, "onboard ai-yolo26", response_url=slack.response_url())
    [onboard] = slack.wait_for("chat.postMessage", timeout=30)
    assert "ai-yolo26 is set up for profiling" in message_text(onboard.body)
    slack.clear()
    post_command(bot.url, "baselines", response_url=slack.response_url())
    [baselines] = slack.wait_for("chat.postMessage", timeout=30)
    text = message_text(baselines.body)
    assert "BASELINES: Performance baselines" in text
    assert "*profiler overhead ai-yolo26*: measured" in text
    assert block_errors(baselines.body["blocks"]) == []


def test_datasource_command_offers_provisioning(bot: BotProcess, runner: RunnerProcess, slack: SlackStandIn) -> None:
    post_command(bot.url, "datasource", response_url=slack.response_url())
    [post] = slack.wait_for("chat.postMessage", timeout=30)
    assert "MAINT-PROF-003: Grafana datasource" in message_text(post.body)
    assert [b["text"]["text"] for b in buttons(post.body)] == ["Provision the Pyroscope datasource (change)"]


def test_upgrade_preflight_and_bad_versions(bot: BotProcess, runner: RunnerProcess, slack: SlackStandIn) -> None:
    assert "needs an argument: `upgrade VERSION`" in ack_text(
        post_command(bot.url, "upgrade", response_url=slack.response_url())
    )
    assert "is not a container name" in ack_text(
        post_command(bot.url, "upgrade 1.19;reboot", response_url=slack.response_url())
    )
    post_command(bot.url, "upgrade 1.19.0", response_url=slack.response_url())
    [post] = slack.wait_for("chat.postMessage", timeout=30)
    assert "MAINT-PROF-001: Update Pyroscope to 1.19.0" in message_text(post.body)
    assert [b["text"]["text"] for b in buttons(post.body)] == ["Upgrade to 1.19.0 (change)"]


# ---------------------------------------------------------------------------- across the fleet


def backend_sends_a_profile(stack: PodmanRig) -> None:
    """The backend stand-in pushes a profile (as its SDK would); wait until Pyroscope lists it."""
    push_from_backend(stack, STACKS)
    url = f"http://127.0.0.1:{stack.pyroscope_port}/querier.v1.QuerierService/LabelValues"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        now = int(time.time() * 1000)
        names = httpx.post(url, json={"name": "service_name", "start": now - 60_000, "end": now}).json()["names"]
        if "backend" in names:
            return
        time.sleep(0.2)
    raise AssertionError("Pyroscope never listed backend")


def posted_with(slack: SlackStandIn, needle: str, timeout: float = 60.0) -> dict:
    """The body of the first message posted whose text has ``needle``, once it arrives."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for call in slack.calls_to("chat.postMessage"):
            if needle in message_text(call.body):
                return call.body
        time.sleep(0.1)
    seen = [message_text(c.body)[:200] for c in slack.calls_to("chat.postMessage")]
    raise AssertionError(f"no message with {needle!r} within {timeout}s; posted: {seen}")


def test_freshness_flags_the_expected_service_without_data_and_its_button_diagnoses_it(
    bot: BotProcess, runner: RunnerProcess, stack: PodmanRig, slack: SlackStandIn
) -> None:
    backend_sends_a_profile(stack)  # backend (SDK) sends a profile; ai-yolo26 (py-spy) never does
    post_command(bot.url, "freshness", response_url=slack.response_url())
    fresh = posted_with(slack, "Profile freshness, every host")
    text = message_text(fresh)
    assert "1 of 2 services sent no profiles in the last 5 min" in text
    assert "*ai-yolo26*: expected (container ai-yolo26 on podhost-1 (running)), no profiles in the last 5 min" in text
    assert "1 service sent profiles in the last 5 min: backend" in text
    assert block_errors(fresh["blocks"]) == []
    [diagnose] = buttons(fresh)
    assert diagnose["text"]["text"] == "Diagnose ai-yolo26 (read)"
    slack.clear()

    assert click(bot, slack, diagnose, "1.1").status_code == 200

    report = message_text(posted_with(slack, "INC-PROF-003: No profiles from ai-yolo26"))
    assert "*recent profiles*: none in the last 5 min (Pyroscope v1)" in report


def test_diagnose_no_data_without_a_service_diagnoses_each_expected_service_without_data(
    bot: BotProcess, runner: RunnerProcess, stack: PodmanRig, slack: SlackStandIn
) -> None:
    backend_sends_a_profile(stack)
    response = post_command(bot.url, "diagnose no-data", response_url=slack.response_url())
    assert "for every profiled service on every host" in ack_text(response)
    assert "1 of 2 services sent no profiles" in message_text(posted_with(slack, "Profile freshness, every host"))
    posted_with(slack, "INC-PROF-003: No profiles from ai-yolo26")
    time.sleep(1)  # nothing else is diagnosed: backend has data
    assert not any("No profiles from backend" in message_text(c.body) for c in slack.calls_to("chat.postMessage"))


def profiler_burns_cpu(stack: PodmanRig, container: str) -> None:
    """Make the py-spy stand-in in ``container`` burn a core, and wait until ps says so (its %CPU
    is a lifetime average: on a busy machine it takes a while to pass the 5 % threshold)."""
    stack.podman("exec", container, "touch", "/tmp/burn")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = stack.podman("top", container, "pcpu,args").stdout.splitlines()[1:]
        if sum(float(r.split()[0]) for r in rows if "py-spy" in r) > 10:
            return
        time.sleep(0.5)
    raise AssertionError(f"py-spy in {container} never burned: {stack.podman('top', container, 'pcpu,args').stdout}")


def test_diagnose_overhead_without_a_service_ranks_every_service_and_offers_disabling_profiling_globally(
    bot: BotProcess, runner: RunnerProcess, stack: PodmanRig, slack: SlackStandIn
) -> None:
    profiler_burns_cpu(stack, "ai-yolo26")
    response = post_command(bot.url, "diagnose overhead", response_url=slack.response_url())
    assert "Running INC-PROF-002" in ack_text(response)
    body = posted_with(slack, "INC-PROF-002: Profiling overhead, every profiled service")
    text = message_text(body)
    assert "1 of 1 py-spy-profiled services over the 5 % alert threshold; worst: ai-yolo26" in text
    ranked = [line for line in text.splitlines() if "on podhost-1*" in line]
    assert ranked[0].startswith(":red_circle: *ai-yolo26 on podhost-1*: py-spy at")
    assert "*backend on podhost-1*: no py-spy process" in text
    # Every py-spy service is over the threshold: the runbook's last resort is offered as a change.
    assert [b["text"]["text"] for b in buttons(body)] == [
        "Set PROFILE_INTERVAL=60 for ai-yolo26 (change)",
        "Disable profiling for ai-yolo26 (change)",
        "Disable profiling everywhere (change)",
    ]
    assert block_errors(body["blocks"]) == []


def test_ui_gives_the_pyroscope_and_grafana_links_without_credentials(
    bot: BotProcess, start_runner: RunnerFactory, slack: SlackStandIn
) -> None:
    start_runner(
        PYROSCOPE_UI_URL="https://ops:hunter2@pyroscope.example.test/", GRAFANA_URL="http://admin:pw@127.0.0.1:3002"
    )
    response = post_command(bot.url, "ui ai-yolo26", response_url=slack.response_url())
    assert response.status_code == 200
    body = posted_with(slack, "Profiles for ai-yolo26")
    urls = [b["url"] for b in buttons(body)]
    assert urls[0].startswith("https://pyroscope.example.test/?query=process_cpu%3Acpu")
    assert "service_name%3D%22ai-yolo26%22" in urls[0]
    assert urls[1].startswith("http://127.0.0.1:3002/explore?orgId=1&left=")
    assert "hunter2" not in json.dumps(body) and "admin:pw" not in json.dumps(body)
    assert block_errors(body["blocks"]) == []
    assert "is not a service name" in ack_text(post_command(bot.url, "ui a;b", response_url=slack.response_url()))
