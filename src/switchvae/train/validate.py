"""Validation during training: loss and mean per-shape IoU from voxel and from image input."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from switchvae.config.model import LossConfig
from switchvae.evaluate.iou import RECON_THRESHOLD, per_shape_iou
from switchvae.losses import compute_losses
from switchvae.train.engine import LOSS_TERMS

# The switch and noise of the validation forward come from a fixed seed, so the
# validation loss of the same weights is the same number every time.
VAL_GENERATOR_SEED = 12345


def _batch_sums(
    module: nn.Module,
    batch: dict[str, Tensor],
    loss: LossConfig,
    kl_weight: float,
    generator: torch.Generator,
) -> Tensor:
    """Sums over the batch: loss terms ×B, IoU from voxels, IoU from images, B."""
    voxels = batch["voxels"]
    output = module(voxels, batch["views"], generator=generator)
    losses = compute_losses(output, voxels, loss, kl_weight).as_dict()
    size = voxels.shape[0]
    ious = []
    for mu in (output.mu_voxel, output.mu_image):
        if mu is None:
            ious.append(float("nan"))
        else:
            ious.append(float(per_shape_iou(module.decode(mu), voxels, RECON_THRESHOLD).sum()))
    values = [losses[t] * size for t in LOSS_TERMS] + ious + [float(size)]
    return torch.tensor(values, dtype=torch.float64)


@torch.no_grad()
def validate(
    fabric: Any, module: nn.Module, loader: DataLoader, loss: LossConfig, kl_weight: float
) -> dict[str, float]:
    """Mean loss terms and mean per-shape IoU over this process's shard, summed over all.

    Args:
        fabric: the Fabric object (autocast and all-reduce).
        module: the *unwrapped* SwitchVAE (no DDP collectives during validation).
        loader: fixed-order loader of this process's share of the split.
        loss: loss settings; kl_weight: the KL weight of the current epoch.
    Returns:
        ``{"val/loss/<term>": ..., "val/iou_voxel": ..., "val/iou_image": ...}``; an IoU is
        NaN in the mode that does not run that encoder.
    """
    was_training = module.training
    module.eval()
    generator = torch.Generator().manual_seed(VAL_GENERATOR_SEED)
    sums = torch.zeros(len(LOSS_TERMS) + 3, dtype=torch.float64)
    with fabric.autocast():
        for batch in loader:
            sums += _batch_sums(module, batch, loss, kl_weight, generator)
    if fabric.world_size > 1:
        sums = fabric.all_reduce(sums.to(fabric.device), reduce_op="sum").cpu()
    module.train(was_training)
    count = max(1.0, float(sums[-1]))
    metrics = {f"val/loss/{t}": float(sums[i]) / count for i, t in enumerate(LOSS_TERMS)}
    metrics["val/iou_voxel"] = float(sums[len(LOSS_TERMS)]) / count
    metrics["val/iou_image"] = float(sums[len(LOSS_TERMS) + 1]) / count
    return metrics
