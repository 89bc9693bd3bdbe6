"""`profbot doctor` against the Slack stand-in, the shared Redis and the podman rig: a healthy setup
passes; each thing a new user gets wrong fails on its own line with its fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.rig.podman_rig import PodmanRig
from tests.rig.processes import base_env, run_profbot
from tests.rig.slack_standin import APP_TOKEN, DEFAULT_TOKEN, SlackStandIn

ALERTS, AUDIT = "C0ALERTS", "C0AUDIT"


@pytest.fixture
def doctor_env(pyroscope: PodmanRig, slack: SlackStandIn, redis_url: str, tmp_path: Path) -> dict[str, str]:
    slack.channels |= {ALERTS, AUDIT}
    slack.socket_url = "ws://127.0.0.1:9/link/"  # what apps.connections.open hands out; doctor does not connect
    return base_env(
        **pyroscope.runner_env(), REDIS_URL=redis_url, PROFBOT_STATE_DIR=str(tmp_path / "state"),
        SLACK_BOT_TOKEN=DEFAULT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN, SLACK_API_URL=slack.api_url,
        PROFBOT_ALERT_TOKEN="a-long-alert-token-0123", PROFBOT_ALERT_CHANNEL=ALERTS, PROFBOT_AUDIT_CHANNEL=AUDIT,
    )  # fmt: skip


def lines(output: str) -> dict[str, str]:
    """Each check's line (with its fix line, if any), by check name."""
    found: dict[str, str] = {}
    last = ""
    for line in output.splitlines():
        if line.startswith(("ok  ", "FAIL")):
            last = line[4:].strip().split(":")[0]
            found[last] = line
        elif line.startswith("      fix: ") and last:
            found[last] += "\n" + line
    return found


def test_a_healthy_setup_passes_every_check(doctor_env: dict[str, str]) -> None:
    done = run_profbot("doctor", env=doctor_env)
    checks = lines(done.stdout)
    assert done.returncode == 0, done.stdout
    assert all(line.startswith("ok") for line in checks.values()), done.stdout
    assert set(checks) >= {"settings (runner)", "settings (serve)", "Redis", "podman socket", "Pyroscope",
                           "Slack bot token", "Slack scopes", "Slack Socket Mode", f"Slack alert channel {ALERTS}",
                           f"Slack audit channel {AUDIT}"}  # fmt: skip


def test_what_is_wrong_fails_with_its_fix(doctor_env: dict[str, str], slack: SlackStandIn) -> None:
    slack.scopes.remove("usergroups:read")
    slack.channels.discard(ALERTS)
    slack.not_member_of.add(ALERTS)
    env = {**doctor_env, "CONTAINER_HOST": "unix:///run/podman/not-running.sock"}
    done = run_profbot("doctor", env=env)
    checks = lines(done.stdout)
    assert done.returncode == 1
    assert checks["Slack scopes"].startswith("FAIL  Slack scopes: missing usergroups:read")
    assert "reinstall the app" in checks["Slack scopes"]
    assert (
        checks[f"Slack alert channel {ALERTS}"].startswith("FAIL")
        and "posts are refused: not_in_channel" in checks[f"Slack alert channel {ALERTS}"]
        and f"fix: in #chan-{ALERTS.lower()}: /invite @profbot" in checks[f"Slack alert channel {ALERTS}"]
    )
    assert checks["podman socket"].startswith("FAIL  podman socket: cannot reach podman")
    assert "fix: systemctl enable --now podman.socket" in checks["podman socket"]
    assert checks["Redis"].startswith("ok") and checks["Slack bot token"].startswith("ok")
    assert done.stdout.rstrip().endswith("checks pass: fix the ones above")


def test_a_token_that_is_not_an_app_token_stops_serve_naming_it(doctor_env: dict[str, str]) -> None:
    env = {**doctor_env, "SLACK_APP_TOKEN": DEFAULT_TOKEN}  # the bot token where the app-level one belongs
    done = run_profbot("serve", env=env, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("profbot: configuration error: SLACK_APP_TOKEN is invalid")
