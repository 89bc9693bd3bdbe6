"""Logging: structlog key-value events, one line each, to stderr; with ``json``, one JSON object.

profbot's own events and the standard library's (slack_sdk, slack_bolt, aiohttp, redis, asyncio,
Python's warnings) leave through one handler and one structlog formatter, so every line has the
same shape: ``timestamp``, ``level``, ``logger``, ``event`` and the event's keys. Values under keys
that name a secret are replaced before anything is written, so a token passed to a log call by
mistake never reaches the log.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, TextIO

import structlog

SECRET_KEY = re.compile(r"(token|secret|password|passwd|key|authorization)", re.IGNORECASE)
REDACTED = "[redacted]"
OWN_LOGGERS = "profbot"  # every structlog logger of profbot is named profbot.something

_json_lines = False


def redact_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if key != "event" and SECRET_KEY.search(key):
            event[key] = REDACTED
    return event


def configure(level: str = "info", *, json: bool = False, to: Path | None = None) -> None:
    """Log at ``level`` to stderr, or (``to``) appended to a file: where a terminal front end is
    talking to a person, log lines would run through the prompt. Other libraries log their warnings
    and errors only."""
    global _json_lines
    stream: TextIO = sys.stderr
    if to is not None:
        from profbot.embedded_redis import state_dir_ready  # the one place the state dir is made

        state_dir_ready(to.parent)
        stream = to.open("a", buffering=1)
    _json_lines = json
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
        structlog.processors.format_exc_info,
    ]
    number = getattr(logging, level.upper())
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(number),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.getLogger(OWN_LOGGERS).setLevel(number)
    logging.captureWarnings(True)  # Python's warnings are log lines too, not bare stderr text


def fatal(message: str) -> None:
    """What stops the process, as its last line on stderr: a log line when lines are JSON."""
    if _json_lines:
        structlog.get_logger("profbot.cli").error("fatal", error=message)
    else:
        print(message, file=sys.stderr)
