"""Pictures a front end attaches to a report: a profile's flamegraph and the data volume's chart, as
PNG bytes. Drawn with matplotlib's object API on the Agg canvas (no pyplot: its global state is
not safe in the worker threads these run in)."""

from bot.pictures.flamegraph import flamegraph_png
from bot.pictures.storage_chart import storage_chart_png

__all__ = ["flamegraph_png", "storage_chart_png"]
