"""The settings of profbot's observability, and PROFBOT_LOG_FORMAT=json: profbot's events and the
libraries' standard-library log records leave as one JSON object a line, tracebacks and secrets
handled the same way."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from profbot import logs
from profbot.errors import ConfigError
from profbot.settings import RunnerSettings, ShellSettings, load


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """Settings read from the environment as the test sets it, in a folder without a .env file."""
    for name in ("PROFBOT_RUNNER_METRICS_LISTEN", "PROFBOT_LOG_FORMAT", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_the_runner_serves_no_metrics_unless_told_where(env: pytest.MonkeyPatch) -> None:
    assert load(RunnerSettings).metrics_listen is None
    env.setenv("PROFBOT_RUNNER_METRICS_LISTEN", "0.0.0.0:9464")
    assert load(RunnerSettings).metrics_listen == "0.0.0.0:9464"
    env.setenv("PROFBOT_RUNNER_METRICS_LISTEN", "9464")
    with pytest.raises(ConfigError, match=r"PROFBOT_RUNNER_METRICS_LISTEN is invalid \(.*HOST:PORT"):
        load(RunnerSettings)


def test_logs_are_for_people_unless_json_is_asked_for(env: pytest.MonkeyPatch) -> None:
    assert not load(ShellSettings).json_logs
    env.setenv("PROFBOT_LOG_FORMAT", "json")
    assert load(ShellSettings).json_logs
    env.setenv("PROFBOT_LOG_FORMAT", "logfmt")
    with pytest.raises(ConfigError, match="PROFBOT_LOG_FORMAT is invalid"):
        load(ShellSettings)


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "profbot.log"
    logging.basicConfig(handlers=[logging.NullHandler()], force=True)  # let go of the file


def test_every_line_is_one_json_object_whoever_logs_it(log_file: Path) -> None:
    logs.configure("info", json=True, to=log_file)
    structlog.get_logger("profbot.serve").info("serving", listen="127.0.0.1:3000", slack_bot_token="xoxb-1")
    structlog.get_logger("profbot.serve").debug("not at info")
    logging.getLogger("slack_sdk.web.async_base_client").warning("Slack said %s\nover two lines", "no")
    logging.getLogger("slack_bolt.AsyncApp").info("below warning: left out")
    logging.getLogger("aiohttp.server").warning("Error handling request")
    try:
        raise ConnectionError("Connection refused")
    except ConnectionError:
        logging.getLogger("redis.asyncio.connection").exception("lost")
        structlog.get_logger("profbot.bus").exception("job_failed", op="pyroscope.ready")

    events = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [(e["logger"], e["level"], e["event"].splitlines()[0]) for e in events] == [
        ("profbot.serve", "info", "serving"),
        ("slack_sdk.web.async_base_client", "warning", "Slack said no"),
        ("aiohttp.server", "warning", "Error handling request"),
        ("redis.asyncio.connection", "error", "lost"),
        ("profbot.bus", "error", "job_failed"),
    ]
    assert all("timestamp" in e for e in events)
    assert events[0]["slack_bot_token"] == "[redacted]" and events[0]["listen"] == "127.0.0.1:3000"
    assert events[1]["event"] == "Slack said no\nover two lines"
    assert "ConnectionError: Connection refused" in events[3]["exception"]
    assert "Traceback" in events[4]["exception"] and events[4]["op"] == "pyroscope.ready"


def test_console_lines_name_their_logger_too(log_file: Path) -> None:
    logs.configure("info", to=log_file)
    structlog.get_logger("profbot.serve").info("serving", listen="127.0.0.1:3000")
    logging.getLogger("slack_bolt.AsyncApp").warning("Unhandled request")
    first, second = log_file.read_text().splitlines()
    assert "serving" in first and "[profbot.serve]" in first and "listen=127.0.0.1:3000" in first
    assert "[warning  ] Unhandled request" in second and "[slack_bolt.AsyncApp]" in second
