"""Data, optimizer and training settings of a run (the model's are in ``model/config.py``).

Each dataclass is frozen and checks its values on construction; a bad value raises
:class:`~switchvae.errors.ConfigError` naming the field. They are grouped, with the model
and loss settings, into :class:`switchvae.config.Config`.
"""

from __future__ import annotations

from dataclasses import dataclass

from switchvae.errors import ConfigError
from switchvae.train.precision import PRECISIONS

OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("cosine", "constant", "paper")
VIEW_MODES = ("first", "random")
AUGMENTATIONS = ("none", "rot90")
ACCELERATORS = ("auto", "cpu", "gpu")


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: {message}")


def _positive_int(value: object, key: str, minimum: int = 1) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    _check(ok, key, f"must be an integer >= {minimum}, got {value!r}")


def _non_negative(value: object, key: str) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
    _check(ok, key, f"must be a number >= 0, got {value!r}")


def _choice(value: object, choices: tuple[str, ...], key: str) -> None:
    _check(value in choices, key, f"must be one of {', '.join(choices)}; got {value!r}")


@dataclass(frozen=True)
class DataConfig:
    """How samples are drawn from the prepared dataset.

    Attributes:
        num_views: V, views per sample (a subset of the stored views).
        train_view_mode: ``random`` (a random subset per sample) or ``first``.
        eval_view_mode: views used in validation: ``first`` (fixed) or ``random``.
        batch_size: samples per batch *per process*; the global batch is this × processes.
        num_workers: DataLoader worker processes (0 = load in the training process).
        augment: training augmentation: ``none`` or ``rot90`` (a random quarter turn about
            the up axis, the grid rotated and the view ring shifted to match).
        eval_num_views: views behind z_image in ``evaluate``/``encode`` (the first ones);
            None = ``num_views``. With max aggregation a model trained on a few random views
            can be evaluated on the whole ring.
    """

    num_views: int = 8
    train_view_mode: str = "random"
    eval_view_mode: str = "first"
    batch_size: int = 8
    num_workers: int = 0
    augment: str = "none"
    eval_num_views: int | None = None

    def __post_init__(self) -> None:
        _positive_int(self.num_views, "num_views")
        _choice(self.train_view_mode, VIEW_MODES, "train_view_mode")
        _choice(self.eval_view_mode, VIEW_MODES, "eval_view_mode")
        # BatchNorm layers need at least 2 samples per process in training.
        _positive_int(self.batch_size, "batch_size", minimum=2)
        _positive_int(self.num_workers, "num_workers", minimum=0)
        _choice(self.augment, AUGMENTATIONS, "augment")
        if self.eval_num_views is not None:
            _positive_int(self.eval_num_views, "eval_num_views")


@dataclass(frozen=True)
class OptimConfig:
    """Optimizer and learning-rate schedule.

    Attributes:
        name: ``adamw`` or ``sgd`` (public code: SGD, momentum 0.9, Nesterov).
        lr: peak learning rate.
        weight_decay: decoupled (AdamW) or L2 (SGD) weight decay.
        momentum: SGD momentum.
        nesterov: SGD Nesterov momentum.
        schedule: ``cosine`` (to ``min_lr_ratio``·lr), ``constant`` or ``paper`` (public code:
            constant for 100 epochs, then ×0.96 every 10 epochs).
        warmup_steps: linear warm-up steps from 0 to lr (cosine and constant schedules).
        min_lr_ratio: final lr of the cosine schedule as a fraction of lr.
        grad_clip_norm: clip the global gradient norm to this value; 0 disables.
    """

    name: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    nesterov: bool = True
    schedule: str = "cosine"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.01
    grad_clip_norm: float = 0.0

    def __post_init__(self) -> None:
        _choice(self.name, OPTIMIZERS, "name")
        _check(
            isinstance(self.lr, (int, float)) and self.lr > 0,
            "lr",
            f"must be a number > 0, got {self.lr!r}",
        )
        _non_negative(self.weight_decay, "weight_decay")
        _non_negative(self.momentum, "momentum")
        _check(
            not (self.nesterov and self.name == "sgd" and self.momentum == 0),
            "nesterov",
            "SGD with Nesterov needs momentum > 0",
        )
        _choice(self.schedule, SCHEDULES, "schedule")
        _positive_int(self.warmup_steps, "warmup_steps", minimum=0)
        _non_negative(self.min_lr_ratio, "min_lr_ratio")
        _check(self.min_lr_ratio <= 1, "min_lr_ratio", f"must be <= 1, got {self.min_lr_ratio}")
        _non_negative(self.grad_clip_norm, "grad_clip_norm")


@dataclass(frozen=True)
class TrainConfig:
    """Length, devices, precision, logging and checkpointing of a run.

    Attributes:
        epochs: passes over the training split.
        max_steps: stop after this many optimizer steps (None = run all epochs); also the
            length of the cosine schedule when set.
        seed: seeds model init, data order, view choice and the switch.
        precision: ``auto`` (bf16 autocast where bf16 is native and measured faster, else
            fp32; see :mod:`switchvae.train.precision`), ``32-true``, ``bf16-mixed`` or
            ``16-mixed`` (fp16 autocast with a gradient scaler, CUDA).
        channels_last: channels-last memory format for the image encoder's 2D CNN.
        sync_batchnorm: use SyncBatchNorm across processes (GPU only in PyTorch).
        log_every_steps: one JSON log line + TensorBoard scalars every this many steps.
        checkpoint_every_steps: write ``checkpoints/last.pt`` every this many steps.
        keep_step_checkpoints: also keep ``checkpoints/step_XXXXXXX.pt`` copies.
        val_every_epochs: validate every this many epochs (and after the last one).
        devices: processes per node (CPU) or GPUs per node.
        num_nodes: machines; DDP is used when devices × num_nodes > 1.
        accelerator: ``auto``, ``cpu`` or ``gpu``.
    """

    epochs: int = 20
    max_steps: int | None = None
    seed: int = 0
    precision: str = "auto"
    channels_last: bool = False
    sync_batchnorm: bool = False
    log_every_steps: int = 10
    checkpoint_every_steps: int = 200
    keep_step_checkpoints: bool = False
    val_every_epochs: int = 1
    devices: int = 1
    num_nodes: int = 1
    accelerator: str = "auto"

    def __post_init__(self) -> None:
        _positive_int(self.epochs, "epochs")
        if self.max_steps is not None:
            _positive_int(self.max_steps, "max_steps")
        _positive_int(self.seed, "seed", minimum=0)
        _choice(self.precision, PRECISIONS, "precision")
        for key in ("log_every_steps", "checkpoint_every_steps", "val_every_epochs"):
            _positive_int(getattr(self, key), key)
        _positive_int(self.devices, "devices")
        _positive_int(self.num_nodes, "num_nodes")
        _choice(self.accelerator, ACCELERATORS, "accelerator")
