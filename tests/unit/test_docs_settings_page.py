"""The settings page of the docs (docs/settings.md, its tables rendered by docs/hooks/settings_table.py
when the site is built) names every setting profbot reads, with its default, and fails the build
rather than drift."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
from mkdocs.exceptions import PluginError

from profbot.settings import RunnerSettings, ServeSettings, ShellSettings

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "settings.md"


def hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("settings_table", ROOT / "docs" / "hooks" / "settings_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rendered(markdown: str | None = None) -> str:
    page: str = hook().on_page_markdown(markdown or PAGE.read_text(), None, None, None)
    return page


def test_every_setting_of_every_process_is_on_the_page_with_its_default() -> None:
    page = rendered()
    assert "<!--" not in page  # every marker became a table
    for cls in (ServeSettings, ShellSettings, RunnerSettings):
        for field in cls.model_fields.values():
            assert re.search(rf"^\| `{field.alias}` \|", page, re.MULTILINE), field.alias
    assert re.search(r"^\| `PROFBOT_LISTEN` \| text \| `127\.0\.0\.1:3000` \|", page, re.MULTILINE)
    assert re.search(r"^\| `SLACK_BOT_TOKEN` \| secret \| required \|", page, re.MULTILINE)
    wait = next(line for line in page.splitlines() if line.startswith("| `REDIS_WAIT_TIMEOUT_MS` |"))
    assert "At least 10, at most 4,000." in wait  # the bounds the settings class enforces, in words


def test_every_variable_of_the_env_example_is_on_the_page() -> None:
    page = rendered()
    example = (ROOT / "deploy" / "profbot.env.example").read_text()
    for name in re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, re.MULTILINE):
        assert f"`{name}`" in page, name


def test_a_page_that_leaves_a_settings_class_out_fails_the_build() -> None:
    without_runner = PAGE.read_text().replace("<!-- settings: RunnerSettings -->", "")
    with pytest.raises(PluginError, match="RunnerSettings"):
        rendered(without_runner)


def test_a_marker_naming_no_settings_class_fails_the_build() -> None:
    with pytest.raises(PluginError, match="Nope"):
        rendered(PAGE.read_text() + "\n<!-- settings: Nope -->\n")
