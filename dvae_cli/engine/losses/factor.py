"""FactorVAE of Kim & Mnih 2018: a discriminator estimates the total correlation.

Kim, H., Mnih, A. "Disentangling by Factorising." ICML 2018 (Algorithm 2).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from dvae_cli.engine.losses._terms import at_least_float32, linear_annealing, permute_dims
from dvae_cli.engine.losses.base import Loss, LossResult, base_terms
from dvae_cli.engine.models import VAE
from dvae_cli.engine.optim import adam
from dvae_cli.errors import ConfigError, CorruptFileError

DISC_HIDDEN = 1000
DISC_SLOPE = 0.2
DISC_BETAS = (0.5, 0.9)


class Discriminator(nn.Module):
    """MLP D -> 1000 (x5, LeakyReLU 0.2) -> 2 logits: class 0 = q(z), class 1 = permuted.

    Parameter names (``lin1`` .. ``lin6``) are disentangling-vae's.
    """

    def __init__(self, latent_dim: int, hidden_units: int = DISC_HIDDEN) -> None:
        super().__init__()
        self.lin1 = nn.Linear(latent_dim, hidden_units)
        self.lin2 = nn.Linear(hidden_units, hidden_units)
        self.lin3 = nn.Linear(hidden_units, hidden_units)
        self.lin4 = nn.Linear(hidden_units, hidden_units)
        self.lin5 = nn.Linear(hidden_units, hidden_units)
        self.lin6 = nn.Linear(hidden_units, 2)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.kaiming_uniform_(module.weight, nonlinearity="relu")

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Logits of shape (B, 2) for latents (B, D)."""
        for layer in (self.lin1, self.lin2, self.lin3, self.lin4, self.lin5):
            z = F.leaky_relu(layer(z), DISC_SLOPE)
        return self.lin6(z)


