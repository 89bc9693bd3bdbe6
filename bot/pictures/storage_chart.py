"""The Pyroscope data volume's size over time, drawn as a line chart PNG against the runbook's
baselines (matplotlib's Agg backend)."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime

from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from handlers.findings import MB, StorageHistory

DAY = 86400
AHEAD_DAYS = 3  # how far the trend is drawn at least (when the volume never fills, exactly this)
MAX_AHEAD_DAYS = 60  # a fill date further out is named in the subtitle, not drawn: it would squash the history
LIMIT_IN_VIEW = 1.5  # the filesystem's limit is drawn when it is at most this far above what else is drawn
WIDTH_PX, HEIGHT_PX, DPI = 1400, 700, 100
FULL_COLOUR = "#7f0000"


def storage_chart_png(history: StorageHistory, now: float | None = None) -> bytes | None:
    """The volume's used MB over time (UTC dates): its samples, the current trend drawn on to the
    projected full date (or a few days ahead), the runbook's ~100 MB/day and 500 MB/day slopes from
    the first sample, the size at which the filesystem is full when its capacity is known, and when
    that happens. None with fewer than two samples: no line to draw. ``now`` (epoch seconds, default
    the clock) is what "in N days" counts from."""
    samples = history.samples
    if len(samples) < 2:
        return None
    now = time.time() if now is None else now
    first, last = samples[0], samples[-1]
    span = last.at - first.at
    full_at, growth, limit = history.projected_full_at, history.growth_per_day, _volume_limit(history)
    trend_end = None
    if growth is not None:
        ahead = AHEAD_DAYS * DAY if full_at is None else max(full_at - last.at, 0.0)
        # Drawn on to the fill date when that is near; otherwise a horizon in proportion to the history.
        trend_end = last.at + min(ahead, max(AHEAD_DAYS * DAY, 2 * span), MAX_AHEAD_DAYS * DAY)
    # A little room right of the last thing drawn, so a line ending there is not lost in the frame.
    x_end = max(trend_end or last.at, last.at) + max((trend_end or last.at) - first.at, 60) * 0.03

    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, facecolor="white")
    ax = figure.add_axes((0.07, 0.12, 0.9, 0.74))
    ax.plot(
        [_date(s.at) for s in samples], [s.size_bytes / MB for s in samples], color="#1f5fa8", linewidth=2,
        marker="o" if len(samples) <= 60 else None, markersize=3, label=f"{history.volume} size", zorder=4,
    )  # fmt: skip
    low: float = min(s.size_bytes for s in samples)
    high: float = max(s.size_bytes for s in samples)
    if growth is not None and trend_end is not None:
        trend_top = last.size_bytes + growth * (trend_end - last.at) / DAY
        ax.plot(
            [_date(last.at), _date(trend_end)], [last.size_bytes / MB, trend_top / MB], color="#1f5fa8",
            linestyle="--", linewidth=1.6, label=f"trend: {_rate(growth)}", zorder=3,
        )  # fmt: skip
        low, high = min(low, trend_top), max(high, trend_top)
    for per_day, colour, name in (
        (history.expected_per_day, "#2e8b57", "expected"),
        (history.alert_per_day, "#d62728", "alert above"),
    ):
        ax.plot(
            [_date(first.at), _date(x_end)],
            [first.size_bytes / MB, (first.size_bytes + per_day * (x_end - first.at) / DAY) / MB],
            color=colour, linestyle=":", linewidth=1.5, label=f"{name} {_rate(per_day)}", zorder=2,
        )  # fmt: skip
    limit_drawn = limit is not None and limit <= max(high, 1) * LIMIT_IN_VIEW
    full_drawn = False
    if limit is not None and limit_drawn:
        ax.axhline(limit / MB, color=FULL_COLOUR, linewidth=1.5, label=_limit_label(history, limit), zorder=1)
        high = max(high, limit)
        full_drawn = _annotate_full(ax, full_at, trend_end, limit, now)

    ax.set_xlim(_date(first.at), _date(x_end))
    if limit_drawn:
        ax.set_ylim(0, high / MB * 1.12)  # from zero: how much room is left is the point
    else:  # no limit in view: zoomed on the data, so growth shows as a slope and not a flat line
        pad = max((high - low) * 0.15, high * 0.02, MB)
        ax.set_ylim(max(low - pad, 0) / MB, (high + pad) / MB)
    _style(ax)
    figure.text(0.07, 0.955, f"Pyroscope data volume {history.volume}: space used", fontsize=14, fontweight="bold")
    figure.text(0.07, 0.91, _subtitle(history, now, limit_drawn, full_drawn), fontsize=10, color="#444")
    if history.source:  # what the line is made of: Pyroscope's blocks, profbot's samples
        figure.text(0.97, 0.96, history.source, fontsize=9, color="#444", ha="right")
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)  # type: ignore[no-untyped-call]  # untyped in matplotlib
    return buffer.getvalue()


def _volume_limit(history: StorageHistory) -> int | None:
    """The size the volume fills its filesystem at: the capacity, less what other data uses."""
    if history.capacity_bytes is None:
        return None
    other = max((history.used_bytes or 0) - history.samples[-1].size_bytes, 0)
    return max(history.capacity_bytes - other, 0)


def _limit_label(history: StorageHistory, limit: int) -> str:
    capacity = history.capacity_bytes or 0
    if limit == capacity:
        return f"filesystem capacity {_size(capacity)}"
    return f"filesystem full ({_size(capacity)}, {_size(capacity - limit)} used by other data)"


def _annotate_full(ax: Axes, full_at: float | None, trend_end: float | None, limit: int, now: float) -> bool:
    """Mark the fill date where the trend meets the limit, when that is in view (else False)."""
    if full_at is None or trend_end is None or full_at > trend_end + 1:
        return False  # not in view: the subtitle says when
    ax.axvline(_date(full_at), color=FULL_COLOUR, linestyle="--", linewidth=1)
    # Just above the limit, left of where the trend meets it: the trend runs below that line.
    ax.annotate(
        _full_text(full_at, now), xy=(_date(full_at), limit / MB), xytext=(-8, 6), textcoords="offset points",
        ha="right", va="bottom", fontsize=10, color=FULL_COLOUR,
        bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": FULL_COLOUR, "alpha": 0.95},
    )  # fmt: skip
    return True


def _style(ax: Axes) -> None:
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10, tz=UTC)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))  # type: ignore[no-untyped-call]
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    ax.set_ylabel("used (MB)")
    ax.set_xlabel("time (UTC)")
    ax.grid(True, color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(loc="best", fontsize=9, framealpha=0.95)


def _subtitle(history: StorageHistory, now: float, limit_drawn: bool, full_drawn: bool = False) -> str:
    last = history.samples[-1]
    parts = [f"{_size(last.size_bytes)} at {_when(last.at)}"]
    if history.growth_per_day is not None:
        parts.append(f"growing {_rate(history.growth_per_day)}")
    elif history.trend_from is not None:
        parts.append(f"trend from {_when(history.trend_from)}")
    if history.capacity_bytes is not None and not limit_drawn:
        parts.append(f"filesystem {_size(history.capacity_bytes)}")
    full_at = history.projected_full_at
    if full_at is not None and not full_drawn:  # beyond the trend drawn, or no limit in view: said here
        parts.append(_full_text(full_at, now))
    parts.append(f"runbook: ~{_rate(history.expected_per_day)} expected, alert above {_rate(history.alert_per_day)}")
    return ";  ".join(parts)


def _full_text(full_at: float, now: float) -> str:
    days = (full_at - now) / DAY
    if days < 0:
        return f"full since {_when(full_at)}"
    ahead = f"in {days * 24:.0f} h" if days < 1 else "in 1 day" if days < 2 else f"in {days:.0f} days"
    return f"full {_when(full_at)} ({ahead})"


def _when(at: float) -> str:
    return f"{datetime.fromtimestamp(at, UTC):%Y-%m-%d %H:%M} UTC"


def _date(at: float) -> float:
    """Epoch seconds as matplotlib's date number (what a date axis plots)."""
    return float(mdates.date2num(datetime.fromtimestamp(at, UTC)))  # type: ignore[no-untyped-call]


def _rate(per_day: float) -> str:
    return f"{per_day / MB:,.0f} MB/day"


def _size(size_bytes: float) -> str:
    # As profbot words sizes elsewhere (handlers/storage_full.py): MB and GB of 2**20 and 2**30 bytes.
    return f"{size_bytes / MB:,.0f} MB" if size_bytes < 10 * 1024 * MB else f"{size_bytes / (1024 * MB):,.1f} GB"
