"""Which loss terms are estimates: biased minibatch estimates that can go negative.

beta-TCVAE's ``mi_loss``, ``tc_loss`` and ``dw_kl_loss`` estimate log q(z) and
log prod_d q(z_d) from the batch (Chen et al. 2018, Section 3 and Appendix C.2,
`dvae_cli.engine.losses._terms.estimate_log_qz`): the log of an average over the
batch, whose expectation is below the log of the expectation (Jensen), so the terms
are biased and can be negative although the quantities they estimate (a mutual
information, a total correlation, a KL) are not. FactorVAE's ``tc_loss`` is the
discriminator's density-ratio estimate of the total correlation (Kim & Mnih 2018,
Eq. 3), negative wherever the discriminator is wrong. The other terms (the
reconstruction, the closed-form KL) are computed exactly on their batch.

The home of this property is each loss's `dvae_cli.catalogue.losses.LossInfo.estimated`
(a tuple of its term names), plugins' losses included. ``dvae compare``
marks such columns with `MARK` and ``dvae browse`` marks such terms; both say `LEGEND`.
Standard library only.
"""

from __future__ import annotations

from dvae_cli.catalogue.losses import LOSSES

__all__ = ["LEGEND", "MARK", "estimated_terms", "is_estimated", "marked"]

#: What precedes an estimated term's name in tables and lists.
MARK = "~"
#: The line that explains `MARK`.
LEGEND = (f"{MARK}: an estimate from each minibatch (a log of an average: biased, and it can be negative "
          "although the quantity it estimates is not)")


def estimated_terms(loss: str | None) -> frozenset[str]:
    """The terms of loss `loss` that are estimates (empty for an unknown loss or None)."""
    if loss is None or loss not in LOSSES.names():
        return frozenset()
    return frozenset(LOSSES.get(loss).estimated)


def is_estimated(term: str, loss: str | None) -> bool:
    """Whether `term` (``tc_loss``, or a column key such as ``train.tc_loss``) is an estimate in runs of `loss`."""
    group, dot, rest = term.partition(".")
    name = rest if dot and group in ("train", "test") else term
    return name in estimated_terms(loss)


def marked(term: str, loss: str | None) -> str:
    """`term` preceded by `MARK` if it is an estimate in runs of `loss`."""
    return MARK + term if is_estimated(term, loss) else term
