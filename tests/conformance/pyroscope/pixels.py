"""Where label ink is in a flamegraph PNG: what a person sees of a frame's name."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.image import imread

from bot.pictures.flamegraph import CHAR_PX, FOOTER_PX, LABEL_PAD_PX, MARGIN_PX, ROW_PX
from handlers.profile_analysis import Frame
from profbot.ops.pyroscope import FlameProfile


def pixels(png: bytes) -> np.ndarray:
    """The PNG's RGB pixels, top row first, 0..1."""
    return np.asarray(imread(io.BytesIO(png)))[:, :, :3]


def ink_columns(image: np.ndarray, frame: Frame, profile: FlameProfile) -> np.ndarray:
    """The x pixels inside ``frame``'s box where label ink (dark grey) is, as drawn."""
    height, width = image.shape[:2]
    px_per_tick = (width - 2 * MARGIN_PX) / profile.num_ticks
    left, right = MARGIN_PX + frame.x * px_per_tick, MARGIN_PX + (frame.x + frame.total) * px_per_tick
    bottom = FOOTER_PX + MARGIN_PX + frame.depth * ROW_PX
    box = image[height - bottom - ROW_PX : height - bottom, int(left) : int(right)]
    # Frames are warm colours (red at least 0.8), the hot outline dark red: only labels are grey.
    grey = (box.max(axis=2) < 0.45) & (box.max(axis=2) - box.min(axis=2) < 0.1)
    return np.flatnonzero(grey.any(axis=0)) + int(left)


def label_start(png_width: int, frame: Frame, profile: FlameProfile) -> float:
    """Where a frame's label begins, in pixels from the picture's left."""
    return MARGIN_PX + frame.x * (png_width - 2 * MARGIN_PX) / profile.num_ticks + LABEL_PAD_PX


def last_letter_at(png_width: int, frame: Frame, profile: FlameProfile, shown: str) -> float:
    """Where the label's last letter or digit begins: thin glyphs (``_``, ``.``, ``…``) after it may
    blend into the frame's colour."""
    last = max((i for i, char in enumerate(shown) if char.isalnum()), default=0)
    return label_start(png_width, frame, profile) + last * CHAR_PX


def label_chars(png_width: int, frame: Frame, profile: FlameProfile) -> int:
    """How many characters of a label fit in the frame."""
    return int((frame.total * (png_width - 2 * MARGIN_PX) / profile.num_ticks - 2 * LABEL_PAD_PX) // CHAR_PX)
