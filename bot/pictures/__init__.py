"""Pictures a front end attaches to a report: a profile's flamegraph and the data volume's chart, as
PNG bytes. Drawn with matplotlib's object API on the Agg canvas (no pyplot: its global state is
not safe in the worker threads these run in)."""

import time
import uuid

from bot.pictures.flamegraph import flamegraph_png
from bot.pictures.storage_chart import storage_chart_png
from bot.usecases.content import Drawing, FlameDrawing


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
