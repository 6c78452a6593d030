"""Drawing images by their factors, for the metrics that sample (FactorVAE, BetaVAE, ...).

disentanglement_lib samples factors and renders the matching observation. Here the
representation of every image is computed once, so "an image with factor k equal to
v, the other factors random" is a uniform draw among the images whose class k is v:
the same distribution on a full factorial grid, and a well-defined one on any grid.

disentanglement_lib's fresh draws from the full grid make its training and test
points practically disjoint; here the images scored can be few (``--max-images``, a
small folder), so `held_out_split` splits them into disjoint pools first and every
held-out score trains on one and tests on the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class FactorSampler:
    """Uniform draws of image indices, optionally with one factor fixed.

    Args:
        classes: (N, K) factor classes of the images.
        rng: The random generator every draw uses.
        rows: Draw only among these image indices (a `HeldOutSplit` pool; None: all N).
            Draws are indices into the N images; a value asked of `with_factor` must be
            taken by one of `rows`.
    """

    def __init__(self, classes: np.ndarray, rng: np.random.Generator, rows: np.ndarray | None = None) -> None:
        self.classes = np.asarray(classes, dtype=np.int64)
        self.rng = rng
        self.rows = np.arange(len(self.classes)) if rows is None else np.asarray(rows, dtype=np.int64)
        self.n, self.num_factors = len(self.rows), self.classes.shape[1]
        pooled = self.classes[self.rows]
        self._groups = []
        for k in range(self.num_factors):
            order = np.argsort(pooled[:, k], kind="stable")
            values, starts, counts = np.unique(pooled[order, k], return_index=True, return_counts=True)
            lookup = {int(v): (int(s), int(c)) for v, s, c in zip(values, starts, counts, strict=True)}
            self._groups.append((self.rows[order], lookup))

    def uniform(self, size: int) -> np.ndarray:
        """`size` image indices drawn uniformly among `rows` (with replacement)."""
        return self.rows[self.rng.integers(0, self.n, size=size)]

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


#: The fewest scored images a held-out score is computed on; below it the score is refused.
MIN_HELD_OUT_IMAGES = 30


@dataclass(frozen=True)
class HeldOutSplit:
    """Disjoint training and test images for the held-out scores, and the points drawn from them.

    The images scored are split once, at random, into a training pool and a test pool in
    the protocol's proportion (num_train : num_eval). The classifier-based scores (DCI,
    DCI-ES, SAP, explicitness, InfoE) train on `train_rows` and test on `test_rows`, drawn
    without replacement from their pools; BetaVAE and FactorVAE build their training
    points from `train_pool` and their test points from `test_pool`. No image is in both.

    Attributes:
        train_pool, test_pool: (P,) and (Q,) image indices, disjoint, P + Q = N.
        train_rows, test_rows: (min(num_train, P),) and (min(num_eval, Q),) distinct indices
            of the pools: the classifier points.
        asked: (num_train, num_eval) of the protocol.
    """

    train_pool: np.ndarray
    test_pool: np.ndarray
    train_rows: np.ndarray
    test_rows: np.ndarray
    asked: tuple[int, int]

    @property
    def shrunk(self) -> bool:
        """Whether fewer points than the protocol asks were available (fewer distinct images)."""
        return (len(self.train_rows), len(self.test_rows)) != self.asked

    def protocol(self) -> dict[str, object]:
        """What the protocols of the held-out scores record about the split."""
        entry: dict[str, object] = {"split": "disjoint train/test images", "train_images": len(self.train_pool),
                                    "test_images": len(self.test_pool)}
        if self.shrunk:
            entry["shrunk_from"] = list(self.asked)
        return entry

    def warning(self, n: int) -> str | None:
        """One line for the user when the points shrank, else None."""
        if not self.shrunk:
            return None
        return (f"warning: {n:,} images cannot give {self.asked[0]:,} training and {self.asked[1]:,} test points "
                f"without repeats; the held-out scores use {len(self.train_rows):,} and {len(self.test_rows):,} "
                "disjoint images (recorded in protocols; score more images for the full protocol)")


def held_out_split(n: int, num_train: int, num_eval: int, rng: np.random.Generator) -> HeldOutSplit:
    """Split `n` images into disjoint training and test pools and draw the classifier points from them.

    The pools take the protocol's proportions, ``P = round(n * num_train / (num_train + num_eval))``
    (at least 1 image each); each set of points is drawn without replacement from its pool,
    so where ``n < num_train + num_eval`` both sets shrink in proportion.

    Args:
        n: Images scored (>= 2).
        num_train, num_eval: Points the protocol asks for (>= 1 each).
        rng: The random generator.

    Raises:
        ValueError: for n < 2 or a non-positive number of points.
    """
    if n < 2 or num_train < 1 or num_eval < 1:
        raise ValueError(f"a held-out split needs n >= 2 and positive sizes, got {n}, {num_train}, {num_eval}")
    order = rng.permutation(n)
    pool = min(n - 1, max(1, round(n * num_train / (num_train + num_eval))))
    train_pool, test_pool = np.sort(order[:pool]), np.sort(order[pool:])
    train_rows = rng.choice(train_pool, min(num_train, len(train_pool)), replace=False)
    test_rows = rng.choice(test_pool, min(num_eval, len(test_pool)), replace=False)
    return HeldOutSplit(train_pool, test_pool, train_rows, test_rows, (num_train, num_eval))
