"""Text on image figures, checked without a trained run: titles that fit, row labels, sections, GIF comments."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dvae_cli.viz.grid import SEPARATOR, layout_comment, parse_layout_comment, stack_sections
from dvae_cli.viz.labels import (MARGIN, MIN_TITLE_FONT, TITLE_FONT, TITLE_HEIGHT, add_row_labels, add_title,
                                 label_width, line_height, text_width, wrap_title)
from dvae_cli.viz.sections import compose

CUT_TITLE = "quickstart · btcvae · sprites · originals (top), reconstructions (bottom)"


@pytest.mark.parametrize("width", [464, 300, 200, 120, 68, 30, 20])
def test_a_wrapped_title_fits_the_width_and_keeps_every_word(width):
    layout = wrap_title(CUT_TITLE, width)
    assert all(text_width(line, layout.size) <= width - 2 * MARGIN for line in layout.lines)
    assert "".join(" ".join(layout.lines).split()) == "".join(CUT_TITLE.split())   # nothing cut
    assert MIN_TITLE_FONT <= layout.size <= TITLE_FONT
    assert layout.height == len(layout.lines) * line_height(layout.size) + 4


def test_wrapping_prefers_separators_then_shrinks_then_breaks_words():
    assert wrap_title(CUT_TITLE, 2000).lines == [CUT_TITLE]
    assert wrap_title(CUT_TITLE, 2000).height == TITLE_HEIGHT
    lines = wrap_title(CUT_TITLE, 300).lines
    assert len(lines) == 2 and lines[0].endswith("·") and not lines[1].startswith("·")
    word = "reconstructions"
    fits_small = int(text_width(word, MIN_TITLE_FONT)) + 2 * MARGIN + 1
    shrunk = wrap_title(word, fits_small)
    assert shrunk.lines == [word] and shrunk.size < TITLE_FONT          # shrunk, not broken
    broken = wrap_title(word, fits_small - 20)
    assert broken.size == MIN_TITLE_FONT and len(broken.lines) > 1 and "".join(broken.lines) == word
    assert wrap_title("run · loss\nepoch 3 of 10", 2000).lines == ["run · loss", "epoch 3 of 10"]


def test_add_title_draws_every_line_in_a_band_as_tall_as_its_lines():
    grid = np.zeros((50, 200, 1), dtype=np.uint8)                      # black images, white padding
    titled = add_title(grid, CUT_TITLE, pad_value=1.0)
    layout = wrap_title(CUT_TITLE, 200)
    assert titled.shape == (50 + layout.height, 200, 1) and len(layout.lines) >= 2
    step = line_height(layout.size)
    for k in range(len(layout.lines)):                                  # ink in every line's band
        assert (titled[2 + k * step:2 + (k + 1) * step, :, 0] < 128).any()
    assert (titled[layout.height:] == grid).all()


def test_row_labels_margin_is_as_wide_as_the_widest_label():
    grid = np.full((60, 40, 3), 0, dtype=np.uint8)
    labelled = add_row_labels(grid, ["z0", "z12 KL=3.25"], pad_value=1.0)
    assert labelled.shape == (60, 40 + label_width(["z12 KL=3.25"]), 3)
    assert label_width(["z12 KL=3.25"]) > label_width(["z12"]) > 0
    margin = labelled[:, 40:, 0]
    assert (margin[:30] < 128).any() and (margin[30:] < 128).any()


def test_sections_are_split_by_a_grey_line_and_labelled_per_section_or_row():
    images = torch.zeros(8, 1, 8, 8)
    array, tops = stack_sections([np.zeros((10, 20, 1), np.uint8), np.zeros((12, 20, 1), np.uint8)], 1.0)
    assert array.shape == (10 + SEPARATOR + 12, 20, 1) and tops == [0, 10 + SEPARATOR]
    assert (array[10:10 + SEPARATOR, :, 0] == 128).all(axis=1).sum() == 2
    figure = compose([(images[:4], ["originals"]), (images[4:], ["z1", "z0"])], nrow=2, pad_value=1.0,
                     title="a title")
    grid_w = 2 * 8 + 3 * 2
    assert figure.shape[1] == grid_w + label_width(["originals"])
    assert figure.shape[0] == wrap_title("a title", figure.shape[1]).height + (2 * 8 + 3 * 2) + SEPARATOR + 22
    plain = compose([(images[:4], ["originals"]), (images[4:], ["z1", "z0"])], nrow=2, pad_value=1.0)
    assert plain.shape == (4 * 8 + 5 * 2, grid_w, 1)                    # the reference's one grid
    shown = compose([(images[:2], ["a"]), (images[2:4], ["b"])], nrow=2, pad_value=1.0, show_loss=True)
    assert shown.shape == (2 * 8 + 3 * 2, grid_w + label_width(["a", "b"]), 1)


def test_gif_layout_comment_round_trips_and_ignores_other_comments():
    assert parse_layout_comment(layout_comment(40, 26).encode()) == (40, 26)
    assert parse_layout_comment(b"made with GIMP") == (0, 0)
    assert parse_layout_comment(None) == (0, 0)
    assert parse_layout_comment(b"dvae-layout top=x right=3") == (0, 0)
