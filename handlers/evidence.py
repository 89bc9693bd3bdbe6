"""Reading raw output for what matters: error lines in logs, a profiler's own log."""

from __future__ import annotations

import re

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
