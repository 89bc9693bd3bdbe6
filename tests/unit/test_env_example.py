"""deploy/profbot.env.example, the one list of settings people copy: every setting profbot reads is
in it, each with a line saying what it is."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic_settings import BaseSettings

from profbot import settings

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "profbot.env.example"
SETTING_LINE = re.compile(r"^#?\s*(?P<name>[A-Z][A-Z0-9_]*)=")


def every_setting() -> set[str]:
    """The environment variables of every settings class in profbot.settings (each field's alias)."""
    classes = [
        value
        for value in vars(settings).values()
        if isinstance(value, type) and issubclass(value, BaseSettings) and value is not BaseSettings
    ]
    assert len(classes) >= 6  # CommonSettings, BotSettings, ShellSettings, ServeSettings, RunnerSettings, SlackPresence
    return {field.alias or name.upper() for cls in classes for name, field in cls.model_fields.items()}


def documented() -> dict[str, str]:
    """Each setting in the example, with the prose comment on the line above it ('' if none)."""
    lines = EXAMPLE.read_text().splitlines()
    found: dict[str, str] = {}
    for i, line in enumerate(lines):
        match = SETTING_LINE.match(line)
        if match is None:
            continue
        above = lines[i - 1] if i else ""
        prose = above.startswith("#") and SETTING_LINE.match(above) is None and above.lstrip("# ").strip() != ""
        found[match["name"]] = above if prose else ""
    return found


def test_every_setting_is_in_the_example_with_a_comment() -> None:
    names = every_setting()
    assert {"PROFBOT_COMPOSE_FILE", "PROFBOT_PYROSCOPE_CONFIG", "GRAFANA_TOKEN", "SLACK_BOT_TOKEN"} <= names
    example = documented()
    missing = sorted(names - example.keys())
    assert not missing, f"settings missing from deploy/profbot.env.example: {missing}"
    uncommented = sorted(name for name in names if not example[name])
    assert not uncommented, f"settings without a comment line above them in the example: {uncommented}"


def test_the_settings_being_added_for_issue_11_are_listed() -> None:
    # The two settings of the log format and the runner's /metrics, named so the example keeps them.
    example = documented()
    assert example.get("PROFBOT_LOG_FORMAT") and example.get("PROFBOT_RUNNER_METRICS_LISTEN")
