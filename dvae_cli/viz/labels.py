"""Text on image grids: a title band above, a label margin on the right.

Pillow draws the text with matplotlib's bundled DejaVu Sans, so figures look the
same on every machine. Text is measured with the font's metrics and never cut:
a title wraps (at its `` · `` separators where it can, else at spaces) and, if
one word is wider than the image, shrinks down to `MIN_TITLE_FONT`, then breaks
the word.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

TITLE_FONT = 13
MIN_TITLE_FONT = 9
LABEL_FONT = 12
#: Horizontal margin of title and label text, each side (pixels).
MARGIN = 4
#: Space between the grid and a row label, and after the label (pixels).
LABEL_PAD = 6


def line_height(size: int) -> int:
    """Pixels per line of title text at font `size`."""
    return round(size * 1.35)


#: The band of a one-line title at the full size.
TITLE_HEIGHT = line_height(TITLE_FONT) + 4


@lru_cache(maxsize=16)
def font(size: int) -> Any:
    """DejaVu Sans at `size` pixels (a Pillow FreeTypeFont)."""
    from matplotlib import font_manager
    from PIL import ImageFont

    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)


def text_width(text: str, size: int) -> float:
    """Width in pixels of `text` drawn at font `size`."""
    return float(font(size).getlength(text))


@dataclass(frozen=True)
class TitleLayout:
    """A title fitted to a width: its lines, their font size and the band's height."""

    lines: list[str]
    size: int

    @property
    def height(self) -> int:
        return line_height(self.size) * len(self.lines) + 4


def _segments(paragraph: str) -> list[list[str]]:
    """The `` · ``-separated parts of a title, as words; each separator stays at the end of its part."""
    parts = [part.split() for part in paragraph.split(" · ")]
    parts = [words for words in parts if words]
    for words in parts[:-1]:
        words[-1] += " ·"
    return parts


def _break_word(word: str, room: float, size: int) -> list[str]:
    """`word` cut into pieces no wider than `room` (at least one character each)."""
    pieces, current = [], ""
    for char in word:
        if current and text_width(current + char, size) > room:
            pieces.append(current)
            current = ""
        current += char
    return [*pieces, current] if current else pieces


def wrap_title(title: str, width: int, size: int = TITLE_FONT, min_size: int = MIN_TITLE_FONT) -> TitleLayout:
    """Fit `title` into `width` pixels: wrap, shrink if one word is too wide, break it as a last resort.

    Explicit newlines in `title` start a new line. Every line of the result
    measures at most ``width - 2 * MARGIN`` pixels (for a width of at least one
    character), and joining the lines gives back every word of `title`.
    """
    room = max(width - 2 * MARGIN, 1)
    paragraphs = [_segments(p) for p in title.split("\n")]
    words = [w for segments in paragraphs for segment in segments for w in segment]
    while size > min_size and max((text_width(w, size) for w in words), default=0.0) > room:
        size -= 1
    lines: list[str] = []
    for segments in paragraphs:
        current = ""
        for segment in segments:
            whole = " ".join(segment)
            joined = f"{current} {whole}" if current else whole
            if text_width(joined, size) <= room:   # a part stays whole where it can
                current = joined
                continue
            if current and text_width(whole, size) <= room:
                lines.append(current)
                current = whole
                continue
            for word in segment:                      # a part wider than a line: word by word
                candidate = f"{current} {word}" if current else word
                if text_width(candidate, size) <= room:
                    current = candidate
                    continue
                if current:
                    lines.append(current)
                current = word
                if text_width(word, size) > room:   # wider than the image even at the smallest size
                    *full, current = _break_word(word, room, size)
                    lines.extend(full)
        lines.append(current)
    return TitleLayout(lines, size)


def _colours(pad_value: float, channels: int) -> tuple[Any, Any]:
    """(background, text) colours for a margin painted in the grid's padding colour."""
    bg = int(round(pad_value * 255))
    fg = 0 if bg > 127 else 255
    if channels == 1:
        return bg, fg
    return (bg,) * 3, (fg,) * 3


def title_height(title: str, width: int) -> int:
    """Height of the band `add_title` puts above an image `width` pixels wide."""
    return wrap_title(title, width).height


def add_title(array: np.ndarray, title: str, pad_value: float) -> np.ndarray:
    """`array` (H, W, C) uint8 with a band holding `title` on top (``title_height(title, W)`` pixels).

    The title wraps, or shrinks, to fit the width (`wrap_title`); it is never cut.
    """
    from PIL import Image, ImageDraw

    height, width, channels = array.shape
    layout = wrap_title(title, width)
    bg, fg = _colours(pad_value, channels)
    band = Image.new("L" if channels == 1 else "RGB", (width, layout.height), bg)
    draw = ImageDraw.Draw(band)
    step = line_height(layout.size)
    for i, line in enumerate(layout.lines):
        draw.text((MARGIN, 2 + i * step + step / 2), line, fill=fg, font=font(layout.size), anchor="lm")
    strip = np.asarray(band, dtype=np.uint8).reshape(layout.height, width, channels)
    return np.concatenate([strip, array], axis=0)


def label_width(labels: Sequence[str]) -> int:
    """Width of the margin `add_row_labels` adds for `labels`: the widest label and its padding."""
    return int(np.ceil(max((text_width(label, LABEL_FONT) for label in labels), default=0.0))) + 2 * LABEL_PAD


def row_centres(height: int, n_rows: int, top: int = 0) -> list[float]:
    """The vertical centres of `n_rows` equal rows of a grid `height` pixels tall starting at `top`."""
    step = height / max(n_rows, 1)
    return [top + (i + 0.5) * step for i in range(n_rows)]


def add_row_labels(array: np.ndarray, labels: Sequence[str], pad_value: float,
                   centres: Sequence[float] | None = None, width: int | None = None) -> np.ndarray:
    """`array` (H, W, C) with a margin on the right holding one label per row.

    Args:
        array: The image grid.
        labels: The text of each label.
        pad_value: The grid's padding colour, also the margin's.
        centres: The vertical centre of each label (default: `len(labels)` equal rows of `array`).
        width: The margin's width (default: `label_width(labels)`, just wide enough).
    """
    from PIL import Image, ImageDraw

    height, _, channels = array.shape
    width = label_width(labels) if width is None else width
    centres = row_centres(height, len(labels)) if centres is None else centres
    bg, fg = _colours(pad_value, channels)
    margin = Image.new("L" if channels == 1 else "RGB", (width, height), bg)
    draw = ImageDraw.Draw(margin)
    for label, y in zip(labels, centres, strict=True):
        draw.text((LABEL_PAD, y), label, fill=fg, font=font(LABEL_FONT), anchor="lm")
    strip = np.asarray(margin, dtype=np.uint8).reshape(height, width, channels)
    return np.concatenate([array, strip], axis=1)
