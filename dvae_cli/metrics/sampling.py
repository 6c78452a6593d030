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


def stratified_subset(classes: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` distinct image indices whose factor values are balanced, factor by factor.

    Every factor takes each of its values about equally often (``n / K_k`` times),
    independently of the other factors: row i asks for value ``perm_k(i) mod K_k`` of
    each factor k. On a full factorial grid (dSprites, Shapes3D, ...) every such
    combination exists; rows that ask for a repeated combination swap values among
    themselves (which keeps the counts) until none repeats. Combinations missing
    from another grid are made up with uniform draws among the images not chosen yet.

    Args:
        classes: (N, K) factor classes of the images.
        n: How many to choose (all N if n >= N).
        rng: The random generator.

    Returns:
        Sorted image indices, shape (min(n, N),).
    """
    classes = np.asarray(classes, dtype=np.int64)
    total = len(classes)
    if n >= total:
        return np.arange(total)
    sizes = classes.max(axis=0) + 1
    keys = np.ravel_multi_index(classes.T, sizes)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    wanted = np.stack([rng.permutation(np.arange(n) % size) for size in sizes], axis=1)
    for _ in range(20):   # rows asking for a repeated or missing combination swap values among themselves,
        wanted_keys = np.ravel_multi_index(wanted.T, sizes)   # which keeps every factor's counts balanced
        position = np.minimum(np.searchsorted(sorted_keys, wanted_keys), total - 1)
        found = sorted_keys[position] == wanted_keys
        _, first = np.unique(wanted_keys, return_index=True)
        repeated = np.ones(n, dtype=bool)
        repeated[first] = False
        redo = np.flatnonzero(repeated | ~found)
        if len(redo) < 2:
            break
        for k in range(len(sizes)):
            wanted[redo, k] = wanted[rng.permutation(redo), k]
    chosen = np.unique(order[position[found]])
    if len(chosen) < n:
        rest = np.setdiff1d(np.arange(total), chosen, assume_unique=True)
        chosen = np.concatenate([chosen, rng.choice(rest, n - len(chosen), replace=False)])
    return np.sort(chosen[:n])
