"""Learning-rate schedules, as multiplicative factors of the peak lr per optimizer step.

All schedules are ``torch.optim.lr_scheduler.LambdaLR`` over a plain function, so their
``state_dict`` holds only numbers and loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from switchvae.config.training import OptimConfig
from switchvae.errors import ConfigError

# Public code (train_SwitchVAE.py, learning_rate_scheduler): constant lr for 100 epochs,
# then lr · 0.96 ** ((epoch - 100) / 10), set at the start of each epoch.
PAPER_CONSTANT_EPOCHS = 100
PAPER_DECAY_RATE = 0.96
PAPER_DECAY_EPOCHS = 10


def paper_factor(epoch: int) -> float:
    """The public code's lr factor at ``epoch`` (0-based)."""
    if epoch < PAPER_CONSTANT_EPOCHS:
        return 1.0
    return PAPER_DECAY_RATE ** ((epoch - PAPER_CONSTANT_EPOCHS) / PAPER_DECAY_EPOCHS)


def _warmup(step: int, warmup_steps: int) -> float:
    return (step + 1) / warmup_steps if step < warmup_steps else 1.0


def lr_factor(
    config: OptimConfig, total_steps: int, steps_per_epoch: int
) -> Callable[[int], float]:
    """Factor of ``config.lr`` used at optimizer step ``step`` (0-based).

    Args:
        config: optimizer settings (``schedule``, ``warmup_steps``, ``min_lr_ratio``).
        total_steps: optimizer steps of the whole run (cosine reaches its floor there).
        steps_per_epoch: optimizer steps per epoch (the paper schedule is per epoch).
    """
    if total_steps < 1 or steps_per_epoch < 1:
        raise ConfigError(
            f"the run has {total_steps} steps of {steps_per_epoch} per epoch; "
            "the training split must hold at least one full batch"
        )
    warmup = config.warmup_steps
    floor = config.min_lr_ratio

    def constant(step: int) -> float:
        return _warmup(step, warmup)

    def cosine(step: int) -> float:
        if step < warmup:
            return _warmup(step, warmup)
        span = max(1, total_steps - warmup)
        progress = min(1.0, (step - warmup) / span)
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def paper(step: int) -> float:
        return paper_factor(step // steps_per_epoch)

    return {"constant": constant, "cosine": cosine, "paper": paper}[config.schedule]


def build_scheduler(
    optimizer: Optimizer, config: OptimConfig, total_steps: int, steps_per_epoch: int
) -> LambdaLR:
    """A LambdaLR stepped once per optimizer step; see :func:`lr_factor`."""
    return LambdaLR(optimizer, lr_factor(config, total_steps, steps_per_epoch))
