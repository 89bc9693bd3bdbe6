"""Settings a new user writes, and the Slack manifests they create the app from."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from bot.slack.doctor import REQUIRED_SCOPES
from profbot.errors import ConfigError
from profbot.settings import ServeSettings, ShellSettings, front_end, load

REPO = Path(__file__).resolve().parents[2]
SLACK = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "PROFBOT_OPERATORS", "REDIS_URL")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """The process environment as a test sets it (settings are read from it), in a folder without .env."""
    for name in SLACK:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


@pytest.mark.parametrize("manifest", ["slack-app-manifest.yml", "slack-app-manifest-http.yml"])
def test_the_manifests_ask_for_the_scopes_doctor_checks(manifest: str) -> None:
    data = YAML(typ="safe").load((REPO / "deploy" / manifest).read_text())
    assert tuple(data["oauth_config"]["scopes"]["bot"]) == REQUIRED_SCOPES


def test_the_socket_mode_manifest_needs_no_url() -> None:
    data = YAML(typ="safe").load((REPO / "deploy" / "slack-app-manifest.yml").read_text())
    assert data["settings"]["socket_mode_enabled"] is True
    assert "url" not in data["features"]["slash_commands"][0]
    assert "request_url" not in data["settings"]["interactivity"]


@pytest.mark.parametrize("manifest", ["slack-app-manifest.yml", "slack-app-manifest-http.yml"])
def test_the_manifests_enable_the_app_home_and_subscribe_to_its_opening(manifest: str) -> None:
    data = YAML(typ="safe").load((REPO / "deploy" / manifest).read_text())
    assert data["features"]["app_home"]["home_tab_enabled"] is True
    events = data["settings"]["event_subscriptions"]
    assert events["bot_events"] == ["app_home_opened"]
    # Over HTTP, events come to the same URL as the command and the clicks; over Socket Mode, to none.
    assert events.get("request_url") == data["settings"]["interactivity"].get("request_url")


def test_socket_mode_needs_no_signing_secret_and_an_app_token_that_is_one(env: pytest.MonkeyPatch) -> None:
    env.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    with pytest.raises(ConfigError, match=r"^SLACK_SIGNING_SECRET is missing$"):
        load(ServeSettings)
    env.setenv("SLACK_APP_TOKEN", "xoxb-2")
    with pytest.raises(ConfigError, match=r"SLACK_APP_TOKEN is invalid .*starts with xapp-"):
        load(ServeSettings)
    env.setenv("SLACK_APP_TOKEN", "xapp-1-A")
    settings = load(ServeSettings)
    assert settings.socket_mode and settings.slack_signing_secret is None and settings.redis_url is None


def test_up_picks_its_front_end_from_what_is_set(env: pytest.MonkeyPatch) -> None:
    assert front_end() == "shell"
    env.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    assert front_end() == "shell"  # a bot token alone cannot serve Slack
    env.setenv("SLACK_SIGNING_SECRET", "s")
    assert front_end() == "http"
    env.setenv("SLACK_APP_TOKEN", "xapp-1")
    assert front_end() == "socket mode"


def test_terminal_users_may_be_operators(env: pytest.MonkeyPatch) -> None:
    env.setenv("PROFBOT_OPERATORS", "U0AB12, shell:alice ,S0GROUP")
    assert load(ShellSettings).operator_ids == {"U0AB12", "shell:alice", "S0GROUP"}
    env.setenv("PROFBOT_OPERATORS", "shell:alice;rm")
    with pytest.raises(ConfigError, match="PROFBOT_OPERATORS is invalid"):
        load(ShellSettings)


@pytest.mark.parametrize(
    ("owner", "mode", "read"),
    [("self", 0o600, True), ("self", 0o664, False), ("self", 0o666, False), ("another account", 0o600, False)],
)
def test_a_dot_env_is_read_only_when_it_is_the_callers_own_and_nobody_else_may_write_it(
    env: pytest.MonkeyPatch, tmp_path: Path, owner: str, mode: int, read: bool
) -> None:
    # A .env in a shared working directory, planted or editable by another account, would set this
    # process's Redis, tokens and roles.
    env.delenv("PROFBOT_REDIS_PREFIX", raising=False)
    planted = tmp_path / ".env"
    planted.write_text("PROFBOT_REDIS_PREFIX=planted\n")
    planted.chmod(mode)
    if owner == "another account":
        if os.getuid() != 0:
            pytest.skip("giving a file to another account takes root")
        os.chown(planted, 65534, 65534)  # nobody
    assert (load(ShellSettings).redis_prefix == "planted") is read
