"""Image figures in sections (originals | reconstructions | traversals): stacked grids, row labels, a title."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

#: One section of an image figure: its images (N, C, H, W) in [0, 1] and its labels,
#: one per grid row or a single one for the whole section (none: unlabelled).
Section = tuple["torch.Tensor", Sequence[str]]


def compose(sections: Sequence[Section], nrow: int, pad_value: float, upsample_factor: int = 1,
            title: str | None = None, show_loss: bool = False) -> np.ndarray:
    """The figure of image `sections`, `nrow` images per row: uint8 (H, W, C).

    Args:
        sections: The parts of the figure, top to bottom.
        nrow: Images per row.
        pad_value: The padding colour (0 black, 1 white).
        upsample_factor: Integer nearest-neighbour upsampling of every image.
        title: With a title, the sections are split by a separator band, labelled on
            the right (a section's single label centred on it) and the title goes on
            top, wrapped to the width. None gives the reference's layout: one plain
            grid, whose rows are labelled only under `show_loss` and only when every
            section has one label per row (as the reference's ``add_labels``).
        show_loss: See `title`.
    """
    import torch

    from dvae_cli.viz.grid import grid_array, stack_sections
    from dvae_cli.viz.labels import add_row_labels, add_title, row_centres
    from dvae_cli.viz.traversals import upsample

    rows = [-(-images.shape[0] // nrow) for images, _ in sections]
    if title is None:
        images = upsample(torch.cat([images for images, _ in sections]), upsample_factor)
        array = grid_array(images, nrow, pad_value=pad_value)
        if show_loss and all(len(labels) == n for (_, labels), n in zip(sections, rows, strict=True)):
            array = add_row_labels(array, [label for _, labels in sections for label in labels], pad_value)
        return array
    grids = [grid_array(upsample(images, upsample_factor), nrow, pad_value=pad_value) for images, _ in sections]
    array, tops = stack_sections(grids, pad_value)
    labels: list[str] = []
    centres: list[float] = []
    for (_, section_labels), grid, top, n in zip(sections, grids, tops, rows, strict=True):
        if section_labels:
            labels.extend(section_labels)
            centres.extend(row_centres(grid.shape[0], len(section_labels) if len(section_labels) == n else 1, top))
    if labels:
        array = add_row_labels(array, labels, pad_value, centres)
    return add_title(array, title, pad_value)
