"""Nothing secret and nothing unbounded leaves the runner.

Every text an operation returns passes through :func:`bounded_text`: secrets are replaced by
``[redacted]`` (values of env-style names containing TOKEN, SECRET, PASSWORD or KEY, bearer
tokens, ``user:pass@`` in URLs) and the text is cut to a number of lines and bytes, with what was
cut counted in the result.
"""

from __future__ import annotations

import re

from profbot.ops.contract import TextOutput

REDACTED = "[redacted]"
# What one text may weigh on the job bus (a result in Redis). Not a message's size: front ends show
# long text as a file (Slack: an upload in the thread), so a profiler log's last 256 KiB (what
# read_file takes from the end of a file) arrives whole, and a log tail of up to 2,000 lines too.
MAX_LINES = 10_000
MAX_BYTES = 256 * 1024
MAX_LINE_CHARS = 2000

SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|KEY)", re.IGNORECASE)

_SECRET_WORD = r"(?:token|secret|password|passwd|credential|key)"  # noqa: S105 - words, not a password

_PATTERNS = [
    # NAME="value with spaces" / NAME: 'value' where NAME looks secret
    re.compile(
        r"(?P<keep>\b[\w.-]*" + _SECRET_WORD + r"[\w.-]*[\"']?\s*[=:]\s*(?P<q>[\"']))(?P<secret>[^\"'\n]*?)(?=(?P=q))",
        re.IGNORECASE,
    ),
    # NAME=value or NAME: value (env dumps, config lines, log key=values)
    re.compile(
        r"(?P<keep>\b[\w.-]*" + _SECRET_WORD + r"[\w.-]*[\"']?\s*[=:]\s*)(?P<secret>[^\s\"',;&]+)",
        re.IGNORECASE,
    ),
    # command-line flags: --auth-token VALUE, -password VALUE
    re.compile(
        r"(?P<keep>(?<![\w-])--?[\w-]*" + _SECRET_WORD + r"[\w-]*\s+)(?P<secret>[^\s\"'-][^\s\"']*)", re.IGNORECASE
    ),
    # Authorization: Bearer abc / Basic dXNlcjpwYXNz
    re.compile(r"(?P<keep>\b(?:bearer|basic)\s+)(?P<secret>[A-Za-z0-9._~+/=-]{6,})", re.IGNORECASE),
    # scheme://user:password@host
    re.compile(r"(?P<keep>\b[a-z][a-z0-9+.-]*://[^\s:/@]+:)(?P<secret>[^\s@/]+)(?=@)", re.IGNORECASE),
]


def redact(text: str) -> tuple[str, int]:
    """``text`` with secrets replaced, and how many were replaced."""
    count = 0
    for pattern in _PATTERNS:

        def replace(match: re.Match[str]) -> str:
            nonlocal count
            if match.group("secret") == REDACTED:
                return match.group(0)
            count += 1
            return match.group("keep") + REDACTED

        text = pattern.sub(replace, text)
    return text, count


def redact_env_value(name: str, value: str) -> str:
    if SECRET_NAME.search(name):
        return REDACTED
    return redact(value)[0]


def bounded_text(
    text: str, *, max_lines: int = MAX_LINES, max_bytes: int = MAX_BYTES, keep: str = "last"
) -> TextOutput:
    """Redact, then keep at most ``max_lines`` lines and ``max_bytes`` bytes (the last ones for logs,
    ``keep="first"`` for files), counting what was cut."""
    redacted, redactions = redact(text)
    lines = redacted.splitlines()
    omitted_lines = max(0, len(lines) - max_lines)
    lines = lines[-max_lines:] if keep == "last" else lines[:max_lines]
    lines = [line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + "…" for line in lines]
    kept: list[str] = []
    size = 0
    ordered = reversed(lines) if keep == "last" else iter(lines)
    for line in ordered:
        size += len(line.encode()) + 1
        if size > max_bytes:
            break
        kept.append(line)
    if keep == "last":
        kept.reverse()
    omitted_bytes = sum(len(line.encode()) + 1 for line in lines) - sum(len(line.encode()) + 1 for line in kept)
    omitted_lines += len(lines) - len(kept)
    return TextOutput(lines=kept, omitted_lines=omitted_lines, omitted_bytes=omitted_bytes, redactions=redactions)
