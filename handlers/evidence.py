"""Reading raw output for what matters: error lines in logs, a profiler's own log; and evidence as
front ends show it when it is long: an excerpt, and the whole as a file."""

from __future__ import annotations

import re
import time
import uuid

from handlers.findings import Evidence
from profbot.ops.contract import TextOutput

# What marks a log line as an error, across Go (Pyroscope: level=error), Python and shell output.
ERROR_LINE = re.compile(
    r"level=(error|fatal)|\b(ERROR|FATAL|CRITICAL|panic|Traceback)\b|out of memory|no space left|"
    r"disk full|quota exceeded|connection refused|permission denied|operation not permitted",
    re.IGNORECASE,
)


def error_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if ERROR_LINE.search(line)]


def quote(lines: list[str], most: int = 3, width: int = 160) -> str:
    shown = [f"`{line[:width]}`" for line in lines[:most]]
    more = f" (+{len(lines) - most} more)" if len(lines) > most else ""
    return "; ".join(shown) + more


def evidence(title: str, output: TextOutput) -> Evidence:
    return Evidence(title=title, lines=output.lines, omitted_lines=output.omitted_lines)


def excerpt(item: Evidence, most: int) -> list[str]:
    """At most ``most`` of the evidence's lines: the last ones of a log, the first ones of anything else."""
    if len(item.lines) <= most:
        return list(item.lines)
    return item.lines[-most:] if item.tail else item.lines[:most]


def left_on_host(item: Evidence) -> str | None:
    """What the runner did not ship, in words; None when it shipped everything."""
    if not item.omitted_lines:
        return None
    which = "earlier" if item.tail else "later"
    return f"{item.omitted_lines:,} {which} line{'s' if item.omitted_lines != 1 else ''} left on the host"


def file_text(item: Evidence) -> str:
    """The evidence as a text file: every line it has, as the runner shipped them (redacted there)."""
    return "".join(f"{line}\n" for line in item.lines)


def file_name(item: Evidence) -> str:
    """A file name saying what it holds and when (two made in one second still differ)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", item.title).strip("-.")[:60] or "evidence"
    return f"{slug}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:6]}.txt"
