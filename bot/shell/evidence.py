"""Evidence at a terminal: short evidence is printed whole (render.py); long evidence (a profiler
log, a log tail) as an excerpt, with the whole saved to a text file whose path is printed, as the
pictures are: a terminal scrolls, but a thousand log lines would bury the report above them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from handlers.evidence import excerpt, file_name, file_text, left_on_host
from handlers.findings import Evidence
from profbot.errors import ContentRefused

INLINE_LINES = 40  # printed whole up to this many lines
EXCERPT_LINES = 10


def is_long(item: Evidence) -> bool:
    return len(item.lines) > INLINE_LINES


async def save_evidence(item: Evidence, directory: Path) -> Path:
    """Every line of ``item`` in a file under ``directory`` (made private to this user when missing)."""
    try:
        return await asyncio.to_thread(_save, item, directory)
    except OSError as exc:  # a full disk, a directory not ours: said, and the session goes on
        raise ContentRefused("not_saved", f"the evidence could not be saved in {directory}: {exc}") from exc


def _save(item: Evidence, directory: Path) -> Path:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / file_name(item)
    path.write_text(file_text(item))
    return path


def excerpt_text(item: Evidence, saved: Path | str) -> str:
    """The title, an excerpt, and where the whole is (or why it is not)."""
    shown = excerpt(item, EXCERPT_LINES)
    which = "last" if item.tail else "first"
    where = f"all {len(item.lines)} lines saved to {saved}" if isinstance(saved, Path) else saved
    lines = [f"  {item.title} ({which} {len(shown)} of {len(item.lines)} lines; {where}):"]
    lines += [f"    {line}" for line in shown]
    left = left_on_host(item)
    return "\n".join(lines + ([f"    ({left})"] if left else []))
