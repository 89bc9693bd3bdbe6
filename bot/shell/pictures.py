"""Pictures at a terminal: the PNGs Slack shows (a flamegraph, a storage chart), saved to files whose
paths the session prints. The words beside them (top functions, a text flamegraph) are rendered
with the rest in render.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.pictures import file_name, png_of
from bot.usecases.content import Drawing
from profbot.errors import ContentRefused


def _draw(drawing: Drawing) -> tuple[str, bytes | None]:
    """The file name and PNG of ``drawing`` (None: not enough to draw). Blocking: run in a thread."""
    return file_name(drawing), png_of(drawing)


async def save_drawing(drawing: Drawing, directory: Path) -> Path | None:
    """Draw off the event loop (a big profile takes a moment) and save under ``directory`` (made
    private to this user when missing); the file's path, or None when there was nothing to draw."""
    try:
        return await asyncio.to_thread(_draw_and_save, drawing, directory)
    except OSError as exc:  # a full disk, a directory not ours: said, and the session goes on
        raise ContentRefused("not_saved", f"the picture could not be saved in {directory}: {exc}") from exc
    except Exception as exc:  # a picture that cannot be drawn must not end the session
        raise ContentRefused("not_drawable", f"could not draw {type(drawing).__name__}: {exc}") from exc


def _draw_and_save(drawing: Drawing, directory: Path) -> Path | None:
    name, png = _draw(drawing)
    if png is None:
        return None
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(png)
    return path
