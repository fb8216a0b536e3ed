"""The training step and the one-epoch loop (MAE's ``engine_pretrain.py`` role).

The step is the method's logic in plain PyTorch: forward with an explicit generator (switch
draw and reparameterization noise), the losses with this epoch's KL weight, a finiteness
check, ``fabric.backward``, optimizer and scheduler steps. Device placement, precision and
gradient averaging across processes are Fabric's.
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
    """Forward one batch and compute its losses (no backward).

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
class StepContext:
    """What the step needs besides the batch: Fabric, model, optimizer, schedule, settings."""

    fabric: Any
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    generator: torch.Generator
    loss: LossConfig
    grad_clip_norm: float = 0.0


def train_step(
    ctx: StepContext, batch: dict[str, Tensor], step: int, epoch: float
) -> LossBreakdown:
    """One optimizer step on one batch.

    Args:
        ctx: the training objects.
        batch: ``voxels`` (B, 1, D, D, D), ``views`` (B, V, C, H, W) on the right device.
        step: optimizer steps done before this one (for error messages).
        epoch: fractional epoch (epoch + batch / batches per epoch) for the KL weight.
    Raises:
        NonFiniteLossError: before any weight is touched, so the state stays good.
    """
    ctx.model.train()
    kl_weight = kl_weight_at(ctx.loss, epoch)
    losses = forward_losses(ctx.model, batch, ctx.generator, ctx.loss, kl_weight)
    check_finite(losses, step, ctx.fabric)
    ctx.optimizer.zero_grad(set_to_none=True)
    ctx.fabric.backward(losses.total)
    if ctx.grad_clip_norm > 0:
        ctx.fabric.clip_gradients(ctx.model, ctx.optimizer, max_norm=ctx.grad_clip_norm)
    ctx.optimizer.step()
    ctx.scheduler.step()
    return losses


@dataclass
class EpochState:
    """Where the loop stands: steps done overall and in this epoch; running loss sums."""

    step: int
    epoch: int
    batch_in_epoch: int
    steps_per_epoch: int
    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(LOSS_TERMS, 0.0))
    count: int = 0
    last: dict[str, float] = field(default_factory=dict)

    def advance(self, losses: dict[str, float]) -> None:
        """Count one finished step and add its losses to the running sums."""
        self.step += 1
        self.batch_in_epoch += 1
        self.count += 1
        self.last = losses
        for term, value in losses.items():
            self.sums[term] += value

    def take_means(self) -> dict[str, float]:
        """Mean of each loss term since the last call; resets the sums."""
        means = {k: v / max(1, self.count) for k, v in self.sums.items()}
        self.sums, self.count = dict.fromkeys(LOSS_TERMS, 0.0), 0
        return means


@dataclass
class LoopHooks:
    """Callbacks of :func:`train_one_epoch`: logging every N steps, checkpoint every M."""

    log: Callable[[EpochState, dict[str, float]], None]
    checkpoint: Callable[[EpochState], None]
    log_every: int
    checkpoint_every: int
    max_steps: int | None = None


def _log_record(state: EpochState, lr: float, samples: int, seconds: float) -> dict[str, float]:
    record = {"step": state.step, "epoch": state.epoch, "lr": lr}
    record.update({f"loss/{k}": v for k, v in state.take_means().items()})
    record["samples_per_s"] = samples / max(seconds, 1e-9)
    return record


def train_one_epoch(
    ctx: StepContext, batches: Iterable[dict[str, Tensor]], state: EpochState,
    hooks: LoopHooks, progress: bool = True,
) -> EpochState:  # fmt: skip
    """Run the remaining batches of ``state.epoch`` (at most up to ``hooks.max_steps``
    steps overall); log every ``hooks.log_every`` and checkpoint every
    ``hooks.checkpoint_every`` steps."""
    todo = state.steps_per_epoch - state.batch_in_epoch
    if hooks.max_steps is not None:
        todo = max(0, min(todo, hooks.max_steps - state.step))
    show = progress and ctx.fabric.is_global_zero
    bar = tqdm(total=todo, desc=f"epoch {state.epoch + 1}", disable=not show, leave=False)
    started, samples = time.perf_counter(), 0
    for batch in itertools.islice(batches, todo):
        lr = ctx.optimizer.param_groups[0]["lr"]  # the lr this step uses
        epoch = state.epoch + state.batch_in_epoch / state.steps_per_epoch
        losses = train_step(ctx, batch, state.step, epoch).as_dict()
        state.advance(losses)
        samples += batch["voxels"].shape[0] * ctx.fabric.world_size
        seconds = time.perf_counter() - started
        bar.set_postfix(loss=f"{losses['total']:.1f}", samples_s=f"{samples / seconds:.1f}")
        bar.update(1)
        if state.step % hooks.log_every == 0:
            hooks.log(state, _log_record(state, lr, samples, seconds))
            started, samples = time.perf_counter(), 0
        if state.step % hooks.checkpoint_every == 0:
            hooks.checkpoint(state)
    bar.close()
    return state
