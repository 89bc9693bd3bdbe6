"""Logging: structlog key-value events, one line each, to stderr.

Values under keys that name a secret are replaced before anything is written, so a token passed
to a log call by mistake never reaches the log.
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


def redact_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if key != "event" and SECRET_KEY.search(key):
            event[key] = REDACTED
    return event


def configure(level: str = "info", *, json: bool = False, to: Path | None = None) -> None:
    """Log at ``level`` to stderr, or (``to``) appended to a file: where a terminal front end is
    talking to a person, log lines would run through the prompt."""
    stream: TextIO = sys.stderr
    if to is not None:
        from profbot.embedded_redis import state_dir_ready  # the one place the state dir is made

        state_dir_ready(to.parent)
        stream = to.open("a", buffering=1)
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_secrets,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    # slack-bolt and slack-sdk log through the standard library; keep them at warnings.
    logging.basicConfig(level=logging.WARNING, stream=stream, format="%(levelname)s %(name)s: %(message)s", force=True)
