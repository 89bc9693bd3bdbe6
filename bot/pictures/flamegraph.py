"""A service's merged profile drawn as a classic flamegraph PNG (matplotlib's Agg backend).

Everything is placed in pixels (the figure's display coordinates at its own DPI), so a frame's
width in pixels, and so whether its label fits, is known before anything is drawn."""

from __future__ import annotations

import io
import zlib
from functools import lru_cache
from typing import cast

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import PathPatch
from matplotlib.path import Path
from matplotlib.textpath import text_to_path
from matplotlib.transforms import IdentityTransform

from handlers.profile_analysis import (
    Frame,
    display_name,
    frames_by_depth,
    hottest_frames,
    is_empty,
    short_profile_type,
    shorten,
    tree_of,
    window_text,
)
from handlers.profile_units import amount
from profbot.ops.pyroscope import FlameProfile

DPI = 100
MIN_WIDTH_PX = 1200
ROW_PX = 17  # one depth of frames: room for an 8 pt label
MAX_ROWS = 80  # deeper frames are left out (and said so), so the picture stays a picture
MARGIN_PX = 12
TITLE_PX = 58
FOOTER_PX = 16
FONT = "DejaVu Sans Mono"  # ships with matplotlib; monospace, so a label's width is known before drawing
FONT_PT = 8.5
CHAR_PX = 0.602 * FONT_PT * DPI / 72  # DejaVu Sans Mono's advance is 0.602 em, bold or not
BASELINE_PX = 5.0  # from a row's bottom: centres the capitals of FONT_PT in ROW_PX
LABEL_PAD_PX = 3
MIN_LABEL_CHARS = 4  # a shorter label says nothing; the frame stays unlabelled
MIN_FRAME_PX = 1.0
HOT_EDGE = "#5c0a00"
LABEL_COLOUR = "#1a1a1a"


def flamegraph_png(profile: FlameProfile, width_px: int = 1600) -> bytes:
    """The profile as a flamegraph PNG ``width_px`` wide (at least MIN_WIDTH_PX): the root ("total")
    at the bottom and callees stacked above their callers, each frame as wide as its share of the
    samples. Frames narrower than a pixel are skipped; labels are drawn where they fit, cut with
    an ellipsis; the hottest path is outlined dark, its labels bold. Raises ValueError for a
    profile without samples."""
    if is_empty(profile):
        raise ValueError(f"no samples to draw for {profile.service}")
    width_px = max(width_px, MIN_WIDTH_PX)
    px_per_tick = (width_px - 2 * MARGIN_PX) / profile.num_ticks
    levels = frames_by_depth(profile)
    rows = min(len(levels), MAX_ROWS)
    height_px = TITLE_PX + rows * ROW_PX + FOOTER_PX + MARGIN_PX
    bottom_px = FOOTER_PX + MARGIN_PX

    hot = {(f.depth, f.x) for f in hottest_frames(tree_of(levels))}
    visible = [f for level in levels[:rows] for f in level if f.total * px_per_tick >= MIN_FRAME_PX]
    plain = [f for f in visible if (f.depth, f.x) not in hot]
    emphasised = [f for f in visible if (f.depth, f.x) in hot]

    figure = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI, facecolor="white")
    place = _Placement(px_per_tick, bottom_px)
    # The hottest path goes on top, or its neighbours would cover half of its dark outline.
    figure.add_artist(_boxes(plain, place, edge=None))
    figure.add_artist(_boxes(emphasised, place, edge=HOT_EDGE))
    for frames, bold in ((plain, False), (emphasised, True)):
        labels = _labels(frames, place, bold=bold)
        if labels is not None:
            figure.add_artist(
                PathPatch(labels, facecolor=LABEL_COLOUR, edgecolor="none", transform=IdentityTransform())
            )
    _titles(figure, profile, width_px, height_px, hidden_rows=len(levels) - rows)

    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)  # type: ignore[no-untyped-call]  # untyped in matplotlib
    return buffer.getvalue()


class _Placement:
    """Where a frame lands, in pixels from the figure's bottom left."""

    def __init__(self, px_per_tick: float, bottom_px: float) -> None:
        self.px_per_tick = px_per_tick
        self.bottom_px = bottom_px

    def left(self, frame: Frame) -> float:
        return MARGIN_PX + frame.x * self.px_per_tick

    def width(self, frame: Frame) -> float:
        return frame.total * self.px_per_tick

    def bottom(self, frame: Frame) -> float:
        return self.bottom_px + frame.depth * ROW_PX


