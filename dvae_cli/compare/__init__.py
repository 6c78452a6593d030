"""Runs side by side: tables (`compare_runs`, `render`) for ``dvae compare``.

The figures are in `dvae_cli.viz.compare_figures` (matplotlib) and
`dvae_cli.viz.gif_grid` (the grid of traversal GIFs).
"""

from dvae_cli.compare.comparison import compare_runs
from dvae_cli.compare.formats import FORMATS, render

__all__ = ["FORMATS", "compare_runs", "render"]
