"""SwitchVAE losses as pure functions: reconstruction, KL (with its annealing), alignment.

total = reconstruction + kl_weight · KL(chosen branch) + align_weight · alignment(z_voxel, z_image)

Every term is summed over its elements (voxels or latent dimensions) and averaged over the
batch, so the terms have comparable scales. All terms are computed in float32. The settings
live in :class:`switchvae.config.model.LossConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from switchvae.config.model import ALIGN_KINDS, ALIGN_STOP_GRAD, LossConfig
from switchvae.errors import ConfigError
from switchvae.model.switchvae import SwitchOutput


@dataclass(frozen=True)
class LossBreakdown:
    """The loss terms of one batch, each a scalar tensor (``total`` is the one to backprop)."""

    total: Tensor
    reconstruction: Tensor
    kl: Tensor
    alignment: Tensor

    def as_dict(self) -> dict[str, float]:
        """Plain floats for logging (this synchronizes with the device)."""
        return {
            "total": float(self.total.detach()),
            "reconstruction": float(self.reconstruction.detach()),
            "kl": float(self.kl.detach()),
            "alignment": float(self.alignment.detach()),
        }


def reconstruction_loss(
    logits: Tensor, voxels: Tensor, pos_weight: float = 0.8, neg_weight: float = 0.2
) -> Tensor:
    """Weighted binary cross-entropy on logits (public code: 0.8 occupied, 0.2 empty).

    Args:
        logits: (B, 1, D, D, D) decoder output.
        voxels: (B, 1, D, D, D) targets in [0, 1].
        pos_weight: weight of the occupied-voxel term.
        neg_weight: weight of the empty-voxel term.

    Returns:
        Scalar: -Σ_voxels [pos·t·log σ(x) + neg·(1-t)·log(1-σ(x))], mean over the batch.
    """
    if logits.shape != voxels.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and voxels {tuple(voxels.shape)} differ")
    logits, target = logits.float(), voxels.float()
    # -log σ(x) = softplus(-x) and -log(1 - σ(x)) = softplus(x): stable for any logit.
    per_voxel = pos_weight * target * F.softplus(-logits)
    per_voxel = per_voxel + neg_weight * (1.0 - target) * F.softplus(logits)
    return per_voxel.flatten(1).sum(dim=1).mean()


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(μ, σ²) ‖ N(0, I)). mu, logvar: (B, K) -> scalar, summed over K, mean over B."""
    mu, logvar = mu.float(), logvar.float()
    per_dim = -0.5 * (1.0 + logvar - mu.square() - logvar.exp())
    return per_dim.sum(dim=1).mean()


def kl_weight_schedule(
    epoch: float, cycle_epochs: int = 200, ramp_fraction: float = 0.5, max_weight: float = 1.0
) -> float:
    """Cyclical KL annealing: in every cycle the weight rises linearly, then stays at max.

    weight = max_weight · min(1, (epoch mod cycle_epochs) / (ramp_fraction · cycle_epochs)).
    The public code (cycle 200, ramp 100) used ``epoch / 100`` instead of
    ``(epoch mod 200) / 100``, so its weight never dropped back after the first cycle; this
    is the fixed form. ``ramp_fraction = 0`` gives a constant ``max_weight``.

    Args:
        epoch: epochs done so far (a fraction is allowed, for per-step annealing).
        cycle_epochs: length of one cycle.
        ramp_fraction: part of each cycle spent ramping up, in [0, 1].
        max_weight: weight after the ramp.

    Returns:
        The KL weight for this epoch.
    """
    if epoch < 0 or cycle_epochs < 1 or not 0.0 <= ramp_fraction <= 1.0:
        raise ConfigError(
            f"kl schedule: need epoch >= 0, cycle_epochs >= 1, 0 <= ramp_fraction <= 1; got "
            f"{epoch}, {cycle_epochs}, {ramp_fraction}"
        )
    ramp_epochs = ramp_fraction * cycle_epochs
    if ramp_epochs == 0:
        return float(max_weight)
    return float(max_weight * min(1.0, (epoch % cycle_epochs) / ramp_epochs))