def _boxes(frames: list[Frame], place: _Placement, edge: str | None) -> PolyCollection:
    boxes = np.empty((len(frames), 4, 2))
    for i, f in enumerate(frames):
        # One pixel of white between neighbours, unless that would leave no frame at all.
        left, bottom = place.left(f), place.bottom(f)
        right = left + max(place.width(f) - 1, 1)
        top = bottom + ROW_PX - 1
        boxes[i] = ((left, bottom), (right, bottom), (right, top), (left, top))
    return PolyCollection(
        cast("list[np.ndarray]", boxes),  # an (n, 4, 2) array: the stubs want a sequence, the fast path an array
        facecolors=[frame_colour(f.name) for f in frames],
        edgecolors=edge or "none",
        linewidths=1.1 if edge else 0,
        antialiased=False,  # crisp edges on whole pixels; Agg also fills them faster
        transform=IdentityTransform(),
    )


def _labels(frames: list[Frame], place: _Placement, *, bold: bool) -> Path | None:
    # Glyph outlines, cached per character and joined per label, drawn as one path: matplotlib lays
    # out and rasterises every Text on its own, which costs a thousand labels most of a second.
    vertices: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    for f in frames:
        chars = int((place.width(f) - 2 * LABEL_PAD_PX) // CHAR_PX)
        if chars < MIN_LABEL_CHARS:
            continue
        x, y = place.left(f) + LABEL_PAD_PX, place.bottom(f) + BASELINE_PX
        for i, char in enumerate(shorten(display_name(f.name), chars)):
            outline, kinds = _glyph(char, bold)
            if len(outline):
                vertices.append(outline + np.array((x + i * CHAR_PX, y)))
                codes.append(kinds)
    if not vertices:
        return None
    return Path(np.concatenate(vertices), np.concatenate(codes))


@lru_cache(maxsize=1024)
def _glyph(char: str, bold: bool) -> tuple[np.ndarray, np.ndarray]:
    """A character's outline in pixels (its vertices and path codes), its baseline at y = 0 and its
    left edge at x = 0, no wider than a cell of the monospace grid. A space (``func (file.py:42)``)
    has no outline: empty arrays. A character DejaVu Sans Mono lacks (CJK, a control character)
    comes from matplotlib's fallback fonts, squeezed into the cell so its neighbours stay put."""
    prop = FontProperties(family=FONT, size=FONT_PT, weight="bold" if bold else "normal")
    # The outline without a Path around it: matplotlib 3.11's TextPath raises on an empty outline.
    vertices, codes = text_to_path.get_text_path(prop, char)
    outline = np.asarray(vertices, dtype=float).reshape(-1, 2) * (FONT_PT / text_to_path.FONT_SCALE * DPI / 72)
    if not len(outline):
        return np.empty((0, 2)), np.empty(0, dtype=Path.code_type)
    right = float(outline[:, 0].max())
    if right > CHAR_PX:
        outline[:, 0] *= CHAR_PX / right
    return outline, np.asarray(codes, dtype=Path.code_type)


def _titles(figure: Figure, profile: FlameProfile, width_px: int, height_px: int, hidden_rows: int) -> None:
    left = MARGIN_PX / width_px
    title = f"{profile.service}  ·  {short_profile_type(profile.profile_type)}  ·  "
    title += window_text(profile.start, profile.end)
    figure.text(left, 1 - 12 / height_px, shorten(title, 140), fontsize=13, fontweight="bold", va="top")
    total = amount(profile, profile.num_ticks)
    subtitle = f"{total} in all · width is share of the total · root at the bottom · hottest path outlined"
    if profile.note:
        subtitle += f" · {profile.note}"
    figure.text(left, 1 - 34 / height_px, shorten(subtitle, 200), fontsize=9, color="#444", va="top")
    if hidden_rows > 0:
        footer = f"{hidden_rows} deeper levels not drawn (at most {MAX_ROWS})"
        figure.text(left, 4 / height_px, footer, fontsize=8, color="#444", va="bottom")


def frame_colour(name: str) -> tuple[float, float, float]:
    """A warm colour (red to yellow) for a function name, the same in every picture and process."""
    digest = zlib.crc32(name.encode("utf-8", "replace"))
    v1, v2, v3 = digest & 0xFF, (digest >> 8) & 0xFF, (digest >> 16) & 0xFF
    # Brendan Gregg's "hot" palette: red high, green anywhere below it, a little blue.
    return (205 + 50 * v1 / 255) / 255, (60 + 160 * v2 / 255) / 255, (20 + 45 * v3 / 255) / 255