class FactorLoss(Loss):
    """FactorVAE: rec + KL + a * gamma * TC on the first half of each training batch.

    TC = mean(logit_real - logit_perm) from the discriminator. The second half of the
    batch is encoded, each latent dimension permuted independently across it, and
    the discriminator is trained to tell the first half's codes (class 0) from the
    permuted ones (class 1): 0.5 * (CE(real, 0) + CE(perm, 1)) with
    Adam(`lr_disc`, betas (0.5, 0.9)). Its inputs are detached, so its gradient
    never reaches the VAE (disentangling-vae's does).

    In evaluation (``step=None``) the whole batch is used for the VAE terms and the
    discriminator loss is that of the batch's codes against their permutation. With
    ``use_discriminator=False`` (a run whose discriminator was not saved, e.g. one
    of disentangling-vae) the TC and discriminator terms are left out.

    Args:
        latent_dim: D, the discriminator's input size.
        factor_G: gamma, the weight of the TC term.
        lr_disc: Learning rate of the discriminator.
        rec_dist, reg_anneal: see `Loss`.
    """

    name: ClassVar[str] = "factor"
    trains_auxiliary: ClassVar[bool] = True

    def __init__(self, latent_dim: int, factor_G: float, lr_disc: float, rec_dist: str,
                 reg_anneal: float) -> None:
        super().__init__(rec_dist=rec_dist, reg_anneal=reg_anneal)
        self.gamma = float(factor_G)
        self.discriminator = Discriminator(latent_dim)
        self.disc_optimizer = adam(self.discriminator.parameters(), lr=lr_disc, betas=DISC_BETAS)
        self.use_discriminator = True

    def forward(self, model: VAE, x: torch.Tensor, step: int | None = None) -> LossResult:
        if step is None:
            return self._evaluate(model, x)
        if x.shape[0] < 4:
            raise ConfigError(f"the factor loss needs training batches of at least 4 images (two halves "
                              f"of at least 2), got {x.shape[0]}")
        half = x.shape[0] // 2
        x_vae, x_perm = x[:half], x[half:]
        output = model(x_vae)
        terms = base_terms(x_vae, output, self.rec_dist)
        tc = self._tc_with_frozen_discriminator(output.sample)
        anneal = linear_annealing(0.0, 1.0, step, self.reg_anneal)
        loss = terms["recon_loss"] + terms["kl_loss"] + anneal * self.gamma * tc
        with torch.no_grad():
            z_perm = permute_dims(model.sample_latent(x_perm))
        # The discriminator's own step runs outside any autocast region, in float32:
        # codes from a bf16 forward pass are cast up here.
        return LossResult(loss=loss, terms={"loss": loss, "tc_loss": tc, **terms}, batch_size=half,
                          auxiliary_inputs={"z_real": output.sample.detach().float(), "z_perm": z_perm.float()})

    def update_auxiliary(self, result: LossResult) -> dict[str, torch.Tensor]:
        """One Adam step of the discriminator on the detached codes of `result`."""
        disc_loss = self._discriminator_loss(result.auxiliary_inputs["z_real"],
                                             result.auxiliary_inputs["z_perm"])
        self.disc_optimizer.zero_grad(set_to_none=True)
        disc_loss.backward()
        self.sync_gradients(self.discriminator)
        self.disc_optimizer.step()
        return {"discrim_loss": disc_loss.detach()}

    def auxiliary_optimizer_state(self) -> dict[str, Any]:
        return self.disc_optimizer.state_dict()

    def load_auxiliary_optimizer_state(self, state: dict[str, Any]) -> None:
        self.disc_optimizer.load_state_dict(state)

    def prepare_evaluation(self, training_state: dict[str, Any] | None) -> list[str]:
        """Load the discriminator the run trained, or leave the TC terms out if it was not saved.

        Raises:
            CorruptFileError: if the saved discriminator does not fit this loss.
        """
        if training_state is None:
            self.use_discriminator = False
            return ["no saved discriminator (disentangling-vae does not save it): tc_loss and discrim_loss are "
                    "left out"]
        try:
            self.load_state_dict(training_state["loss"])
        except (RuntimeError, KeyError) as exc:   # missing or mis-shaped discriminator weights
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise CorruptFileError(f"the training state's discriminator does not fit the run: {reason}") from None
        return []

    def set_auxiliary_learning_rate(self, lr: float) -> None:
        for group in self.disc_optimizer.param_groups:
            group["lr"] = lr

    def _evaluate(self, model: VAE, x: torch.Tensor) -> LossResult:
        output = model(x)
        terms = base_terms(x, output, self.rec_dist)
        if not self.use_discriminator:
            loss = terms["recon_loss"] + terms["kl_loss"]
            return LossResult(loss=loss, terms={"loss": loss, **terms}, batch_size=x.shape[0])
        logits_real = None
        if torch.is_grad_enabled():   # the TC's gradient reaches the codes, not the discriminator
            tc = self._tc_with_frozen_discriminator(output.sample)
        else:   # one pass over the codes serves the TC and the discriminator's loss (1/3 of its work)
            logits_real = self.discriminator(output.sample)
            tc = _tc(logits_real)
        anneal = linear_annealing(0.0, 1.0, self.anneal_step(None), self.reg_anneal)
        loss = terms["recon_loss"] + terms["kl_loss"] + anneal * self.gamma * tc
        disc_loss = self._discriminator_loss(output.sample.detach(), permute_dims(output.sample.detach()),
                                             logits_real)
        return LossResult(loss=loss, terms={"loss": loss, "tc_loss": tc, **terms,
                                            "discrim_loss": disc_loss.detach()}, batch_size=x.shape[0])

    def _tc_with_frozen_discriminator(self, z: torch.Tensor) -> torch.Tensor:
        """TC estimate whose gradient reaches z but not the discriminator's weights."""
        params = list(self.discriminator.parameters())
        for param in params:
            param.requires_grad_(False)
        try:
            logits = self.discriminator(z)
        finally:
            for param in params:
                param.requires_grad_(True)
        return _tc(logits)

    def _discriminator_loss(self, z_real: torch.Tensor, z_perm: torch.Tensor,
                            logits_real: torch.Tensor | None = None) -> torch.Tensor:
        """Cross-entropy of telling `z_real` (class 0) from `z_perm` (class 1); `logits_real` if known."""
        if logits_real is None:
            logits_real = self.discriminator(z_real)
        logits_perm = self.discriminator(z_perm)
        zeros = torch.zeros(z_real.shape[0], dtype=torch.long, device=z_real.device)
        ones = torch.ones(z_perm.shape[0], dtype=torch.long, device=z_perm.device)
        return 0.5 * (F.cross_entropy(logits_real, zeros) + F.cross_entropy(logits_perm, ones))


def _tc(logits: torch.Tensor) -> torch.Tensor:
    """Total correlation estimate mean(logit_real - logit_perm) from logits (B, 2), in at least float32."""
    logits = at_least_float32(logits)
    return (logits[:, 0] - logits[:, 1]).mean()
