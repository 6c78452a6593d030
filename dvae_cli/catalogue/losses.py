"""The losses dvae knows: one torch-free `LossInfo` each, and `register_loss` for more.

Everything about a loss outside its own module comes from here: its `RunSpec`
parameters and their validation, its ``dvae train`` options and help panel, the
terms the live view and the browser label, the columns and colour ``dvae compare``
uses, how many images a step consumes (FactorVAE's two half-batches) and the
smallest batches it can use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dvae_cli.catalogue.params import ROLE_OPTIMISER, Param
from dvae_cli.errors import ConfigError, UnknownNameError
from dvae_cli.plugins import Registry

#: Terms every loss reports, with the labels the live view gives them.
COMMON_TERMS: tuple[tuple[str, str], ...] = (("loss", "loss"), ("recon_loss", "reconstruction"), ("kl_loss", "KL"))
#: Colours for losses that do not name one (matplotlib's tab10 beyond the built-ins').
SPARE_COLOURS = ("tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")


@dataclass(frozen=True)
class LossInfo:
    """A loss, described without importing it.

    Attributes:
        name: The key of ``-l/--loss`` and ``specs.json`` (disentangling-vae's: ``betaH``).
        title: The model's name in the literature (``beta-TCVAE``).
        paper: The citation of the objective.
        implementation: ``"module:Class"`` of its `dvae_cli.engine.losses.base.Loss`
            subclass (or the class); its constructor takes the `params` by name, and
            may take ``rec_dist``, ``reg_anneal``, ``n_data`` and ``latent_dim``.
        params: Its hyper-parameters.
        terms: The terms it reports beyond ``loss``, ``recon_loss`` and ``kl_loss``, with
            their labels, in the order the live view shows them.
        batches_per_step: Batches of ``--batch-size`` images one optimisation step
            consumes (FactorVAE: 2, so the batch size and the epochs are doubled when
            a run is resolved, as disentangling-vae does: `dvae_cli.spec.RunSpec.double`).
        min_batch: The smallest ``--batch-size`` it can train with (as typed).
        min_eval_batch: The smallest evaluation batch (btcvae compares each image with
            the rest of its batch).
        colour: Its colour in comparison figures (a matplotlib colour; None: a spare one).
        estimated: The terms (of `terms`) that are minibatch estimates, biased and able to go
            negative although the quantity is not (a log of an average over the batch, or a
            discriminator's density ratio); ``compare`` and ``browse`` mark them.
        resolve: Fills in the parameters left at None (an optional `Param`) whose
            default depends on the others: called with the run's values of `params`
            by name, returns the values to set (`dvae_cli.spec.RunSpec.resolve_loss_defaults`
            records them in ``specs.json``). None: nothing to fill in.
    """

    name: str
    title: str
    paper: str
    implementation: str | Callable[..., Any]
    params: tuple[Param, ...] = ()
    terms: tuple[tuple[str, str], ...] = ()
    batches_per_step: int = 1
    min_batch: int = 1
    min_eval_batch: int = 1
    colour: str | None = None
    estimated: tuple[str, ...] = ()
    resolve: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    @property
    def panel(self) -> str:
        """The ``dvae train --help`` panel of its options."""
        return f"{self.name} loss"

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    @property
    def key_params(self) -> tuple[str, ...]:
        """The parameters that characterise a run of this loss."""
        return tuple(p.name for p in self.params if p.key)


def _check(info: LossInfo) -> None:
    if not info.name.isidentifier():
        raise ConfigError(f"a loss name must be an identifier, got '{info.name}'")
    for param in info.params:
        known = param_owner(param.name)
        if known is not None and known != info.name:
            raise ConfigError(f"loss '{info.name}' declares parameter '{param.name}', which loss '{known}' has")
    declared = {name for name, _ in info.terms}
    for term in info.estimated:
        if term not in declared:
            raise ConfigError(f"loss '{info.name}' marks '{term}' as estimated but does not report it; its terms: "
                              f"{', '.join(sorted(declared)) or 'none'}")


LOSSES: Registry[LossInfo] = Registry("loss", "dvae.losses", _check)


def register_loss(info: LossInfo, replace: bool = False) -> LossInfo:
    """Make a loss known to every command (see `dvae_cli.plugins`)."""
    return LOSSES.register(info, replace)


def loss_info(name: str) -> LossInfo:
    """The `LossInfo` of `name` (raises `UnknownNameError` with the choices)."""
    return LOSSES.get(name)


def loss_names() -> tuple[str, ...]:
    return LOSSES.names()


def param_owner(name: str) -> str | None:
    """The loss that declares parameter `name`, or None."""
    for info in LOSSES._items.values():   # no plugin loading here: called while registering
        if any(p.name == name for p in info.params):
            return info.name
    return None


def loss_params() -> dict[str, Param]:
    """Every registered loss's parameters, by name."""
    return {p.name: p for info in LOSSES.values() for p in info.params}


def loss_colour(name: str) -> str:
    """The comparison colour of loss `name` (a spare colour, stable per name, if it names none)."""
    names = loss_names()
    info = LOSSES.get(name) if name in names else None
    if info is not None and info.colour:
        return info.colour
    spare = [n for n in names if LOSSES.get(n).colour is None]
    return SPARE_COLOURS[(spare.index(name) if name in spare else len(spare)) % len(SPARE_COLOURS)]


def term_labels() -> dict[str, str]:
    """Every term's label (common terms and those of every registered loss)."""
    labels = dict(COMMON_TERMS)
    for info in LOSSES.values():
        labels.update(info.terms)
    return labels


#: DIP-VAE's types: I regularises Cov[mu(x)], II the covariance of the aggregate posterior.
DIP_TYPES = ("i", "ii")
#: lambda_d / lambda_od by type: Kumar et al. 2018, Section 4 (10 for DIP-VAE-I, 1 for DIP-VAE-II), as
#: disentanglement_lib's ``lambda_d_factor`` in its unsupervised_study_v1 sweep.
DIP_LAMBDA_D_FACTOR = {"i": 10.0, "ii": 1.0}


def resolved_lambda_d(dip_type: str, lambda_od: float, lambda_d: float | None = None) -> float:
    """DIP-VAE's lambda_d: `lambda_d` if given, else the paper's ``10 * lambda_od`` (type i) or ``lambda_od`` (ii).

    Raises:
        UnknownNameError: if `dip_type` is not ``i`` or ``ii``.
    """
    if dip_type not in DIP_TYPES:
        raise UnknownNameError("dip type", dip_type, DIP_TYPES)
    return float(lambda_d) if lambda_d is not None else DIP_LAMBDA_D_FACTOR[dip_type] * float(lambda_od)


def _dip_defaults(values: dict[str, Any]) -> dict[str, Any]:
    return {"dip_lambda_d": resolved_lambda_d(values["dip_type"], values["dip_lambda_od"], values["dip_lambda_d"])}


for _info in (
    LossInfo("VAE", "VAE", "Kingma & Welling, Auto-Encoding Variational Bayes, ICLR 2014",
             "dvae_cli.engine.losses.vae:VAELoss", colour="tab:gray"),
    LossInfo("betaH", "beta-VAE (H)", "Higgins et al., beta-VAE: Learning Basic Visual Concepts with a "
             "Constrained Variational Framework, ICLR 2017", "dvae_cli.engine.losses.betah:BetaHLoss",
             (Param("betaH_B", float, 4.0, "Weight of the KL (beta).", "beta"),), colour="tab:blue"),
    LossInfo("betaB", "beta-VAE (B)", "Burgess et al., Understanding disentangling in beta-VAE, "
             "arXiv:1804.03599, 2018", "dvae_cli.engine.losses.betab:BetaBLoss",
             (Param("betaB_initC", float, 0.0, "Starting capacity C (nats).", "C_0"),
              Param("betaB_finC", float, 25.0, "Final capacity C (nats).", "C"),
              Param("betaB_G", float, 100.0, "Weight of the capacity term (gamma).", "gamma")),
             terms=(("C", "capacity C"),), colour="tab:orange"),
    LossInfo("factor", "FactorVAE", "Kim & Mnih, Disentangling by Factorising, ICML 2018",
             "dvae_cli.engine.losses.factor:FactorLoss",
             (Param("factor_G", float, 6.0, "Weight of the TC term (gamma).", "gamma"),
              Param("lr_disc", float, 5e-5, "Learning rate of the discriminator.", "lr_D", minimum=0,
                    exclusive=True, roles=frozenset({ROLE_OPTIMISER}))),
             terms=(("tc_loss", "TC (total correlation)"), ("discrim_loss", "discriminator")),
             batches_per_step=2, min_batch=2, colour="tab:green", estimated=("tc_loss",)),
    LossInfo("btcvae", "beta-TCVAE", "Chen et al., Isolating Sources of Disentanglement in Variational "
             "Autoencoders, NeurIPS 2018", "dvae_cli.engine.losses.btcvae:BtcvaeLoss",
             (Param("btcvae_A", float, 1.0, "Weight of the MI term (alpha).", "alpha"),
              Param("btcvae_B", float, 6.0, "Weight of the TC term (beta).", "beta"),
              Param("btcvae_G", float, 1.0, "Weight of the dimension-wise KL (gamma).", "gamma"),
              Param("btcvae_sampling", str, "mss", "q(z) estimator: mss (stratified) or mws (weighted).",
                    choices=("mss", "mws"))),
             terms=(("mi_loss", "MI (index-code)"), ("tc_loss", "TC (total correlation)"),
                    ("dw_kl_loss", "dimension-wise KL")),
             min_batch=2, min_eval_batch=2, colour="tab:red", estimated=("mi_loss", "tc_loss", "dw_kl_loss")),
    # The covariance over the batch is the biased (1/B) one, as disentanglement_lib's: zero for a batch of
    # one image, where the penalty is still defined, so that no smallest batch is needed.
    LossInfo("dip", "DIP-VAE", "Kumar, Sattigeri & Balakrishnan, Variational Inference of Disentangled "
             "Latent Concepts from Unlabeled Observations, ICLR 2018", "dvae_cli.engine.losses.dip:DipLoss",
             (Param("dip_type", str, "i", "i: penalise the covariance of the posterior means (DIP-VAE-I); "
                    "ii: that of the aggregate posterior (DIP-VAE-II).", "type", choices=DIP_TYPES),
              Param("dip_lambda_od", float, 10.0, "Weight of the off-diagonal covariance penalty.", "lambda_od",
                    minimum=0),
              Param("dip_lambda_d", float, None, "Weight of the diagonal penalty (default: 10 x lambda_od "
                    "for type i, lambda_od for type ii, as in the paper).", "lambda_d", minimum=0)),
             terms=(("dip_od_loss", "DIP off-diagonal"), ("dip_d_loss", "DIP diagonal")),
             colour="teal", resolve=_dip_defaults),
):
    register_loss(_info)
