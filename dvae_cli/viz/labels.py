"""Text on image grids: a title band above, a label margin on the right.

Pillow draws the text with matplotlib's bundled DejaVu Sans, so figures look the
same on every machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

TITLE_HEIGHT = 22
TITLE_FONT = 13
LABEL_FONT = 12
LABEL_WIDTH = 100


@lru_cache(maxsize=4)
def _font(size: int) -> Any:
    from matplotlib import font_manager
    from PIL import ImageFont

    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)


def _colours(pad_value: float, channels: int) -> tuple[Any, Any]:
    """(background, text) colours for a margin painted in the grid's padding colour."""
    bg = int(round(pad_value * 255))
    fg = 0 if bg > 127 else 255
    if channels == 1:
        return bg, fg
    return (bg,) * 3, (fg,) * 3


def add_title(array: np.ndarray, title: str, pad_value: float) -> np.ndarray:
    """`array` (H, W, C) uint8 with a `TITLE_HEIGHT`-pixel band holding `title` on top.

    The title is shortened with an ellipsis if it does not fit the width.
    """
    from PIL import Image, ImageDraw

    height, width, channels = array.shape
    bg, fg = _colours(pad_value, channels)
    band = Image.new("L" if channels == 1 else "RGB", (width, TITLE_HEIGHT), bg)
    draw = ImageDraw.Draw(band)
    font = _font(TITLE_FONT)
    text = title
    while len(text) > 4 and draw.textlength(text, font=font) > width - 8:
        text = text.rstrip("…")[:-1].rstrip() + "…"
    draw.text((4, (TITLE_HEIGHT - TITLE_FONT) // 2 - 1), text, fill=fg, font=font)
    strip = np.asarray(band, dtype=np.uint8).reshape(TITLE_HEIGHT, width, channels)
    return np.concatenate([strip, array], axis=0)


def add_row_labels(array: np.ndarray, labels: Sequence[str], pad_value: float) -> np.ndarray:
    """`array` (H, W, C) with a `LABEL_WIDTH`-pixel margin on the right, one label per grid row.

    The rows are taken as `len(labels)` equal horizontal bands of `array`.
    """
    from PIL import Image, ImageDraw

    height, width, channels = array.shape
    bg, fg = _colours(pad_value, channels)
    margin = Image.new("L" if channels == 1 else "RGB", (LABEL_WIDTH, height), bg)
    draw = ImageDraw.Draw(margin)
    font = _font(LABEL_FONT)
    row_height = height / max(len(labels), 1)
    for i, label in enumerate(labels):
        y = int((i + 0.5) * row_height - LABEL_FONT / 2 - 1)
        draw.text((6, y), label, fill=fg, font=font)
    strip = np.asarray(margin, dtype=np.uint8).reshape(height, LABEL_WIDTH, channels)
    return np.concatenate([array, strip], axis=1)
