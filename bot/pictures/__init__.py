"""Pictures a front end attaches to a report: a profile's flamegraph and the data volume's chart, as
PNG bytes. Drawn with matplotlib's object API on the Agg canvas (no pyplot: its global state is
not safe in the worker threads these run in).

matplotlib and numpy are imported when the first picture is drawn, not when the bot starts: they
are about 45 MB of the process's memory, which a bot that never draws one does not need
(bench/memory.py holds serve under its memory target).
"""

from __future__ import annotations

import time
import uuid

from bot.usecases.content import Drawing, FlameDrawing
from handlers.findings import StorageHistory
from profbot.ops.pyroscope import FlameProfile


def flamegraph_png(profile: FlameProfile, width_px: int = 1600) -> bytes:
    """See :func:`bot.pictures.flamegraph.flamegraph_png` (imported on first use)."""
    from bot.pictures.flamegraph import flamegraph_png as draw

    return draw(profile, width_px)


def storage_chart_png(history: StorageHistory, now: float | None = None) -> bytes | None:
    """See :func:`bot.pictures.storage_chart.storage_chart_png` (imported on first use)."""
    from bot.pictures.storage_chart import storage_chart_png as draw

    return draw(history, now)


def png_of(drawing: Drawing) -> bytes | None:
    """The picture a drawing stands for (None: not enough to draw yet). Blocking: run it in a thread."""
    return flamegraph_png(drawing.profile) if isinstance(drawing, FlameDrawing) else storage_chart_png(drawing.history)


def file_name(drawing: Drawing) -> str:
    """A PNG file name saying what it shows and when (two drawn in one second still differ)."""
    stamp = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:6]}"
    if isinstance(drawing, FlameDrawing):
        return f"flamegraph-{drawing.profile.service}-{stamp}.png"
    return f"storage-{drawing.history.volume}-{stamp}.png"


__all__ = ["file_name", "flamegraph_png", "png_of", "storage_chart_png"]
