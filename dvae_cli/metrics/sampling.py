"""Drawing images by their factors, for the metrics that sample (FactorVAE, BetaVAE, ...).

disentanglement_lib samples factors and renders the matching observation. Here the
representation of every image is computed once, so "an image with factor k equal to
v, the other factors random" is a uniform draw among the images whose class k is v:
the same distribution on a full factorial grid, and a well-defined one on any grid.
"""

from __future__ import annotations

import numpy as np


class FactorSampler:
    """Uniform draws of image indices, optionally with one factor fixed.

    Args:
        classes: (N, K) factor classes of the images.
        rng: The random generator every draw uses.
    """

    def __init__(self, classes: np.ndarray, rng: np.random.Generator) -> None:
        self.classes = np.asarray(classes, dtype=np.int64)
        self.rng = rng
        self.n, self.num_factors = self.classes.shape
        self._groups = []
        for k in range(self.num_factors):
            order = np.argsort(self.classes[:, k], kind="stable")
            values, starts, counts = np.unique(self.classes[order, k], return_index=True, return_counts=True)
            lookup = {int(v): (int(s), int(c)) for v, s, c in zip(values, starts, counts, strict=True)}
            self._groups.append((order, lookup))

    def uniform(self, size: int) -> np.ndarray:
        """`size` image indices drawn uniformly (with replacement)."""
        return self.rng.integers(0, self.n, size=size)

    def with_factor(self, factor: int, values: np.ndarray) -> np.ndarray:
        """For each value in `values`, an image whose class `factor` equals it."""
        order, lookup = self._groups[factor]
        starts = np.array([lookup[int(v)][0] for v in values])
        counts = np.array([lookup[int(v)][1] for v in values])
        return order[starts + (self.rng.random(len(values)) * counts).astype(np.int64)]
