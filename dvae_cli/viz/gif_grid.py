"""``grid_posteriors.gif``: the runs' posterior traversal GIFs side by side, as disentangling-vae's
``plot_grid_gifs`` did (its ``bin/plot_all.sh``), with labels.

Rows are losses, columns datasets; when a loss has several runs on one dataset,
its k-th run goes to row ``<loss> #k``. Each cell is a run's
``posterior_traversals.gif`` (drawn first when missing), captioned with the run's
name, scaled to fit one common cell size and played in step: frame i of the grid
shows frame ``i * n_k // n`` of a GIF with ``n_k`` frames. Missing GIFs are drawn
only from datasets already in the data dir: comparing runs never downloads one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from dvae_cli.compare.table import Row
from dvae_cli.errors import CorruptFileError, DvaeError
from dvae_cli.runs.summary import RunSummary

Log = Callable[[str], None]
GRID_FILE = "grid_posteriors.gif"
GIF_FILE = "posterior_traversals.gif"
PAD = 7
HEADER_HEIGHT = 26
CAPTION_HEIGHT = 18
FONT_SIZE = 14
CAPTION_FONT_SIZE = 12
WHITE, BLACK, GREY = (255, 255, 255), (0, 0, 0), (150, 150, 150)


@dataclass(frozen=True)
class GridLayout:
    """Where everything goes in a frame of the grid (pixels).

    Attributes:
        row_labels, column_labels: The losses (``btcvae #2`` for a loss's second run) and datasets.
        cell: (height, width) of every cell.
        label_width: Width of the row label column on the left.
    """

    row_labels: list[str]
    column_labels: list[str]
    cell: tuple[int, int]
    label_width: int

    @property
    def height(self) -> int:
        return HEADER_HEIGHT + len(self.row_labels) * (CAPTION_HEIGHT + self.cell[0] + PAD) + PAD

    @property
    def width(self) -> int:
        return self.label_width + len(self.column_labels) * (self.cell[1] + PAD) + PAD

    def origin(self, row: int, column: int) -> tuple[int, int]:
        """(y, x) of the top-left corner of a cell's caption."""
        return (HEADER_HEIGHT + PAD + row * (CAPTION_HEIGHT + self.cell[0] + PAD),
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
    if summary.status == "broken" or not (summary.path / "model.pt").is_file():
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


def cell_size(sizes: Sequence[tuple[int, int]], max_cell: int | None) -> tuple[int, int]:
    """The common (height, width) of the cells: the largest GIF, scaled down to `max_cell` if given."""
    height = max((h for h, _ in sizes), default=64)
    width = max((w for _, w in sizes), default=64)
    if max_cell is not None and max(height, width) > max_cell:
        scale = max_cell / max(height, width)
        height, width = max(1, round(height * scale)), max(1, round(width * scale))
    return height, width


def fit(frame: np.ndarray, cell: tuple[int, int]) -> np.ndarray:
    """`frame` scaled (aspect kept) and centred on a white cell of size `cell` (height, width)."""
    from PIL import Image

    height, width = frame.shape[:2]
    scale = min(cell[0] / height, cell[1] / width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = Image.fromarray(frame)
    if size != (width, height):
        image = image.resize(size, Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.NEAREST)
    canvas = np.full((*cell, 3), 255, dtype=np.uint8)
    top, left = (cell[0] - size[1]) // 2, (cell[1] - size[0]) // 2
    canvas[top:top + size[1], left:left + size[0]] = np.asarray(image)
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
    from dvae_cli.runs.atomic import write_with

    say = log or (lambda message: None)
    labels, columns, grid = arrange(rows)
    gifs = {}
    for position, row in grid.items():
        gif = ensure_gif(row, data_dir, say)
        if gif is not None:
            try:
                gifs[position] = read_gif(gif)
            except CorruptFileError as exc:
                say(f"skipped: {exc}")
    if not gifs:
        say(f"skipped {path.name}: no run has or can draw {GIF_FILE}")
        return None
    cell = cell_size([frames[0].shape[:2] for frames in gifs.values()], max_cell)
    layout = GridLayout(labels, columns, cell, label_width=label_width(labels))
    n_frames = max(len(frames) for frames in gifs.values())
    background = _background(layout, grid, gifs)
    fitted = {position: [fit(frame, cell) for frame in frames] for position, frames in gifs.items()}
    out = []
    for i in range(n_frames):
        frame = background.copy()
        for (r, c), frames in fitted.items():
            y, x = layout.origin(r, c)
            y += CAPTION_HEIGHT
            frame[y:y + cell[0], x:x + cell[1]] = frames[i * len(frames) // n_frames]
        out.append(frame)
    import imageio.v3 as iio

    from dvae_cli.viz.plots import GIF_FPS

    stack = np.stack(out)
    write_with(path, lambda handle: iio.imwrite(handle, stack, extension=".gif",  # type: ignore[call-overload]
                                                duration=1000 / GIF_FPS, loop=0))
    return layout


@lru_cache(maxsize=4)
def _font(size: int) -> Any:
    from matplotlib import font_manager
    from PIL import ImageFont

    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)


def label_width(labels: Sequence[str]) -> int:
    """Width in pixels of the row label column for `labels`."""
    font = _font(FONT_SIZE)
    return int(max((font.getlength(label) for label in labels), default=0)) + 2 * PAD + 4


def _background(layout: GridLayout, grid: dict[tuple[int, int], Row], gifs: dict[tuple[int, int], Any]) -> np.ndarray:
    """The still part of every frame: labels, captions and the empty cells."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (layout.width, layout.height), WHITE)
    draw = ImageDraw.Draw(image)
    font, small = _font(FONT_SIZE), _font(CAPTION_FONT_SIZE)
    cell_h, cell_w = layout.cell
    for j, dataset in enumerate(layout.column_labels):
        _, x = layout.origin(0, j)
        draw.text((x + cell_w / 2, HEADER_HEIGHT / 2), dataset, fill=BLACK, font=font, anchor="mm")
    for i, label in enumerate(layout.row_labels):
        y, _ = layout.origin(i, 0)
        draw.text((PAD, y + CAPTION_HEIGHT + cell_h / 2), label, fill=BLACK, font=font, anchor="lm")
    for (i, j), row in grid.items():
        y, x = layout.origin(i, j)
        caption = _fit_text(draw, str(row.values.get("name")), small, cell_w)
        draw.text((x + cell_w / 2, y + CAPTION_HEIGHT / 2), caption, fill=BLACK, font=small, anchor="mm")
        if (i, j) not in gifs:
            draw.rectangle((x, y + CAPTION_HEIGHT, x + cell_w - 1, y + CAPTION_HEIGHT + cell_h - 1), outline=GREY)
            draw.text((x + cell_w / 2, y + CAPTION_HEIGHT + cell_h / 2), "no traversal GIF", fill=GREY, font=small,
                      anchor="mm")
    return np.asarray(image, dtype=np.uint8).copy()


def _fit_text(draw: Any, text: str, font: Any, width: int) -> str:
    while len(text) > 2 and draw.textlength(text, font=font) > width - 4:
        text = text.rstrip("…")[:-1] + "…"
    return text