def _stop_gradient(
    z_voxel: Tensor, z_image: Tensor, stop_grad: str, use_voxel: Tensor | None
) -> tuple[Tensor, Tensor]:
    """Detach, row by row, the branch that fed the decoder (``chosen``) or the other one."""
    if stop_grad == "none":
        return z_voxel, z_image
    if use_voxel is None:
        raise ConfigError(f"align_stop_grad={stop_grad!r} needs use_voxel (the switch mask)")
    chosen_voxel = use_voxel[:, None]
    detach_voxel = chosen_voxel if stop_grad == "chosen" else ~chosen_voxel
    # Stop-gradient in the alignment: on rows where detach_voxel holds, the voxel latent is a
    # fixed target (.detach()) that the image latent moves toward; elsewhere the reverse.
    z_voxel = torch.where(detach_voxel, z_voxel.detach(), z_voxel)
    z_image = torch.where(detach_voxel, z_image, z_image.detach())
    return z_voxel, z_image


def _info_nce(z_voxel: Tensor, z_image: Tensor, temperature: float) -> Tensor:
    """Symmetric InfoNCE: row b of each modality must pick row b of the other in the batch."""
    z_voxel, z_image = F.normalize(z_voxel, dim=1), F.normalize(z_image, dim=1)
    logits = z_voxel @ z_image.T / temperature
    targets = torch.arange(logits.shape[0], device=logits.device)
    return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))


def alignment_loss(
    z_voxel: Tensor,
    z_image: Tensor,
    kind: str = "mse",
    temperature: float = 0.1,
    stop_grad: str = "none",
    use_voxel: Tensor | None = None,
) -> Tensor:
    """Pull the two latents of each shape together.

    Args:
        z_voxel, z_image: (B, K) latents (means or samples) of the two branches.
        kind: ``mse`` = Σ_K (z_voxel - z_image)², mean over B (public code's squared distance,
            summed like the other terms); ``cosine`` = 1 - cos(z_voxel, z_image), mean over B;
            ``infonce`` = symmetric InfoNCE over the batch on L2-normalized latents.
        temperature: InfoNCE temperature.
        stop_grad: ``none``; ``chosen`` detaches the branch that fed the decoder; ``other``
            detaches the unchosen one (per row, from ``use_voxel``).
        use_voxel: (B,) bool switch mask from :class:`SwitchOutput`; needed unless ``none``.

    Returns:
        Scalar alignment loss.
    """
    if kind not in ALIGN_KINDS or stop_grad not in ALIGN_STOP_GRAD:
        raise ConfigError(f"alignment: unknown kind {kind!r} or stop_grad {stop_grad!r}")
    if z_voxel.shape != z_image.shape or z_voxel.dim() != 2:
        raise ValueError(
            f"latents must both be (B, K): {tuple(z_voxel.shape)}, {tuple(z_image.shape)}"
        )
    z_voxel, z_image = _stop_gradient(z_voxel.float(), z_image.float(), stop_grad, use_voxel)
    if kind == "mse":
        return (z_voxel - z_image).square().sum(dim=1).mean()
    if kind == "cosine":
        return (1.0 - F.cosine_similarity(z_voxel, z_image, dim=1)).mean()
    return _info_nce(z_voxel, z_image, temperature)


def compute_losses(
    output: SwitchOutput, voxels: Tensor, config: LossConfig, kl_weight: float
) -> LossBreakdown:
    """All loss terms for one forward pass.

    Args:
        output: :meth:`SwitchVAE.forward`'s result.
        voxels: (B, 1, D, D, D) target occupancy.
        config: loss settings.
        kl_weight: this step's KL weight, e.g. from :func:`kl_weight_schedule`.

    Returns:
        :class:`LossBreakdown`; the alignment term is 0 in modes with one branch.
    """
    reconstruction = reconstruction_loss(
        output.recon_logits, voxels, config.recon_pos_weight, config.recon_neg_weight
    )
    kl = kl_divergence(output.mu_chosen, output.logvar_chosen)
    if output.z_voxel is None or output.z_image is None:
        alignment = reconstruction.new_zeros(())
    else:
        on_mean = config.align_on == "mean"
        alignment = alignment_loss(
            output.mu_voxel if on_mean else output.z_voxel,
            output.mu_image if on_mean else output.z_image,
            config.align,
            config.temperature,
            config.align_stop_grad,
            output.use_voxel,
        )
    total = reconstruction + kl_weight * kl + config.align_weight * alignment
    return LossBreakdown(total, reconstruction, kl, alignment)
