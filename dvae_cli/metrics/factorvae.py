"""The FactorVAE score of Kim & Mnih 2018, with disentanglement_lib's protocol.

Kim, H., Mnih, A. "Disentangling by Factorising." ICML 2018 (Section 4).

Each vote fixes one random factor over a batch of images, normalises the batch's
representation by the global standard deviation of each latent, and votes for the
latent with the smallest variance (among latents whose global std is at least the
prune threshold). A majority-vote classifier maps each latent to its most frequent
factor; the score is its accuracy on fresh votes, built from images disjoint from
those of the training votes. With no active latent there is nothing to vote for and
the score is undefined (null with the reason), not 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dvae_cli.metrics.sampling import FactorSampler

if TYPE_CHECKING:
    from dvae_cli.metrics.runner import MetricInputs, MetricsReport


@dataclass
class FactorVAEScore:
    """The score, or why there is none.

    Attributes:
        train_accuracy, eval_accuracy: Majority-vote accuracy on the training and the
            held-out votes; None when no latent is active (nothing to vote for).
        active_dims: Latents whose global std reaches the prune threshold.
        votes: (K, D) training votes.
        not_computed: Why the score is None (else None).
    """

    train_accuracy: float | None
    eval_accuracy: float | None
    active_dims: list[int]
    votes: np.ndarray
    not_computed: str | None = None


def _votes(codes: np.ndarray, sampler: FactorSampler, global_std: np.ndarray, active: np.ndarray,
           batch_size: int, num_points: int) -> np.ndarray:
    k = sampler.rng.integers(0, sampler.num_factors, size=num_points)
    votes = np.zeros((sampler.num_factors, codes.shape[1]), dtype=np.int64)
    anchors = sampler.uniform(num_points)
    active_index = np.flatnonzero(active)
    for factor in range(sampler.num_factors):
        rows = np.flatnonzero(k == factor)
        if len(rows) == 0:
            continue
        values = sampler.classes[anchors[rows], factor]
        batch = sampler.with_factor(factor, np.repeat(values, batch_size)).reshape(len(rows), batch_size)
        local = codes[batch].var(axis=1, ddof=1)[:, active_index] / global_std[active_index] ** 2
        np.add.at(votes, (factor, active_index[np.argmin(local, axis=1)]), 1)
    return votes


def factorvae_score(codes: np.ndarray, classes: np.ndarray, rng: np.random.Generator, batch_size: int = 64,
                    num_train: int = 10_000, num_eval: int = 5_000, num_variance_estimate: int = 10_000,
                    prune_threshold: float = 0.05, pools: tuple[np.ndarray, np.ndarray] | None = None
                    ) -> FactorVAEScore:
    """The FactorVAE score of mean representations `codes` (N, D) of images with `classes` (N, K).

    Args:
        codes, classes: The representation and factor classes of the N images.
        rng: Seeds every draw.
        batch_size: Images per vote (64).
        num_train, num_eval: Votes to fit the majority-vote classifier on and to score it on.
        num_variance_estimate: Images for the global standard deviations.
        prune_threshold: Latents whose global std is below it get no vote (Kim & Mnih: collapsed).
        pools: (training images, test images), disjoint (`dvae_cli.metrics.sampling.held_out_split`):
            the global std and the training votes come from the first, the scored votes from the
            second. None: both from all N images.

    Returns:
        The score; None (with `FactorVAEScore.not_computed`) when no latent is active, since
        a classifier with nothing to vote for has no accuracy (chance is 1/K, not 0).
    """
    train_rows, test_rows = pools if pools is not None else (None, None)
    train_sampler = FactorSampler(classes, rng, train_rows)
    global_std = codes[train_sampler.uniform(num_variance_estimate)].std(axis=0, ddof=1)
    active = global_std >= prune_threshold
    if not active.any():
        return FactorVAEScore(None, None, [], np.zeros((train_sampler.num_factors, codes.shape[1]), dtype=np.int64),
                              f"no active latent: every latent's global std is under the prune threshold "
                              f"{prune_threshold}, so no latent can vote")
    train = _votes(codes, train_sampler, global_std, active, batch_size, num_train)
    classifier = np.argmax(train, axis=0)                  # each latent -> its most voted factor
    columns = np.arange(train.shape[1])
    train_accuracy = train[classifier, columns].sum() / train.sum()
    test_sampler = train_sampler if test_rows is None else FactorSampler(classes, rng, test_rows)
    evaluation = _votes(codes, test_sampler, global_std, active, batch_size, num_eval)
    eval_accuracy = evaluation[classifier, columns].sum() / evaluation.sum()
    return FactorVAEScore(float(train_accuracy), float(eval_accuracy), np.flatnonzero(active).tolist(), train)


def run(inputs: MetricInputs, report: MetricsReport) -> None:
    """``--metric factorvae`` (score ``FactorVAE``, detail ``factorvae``)."""
    s = inputs.settings
    inputs.say("FactorVAE score")
    selected = inputs.classes[:, inputs.other_factors]
    score = factorvae_score(inputs.codes, selected, np.random.default_rng(s.seed + 1), s.batch_size, s.num_train,
                            s.num_eval, s.num_variance_estimate, s.prune_threshold,
                            (inputs.split.train_pool, inputs.split.test_pool))
    protocol = {**inputs.pooled, "batch_size": s.batch_size, "prune_threshold": s.prune_threshold,
                "num_variance_estimate": s.num_variance_estimate}
    if score.eval_accuracy is None:
        report.undefined("FactorVAE", protocol, score.not_computed or "")
    else:
        report.add("FactorVAE", score.eval_accuracy, protocol)
    report.details["factorvae"] = {"factors": inputs.names_of, "votes": score.votes.tolist(),
                                   "active_dims": score.active_dims, "train_accuracy": score.train_accuracy}
