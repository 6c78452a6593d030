"""``grid_posteriors.gif``: the runs' posterior traversal GIFs side by side, as disentangling-vae's
``plot_grid_gifs`` did (its ``bin/plot_all.sh``), with labels.

Rows are losses, columns datasets; when a loss has several runs on one dataset,
its k-th run goes to row ``<loss> #k``. Each cell is a run's
``posterior_traversals.gif`` (drawn first when missing) without the title band and
row labels dvae drew around it (the GIF's comment says where they are), captioned
with the run's name, scaled to one common width (each row as tall as its tallest
GIF) and played in step: frame i of the grid shows frame ``i * n_k // n`` of a GIF
with ``n_k`` frames. Missing GIFs are drawn
only from datasets already in the data dir: comparing runs never downloads one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dvae_cli.compare.table import Row
from dvae_cli.errors import CorruptFileError, DvaeError
from dvae_cli.runs.layout import MODEL, POSTERIOR_GIF
from dvae_cli.runs.summary import RunSummary
from dvae_cli.viz.labels import TitleLayout, font, line_height, text_width, wrap_title

Log = Callable[[str], None]
GRID_FILE = "grid_posteriors.gif"
#: The traversal GIF of each run (``dvae plot NAME gif-traversals``).
GIF_FILE = POSTERIOR_GIF
PAD = 7
HEADER_HEIGHT = 26
CAPTION_HEIGHT = 18
FONT_SIZE = 14
CAPTION_FONT_SIZE = 12
#: Height of a row none of whose runs has a GIF (at most the tallest cell's).
EMPTY_ROW_HEIGHT = 80
WHITE, BLACK, GREY = (255, 255, 255), (0, 0, 0), (150, 150, 150)


@dataclass(frozen=True)
class GridLayout:
    """Where everything goes in a frame of the grid (pixels).

    Attributes:
        row_labels, column_labels: The losses (``btcvae #2`` for a loss's second run) and datasets.
        cell: (height, width): the common width of the cells and the tallest one's height.
        label_width: Width of the row label column on the left.
        header_height: Height of the dataset names above the columns (wrapped to the cell width).
        caption_height: Height of the run names above the cells (wrapped to the cell width).
        row_heights: Height of each row's cells (its tallest GIF); empty: ``cell[0]`` for every row.
    """

    row_labels: list[str]
    column_labels: list[str]
    cell: tuple[int, int]
    label_width: int
    header_height: int = HEADER_HEIGHT
    caption_height: int = CAPTION_HEIGHT
    row_heights: tuple[int, ...] = ()

    def row_height(self, row: int) -> int:
        """Height of the cells of `row`."""
        return self.row_heights[row] if self.row_heights else self.cell[0]

    @property
    def height(self) -> int:
        rows = sum(self.caption_height + self.row_height(i) + PAD for i in range(len(self.row_labels)))
        return self.header_height + rows + PAD

    @property
    def width(self) -> int:
        return self.label_width + len(self.column_labels) * (self.cell[1] + PAD) + PAD

    def origin(self, row: int, column: int) -> tuple[int, int]:
        """(y, x) of the top-left corner of a cell's caption."""
        above = sum(self.caption_height + self.row_height(i) + PAD for i in range(row))
        return (self.header_height + PAD + above,
                self.label_width + PAD + column * (self.cell[1] + PAD))


def arrange(rows: Sequence[Row]) -> tuple[list[str], list[str], dict[tuple[int, int], Row]]:
    """Row labels, column labels (datasets) and the table row in each cell, in table order."""
    datasets: dict[str, None] = {}
    losses: dict[str, int] = {}
    placed: dict[tuple[str, str], int] = {}
    cells: dict[tuple[str, int, str], Row] = {}
    for row in rows:
        loss, dataset = row.values.get("loss"), row.values.get("dataset")
        if not loss or not dataset:
            continue  # a broken run: no spec
        datasets.setdefault(str(dataset), None)
        k = placed.get((loss, dataset), 0)
        placed[(loss, dataset)] = k + 1
        losses[loss] = max(losses.get(loss, 0), k + 1)
        cells[(loss, k, dataset)] = row
    row_keys = [(loss, k) for loss, count in losses.items() for k in range(count)]
    labels = [loss if losses[loss] == 1 else f"{loss} #{k + 1}" for loss, k in row_keys]
    columns = list(datasets)
    grid = {(i, j): cells[(loss, k, d)] for i, (loss, k) in enumerate(row_keys) for j, d in enumerate(columns)
            if (loss, k, d) in cells}
    return labels, columns, grid


def ensure_gif(row: Row, data_dir: Path | None, log: Log) -> Path | None:
    """The traversal GIF of the first run of `row` that has one, else drawn for its first run.

    Returns None (after logging why) when the GIF cannot be drawn, e.g. without the dataset.
    """
    for summary in row.runs:
        if (summary.path / GIF_FILE).is_file():
            return summary.path / GIF_FILE
    summary = row.runs[0]
    return _draw_gif(summary, data_dir, log)


def _draw_gif(summary: RunSummary, data_dir: Path | None, log: Log) -> Path | None:
    """Draw a run's traversal GIF with the datasets already on disk (never downloads one)."""
    if summary.status == "broken" or not (summary.path / MODEL).is_file():
        log(f"{summary.name}: no {GIF_FILE} and no model.pt to draw it")
        return None
    from dvae_cli.data.download import OFFLINE_ENV
    from dvae_cli.viz.plots import make_plots

    log(f"{summary.name}: drawing {GIF_FILE}")
    before = os.environ.get(OFFLINE_ENV)
    os.environ[OFFLINE_ENV] = "1"
    try:
        written = make_plots(summary.path, ["gif-traversals"], data_dir=data_dir, log=log)
    except DvaeError as exc:
        log(f"{summary.name}: cannot draw {GIF_FILE}: {exc}")
        return None
    finally:
        if before is None:
            os.environ.pop(OFFLINE_ENV, None)
        else:
            os.environ[OFFLINE_ENV] = before
    return written[0] if written else None


def read_gif(path: Path) -> list[np.ndarray]:
    """The frames of a GIF as RGB uint8 arrays (H, W, 3).

    Raises:
        CorruptFileError: naming the file, if it cannot be decoded or holds no image.
    """
    import imageio.v3 as iio

    try:
        frames = np.asarray(iio.imread(path, index=None, plugin="pillow"))
    except Exception as exc:  # noqa: BLE001 - imageio's plugins raise many kinds for a damaged file
        lines = str(exc).strip().splitlines()
        raise CorruptFileError(f"cannot read {path}: {lines[0] if lines else type(exc).__name__}") from None
    if frames.ndim == 2:  # one grayscale frame
        frames = frames[None, :, :, None]
    elif frames.ndim == 3:  # grayscale frames (F, H, W) or a single RGB frame (H, W, C)
        frames = frames[None] if frames.shape[-1] in (3, 4) else frames[..., None]
    if frames.ndim != 4 or frames.shape[-1] not in (1, 2, 3, 4) or 0 in frames.shape:
        raise CorruptFileError(f"cannot read {path}: frames of shape {frames.shape} are not images")
    if frames.shape[-1] <= 2:  # gray, or gray and alpha
        frames = np.repeat(frames[..., :1], 3, axis=-1)
    return [frame[..., :3].astype(np.uint8) for frame in frames]


def gif_margins(path: Path) -> tuple[int, int]:
    """(top, right): the title band and label margin dvae drew around a GIF's image grid
    (its `dvae_cli.viz.grid.layout_comment`); (0, 0) for another GIF."""
    from PIL import Image

    from dvae_cli.viz.grid import parse_layout_comment

    try:
        with Image.open(path) as image:
            return parse_layout_comment(image.info.get("comment"))
    except (OSError, ValueError):
        return 0, 0


def crop(frames: Sequence[np.ndarray], margins: tuple[int, int]) -> list[np.ndarray]:
    """`frames` without `margins` (top rows, right columns), unless nothing would be left."""
    top, right = margins
    height, width = frames[0].shape[:2]
    if top >= height or right >= width:
        return list(frames)
    return [frame[top:, :width - right] for frame in frames]


def cell_size(sizes: Sequence[tuple[int, int]], max_cell: int | None) -> tuple[int, int]:
    """The common (height, width) of the cells.

    Every GIF is scaled to the same width (the widest GIF's, aspect kept), so that
    the images of all cells have one width; the height is the tallest scaled GIF's.
    With `max_cell`, the width shrinks until neither side exceeds it.
    """
    if not sizes:
        return 64, 64
    width = max(w for _, w in sizes)
    if max_cell is not None:
        width = min(width, max_cell)

    def tallest(w: int) -> int:
        return max(scaled_height(size, w) for size in sizes)

    height = tallest(width)
    if max_cell is not None and height > max_cell:
        width = max(1, int(width * max_cell / height))
        height = min(max_cell, tallest(width))
    return height, width


def scaled_height(size: tuple[int, int], width: int) -> int:
    """The height of a GIF of `size` (height, width) scaled to `width`."""
    return max(1, round(size[0] * width / size[1]))


def row_heights(sizes: Sequence[tuple[int, tuple[int, int]]], n_rows: int, cell: tuple[int, int]) -> tuple[int, ...]:
    """Each row's height: its tallest GIF scaled to the cell width. `sizes`: (row, (height, width)) per GIF."""
    tallest = [0] * n_rows
    for row, size in sizes:
        tallest[row] = max(tallest[row], scaled_height(size, cell[1]))
    return tuple(min(cell[0], height or EMPTY_ROW_HEIGHT) for height in tallest)


def fit(frame: np.ndarray, cell: tuple[int, int]) -> np.ndarray:
    """`frame` scaled to the cell's width (aspect kept), at the top of a white cell (height, width)."""
    from PIL import Image

    height, width = frame.shape[:2]
    scale = cell[1] / width
    size = (cell[1], min(cell[0], max(1, round(height * scale))))
    image = Image.fromarray(frame)
    if size != (width, height):
        image = image.resize(size, Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.NEAREST)
    canvas = np.full((*cell, 3), 255, dtype=np.uint8)
    canvas[:size[1], :] = np.asarray(image)
    return canvas


def write_traversal_grid(rows: Sequence[Row], path: Path, data_dir: Path | None = None, log: Log | None = None,
                         max_cell: int | None = 400) -> GridLayout | None:
    """Write ``grid_posteriors.gif`` for the table rows; None (nothing written) if no run has a GIF.

    Args:
        rows: Table rows (runs or groups of seeds), in the order wanted.
        path: The GIF to write.
        data_dir: Datasets, to draw the missing per-run GIFs.
        log: Called with what is drawn or missing.
        max_cell: Largest side of a cell in pixels (None: the largest GIF's size).

    Returns:
        The layout of the frames written.
    """
    say = log or (lambda message: None)
    labels, columns, grid = arrange(rows)
    gifs = {}
    for position, row in grid.items():
        gif = ensure_gif(row, data_dir, say)
        if gif is not None:
            try:
                gifs[position] = crop(read_gif(gif), gif_margins(gif))
            except CorruptFileError as exc:
                say(f"skipped: {exc}")
    if not gifs:
        say(f"skipped {path.name}: no run has or can draw {GIF_FILE}")
        return None
    cell = cell_size([frames[0].shape[:2] for frames in gifs.values()], max_cell)
    header = max(HEADER_HEIGHT, *(_wrap(c, cell[1], FONT_SIZE).height for c in columns))
    caption = max(CAPTION_HEIGHT, *(_wrap(str(row.values.get("name")), cell[1], CAPTION_FONT_SIZE).height
                                    for row in grid.values()))
    heights = row_heights([(r, frames[0].shape[:2]) for (r, _), frames in gifs.items()], len(labels), cell)
    layout = GridLayout(labels, columns, cell, label_width(labels), header, caption, heights)
    n_frames = max(len(frames) for frames in gifs.values())
    background = _background(layout, grid, gifs)
    fitted = {(r, c): [fit(frame, (heights[r], cell[1])) for frame in frames] for (r, c), frames in gifs.items()}
    out = []
    for i in range(n_frames):
        frame = background.copy()
        for (r, c), frames in fitted.items():
            y, x = layout.origin(r, c)
            y += layout.caption_height
            frame[y:y + heights[r], x:x + cell[1]] = frames[i * len(frames) // n_frames]
        out.append(frame)
    from dvae_cli.viz.grid import write_gif
    from dvae_cli.viz.run_figures import GIF_FPS

    write_gif(path, out, GIF_FPS)
    return layout


def _wrap(text: str, width: int, size: int) -> TitleLayout:
    return wrap_title(text, width, size=size, min_size=min(size, 9))


def label_width(labels: Sequence[str]) -> int:
    """Width in pixels of the row label column for `labels`."""
    return int(max((text_width(label, FONT_SIZE) for label in labels), default=0)) + 2 * PAD + 4


def _draw_centred(draw: Any, text: str, x: float, top: float, height: float, width: int, size: int,
                  colour: tuple[int, int, int]) -> None:
    """`text` wrapped to `width` and centred on `x` and on the band (`top`, `height`)."""
    wrapped = _wrap(text, width, size)
    step = line_height(wrapped.size)
    first = top + (height - step * len(wrapped.lines)) / 2 + step / 2
    for k, line in enumerate(wrapped.lines):
        draw.text((x, first + k * step), line, fill=colour, font=font(wrapped.size), anchor="mm")


def _background(layout: GridLayout, grid: dict[tuple[int, int], Row], gifs: dict[tuple[int, int], Any]) -> np.ndarray:
    """The still part of every frame: labels, captions and the empty cells."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (layout.width, layout.height), WHITE)
    draw = ImageDraw.Draw(image)
    cell_w = layout.cell[1]
    caption = layout.caption_height
    for j, dataset in enumerate(layout.column_labels):
        _, x = layout.origin(0, j)
        _draw_centred(draw, dataset, x + cell_w / 2, 0, layout.header_height, cell_w, FONT_SIZE, BLACK)
    for i, label in enumerate(layout.row_labels):
        y, _ = layout.origin(i, 0)
        draw.text((PAD, y + caption + layout.row_height(i) / 2), label, fill=BLACK, font=font(FONT_SIZE), anchor="lm")
    for (i, j), row in grid.items():
        y, x = layout.origin(i, j)
        cell_h = layout.row_height(i)
        _draw_centred(draw, str(row.values.get("name")), x + cell_w / 2, y, caption, cell_w, CAPTION_FONT_SIZE,
                      BLACK)
        if (i, j) not in gifs:
            draw.rectangle((x, y + caption, x + cell_w - 1, y + caption + cell_h - 1), outline=GREY)
            _draw_centred(draw, "no traversal GIF", x + cell_w / 2, y + caption, cell_h, cell_w,
                          CAPTION_FONT_SIZE, GREY)
    return np.asarray(image, dtype=np.uint8).copy()
