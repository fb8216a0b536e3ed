"""The training step and the one-epoch loop (MAE's ``engine_pretrain.py`` role).

:func:`train_step` is the method's training logic read top to bottom in plain PyTorch:
forward (both encoders, the switch draw, the decoder) with an explicit generator, the losses
with this epoch's KL weight, a finiteness check, ``fabric.backward``, optimizer and
scheduler steps. Device placement, precision and gradient averaging across processes are
Fabric's. :class:`Trainer` is the one state holder: the objects a step touches and where
the loop stands.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from switchvae.config.model import LossConfig
from switchvae.errors import SwitchVAEError
from switchvae.losses import LossBreakdown, compute_losses, kl_weight_schedule
from switchvae.model.switchvae import SwitchOutput, SwitchVAE

LOSS_TERMS = ("total", "reconstruction", "kl", "alignment")


class NonFiniteLossError(SwitchVAEError):
    """A loss term became NaN or infinite; the run stops and keeps its last good checkpoint."""


def kl_weight_at(loss: LossConfig, epoch: float) -> float:
    """The cyclical KL weight at a (fractional) epoch; see ``losses.kl_weight_schedule``."""
    return kl_weight_schedule(
        epoch, loss.kl_cycle_epochs, loss.kl_ramp_fraction, loss.kl_max_weight
    )


class FieldsOutput(nn.Module):
    """Wraps SwitchVAE so ``forward`` returns its output's fields as a dict.

    Fabric's module wrapper walks the forward output to convert precision and register
    hooks, which it cannot do on a frozen dataclass; a dict it can. The wrapped model is
    ``self.model`` (checkpoints save that one, so their keys are SwitchVAE's own).
    """

    def __init__(self, model: SwitchVAE) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, voxels: Tensor, views: Tensor, generator: torch.Generator | None = None
    ) -> dict[str, Tensor | None]:
        output = self.model(voxels, views, generator=generator)
        return {f.name: getattr(output, f.name) for f in fields(output)}


def forward_losses(
    model: nn.Module,
    batch: dict[str, Tensor],
    generator: torch.Generator,
    loss: LossConfig,
    kl_weight: float,
) -> LossBreakdown:
    """Forward one batch and compute its losses (no backward), as :func:`train_step` does.

    Args:
        model: SwitchVAE, or :class:`FieldsOutput` around it (possibly wrapped by Fabric).
        batch: ``voxels`` (B, 1, D, D, D), ``views`` (B, V, C, H, W).
        generator: drives the switch and the noise; advanced by this call.
        loss: loss settings.
        kl_weight: this step's KL weight.
    """
    output = model(batch["voxels"], batch["views"], generator=generator)
    if isinstance(output, dict):
        output = SwitchOutput(**output)
    return compute_losses(output, batch["voxels"], loss, kl_weight)


def check_finite(losses: LossBreakdown, step: int, fabric: Any) -> None:
    """Raise :class:`NonFiniteLossError` naming the bad terms; agreed on by every process."""
    values = torch.stack([getattr(losses, term).detach().float() for term in LOSS_TERMS])
    bad = (~torch.isfinite(values)).float()
    if fabric.world_size > 1:
        bad = fabric.all_reduce(bad, reduce_op="sum")
    if bool(bad.any()):
        terms = ", ".join(t for t, b in zip(LOSS_TERMS, bad.tolist(), strict=True) if b)
        raise NonFiniteLossError(
            f"non-finite loss at step {step + 1} ({terms}); stopped, the last good checkpoint "
            "is kept. Lower optim.lr, set optim.grad_clip_norm, or use train.precision=32-true"
        )


@dataclass
class Trainer:
    """What a step touches, and where the loop stands.

    Attributes:
        fabric: Lightning Fabric (devices, precision, processes).
        model: :class:`FieldsOutput` around the SwitchVAE, set up by Fabric.
        optimizer, scheduler: set up by Fabric; the scheduler steps once per optimizer step.
        generator: the switch draws and the reparameterization noise (same on every process).
        loss: loss settings; grad_clip_norm: 0 disables clipping.
        steps_per_epoch: batches per epoch (global).
        step, epoch, batch_in_epoch: optimizer steps done overall and in ``epoch``.
        last: the last step's losses; sums, count: running loss sums since the last log.
    """

    fabric: Any
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    generator: torch.Generator
    loss: LossConfig
    grad_clip_norm: float = 0.0
    steps_per_epoch: int = 1
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    last: dict[str, float] = field(default_factory=dict)
    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(LOSS_TERMS, 0.0))
    count: int = 0

    @property
    def fractional_epoch(self) -> float:
        """epoch + batch / batches per epoch (drives the KL weight)."""
        return self.epoch + self.batch_in_epoch / self.steps_per_epoch

    def take_means(self) -> dict[str, float]:
        """Mean of each loss term since the last call; resets the sums."""
        means = {k: v / max(1, self.count) for k, v in self.sums.items()}
        self.sums, self.count = dict.fromkeys(LOSS_TERMS, 0.0), 0
        return means


def train_step(t: Trainer, batch: dict[str, Tensor]) -> LossBreakdown:
    """One optimizer step on one batch (does not move ``t.step``; the loop does).

    Args:
        batch: ``voxels`` (B, 1, D, D, D) in {0, 1}, ``views`` (B, V, C, H, W) in [0, 1],
            on the right device.
    Raises:
        NonFiniteLossError: before any weight is touched, so the state stays good.
    """
    t.model.train()
    kl_weight = kl_weight_at(t.loss, t.fractional_epoch)
    # Forward: z_voxel and z_image (B, K) from both encoders, the switch picks per batch (or
    # per sample) which one the decoder sees, logits (B, 1, D, D, D). A dict through Fabric.
    output = SwitchOutput(**t.model(batch["voxels"], batch["views"], generator=t.generator))
    # reconstruction + kl_weight · KL(chosen branch) + align_weight · alignment
    losses = compute_losses(output, batch["voxels"], t.loss, kl_weight)
    check_finite(losses, t.step, t.fabric)
    t.optimizer.zero_grad(set_to_none=True)
    t.fabric.backward(losses.total)  # averages gradients across processes
    if t.grad_clip_norm > 0:
        t.fabric.clip_gradients(t.model, t.optimizer, max_norm=t.grad_clip_norm)
    t.optimizer.step()
    t.scheduler.step()
    return losses


def train_one_epoch(
    t: Trainer,
    batches: Iterable[dict[str, Tensor]],
    every: tuple[int, int],
    log: Callable[[dict[str, float]], None],
    checkpoint: Callable[[], None],
    max_steps: int | None = None,
    progress: bool = True,
) -> None:
    """Run the remaining batches of ``t.epoch`` (at most up to ``max_steps`` steps overall);
    ``log`` a record every ``every[0]`` steps and ``checkpoint`` every ``every[1]`` steps."""
    log_every, checkpoint_every = every
    todo = t.steps_per_epoch - t.batch_in_epoch
    if max_steps is not None:
        todo = max(0, min(todo, max_steps - t.step))
    show = progress and t.fabric.is_global_zero
    bar = tqdm(total=todo, desc=f"epoch {t.epoch + 1}", disable=not show, leave=False)
    started, samples = time.perf_counter(), 0
    for batch in itertools.islice(batches, todo):
        lr = t.optimizer.param_groups[0]["lr"]  # the lr this step uses
        losses = train_step(t, batch).as_dict()
        t.step += 1
        t.batch_in_epoch += 1
        t.count += 1
        t.last = losses
        for term, value in losses.items():
            t.sums[term] += value
        samples += batch["voxels"].shape[0] * t.fabric.world_size
        seconds = time.perf_counter() - started
        bar.set_postfix(loss=f"{losses['total']:.1f}", samples_s=f"{samples / seconds:.1f}")
        bar.update(1)
        if t.step % log_every == 0:
            record = {"step": t.step, "epoch": t.epoch, "lr": lr}
            record.update({f"loss/{k}": v for k, v in t.take_means().items()})
            record["samples_per_s"] = samples / max(seconds, 1e-9)
            log(record)
            started, samples = time.perf_counter(), 0
        if t.step % checkpoint_every == 0:
            checkpoint()
    bar.close()
