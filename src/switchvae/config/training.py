"""Data, optimizer and training settings of a run (the model's are in :mod:`.model`).

Each dataclass is frozen and checks its values on construction with
:mod:`switchvae.config.check`; a bad value raises :class:`~switchvae.errors.ConfigError`
naming the field. They are grouped, with the model and loss settings, into
:class:`switchvae.config.Config`.
"""

from __future__ import annotations

from dataclasses import dataclass

from switchvae.config import check

OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("cosine", "constant", "paper")
VIEW_MODES = ("first", "random")
AUGMENTATIONS = ("none", "rot90")
ACCELERATORS = ("auto", "cpu", "gpu")
# ``auto`` or one of Fabric's precisions; resolved in :mod:`switchvae.train.precision`.
PRECISIONS = ("auto", "32-true", "bf16-mixed", "16-mixed")


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
        check.integer(self.num_views, "num_views")
        check.choice(self.train_view_mode, VIEW_MODES, "train_view_mode")
        check.choice(self.eval_view_mode, VIEW_MODES, "eval_view_mode")
        # BatchNorm layers need at least 2 samples per process in training.
        check.integer(self.batch_size, "batch_size", minimum=2)
        check.integer(self.num_workers, "num_workers", minimum=0)
        check.choice(self.augment, AUGMENTATIONS, "augment")
        if self.eval_num_views is not None:
            check.integer(self.eval_num_views, "eval_num_views")


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
        check.choice(self.name, OPTIMIZERS, "name")
        check.number(self.lr, "lr", above=True)
        check.number(self.weight_decay, "weight_decay")
        check.number(self.momentum, "momentum")
        check.require(
            not (self.nesterov and self.name == "sgd" and self.momentum == 0),
            "nesterov",
            "SGD with Nesterov needs momentum > 0",
        )
        check.choice(self.schedule, SCHEDULES, "schedule")
        check.integer(self.warmup_steps, "warmup_steps", minimum=0)
        check.fraction(self.min_lr_ratio, "min_lr_ratio")
        check.number(self.grad_clip_norm, "grad_clip_norm")


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
        check.integer(self.epochs, "epochs")
        if self.max_steps is not None:
            check.integer(self.max_steps, "max_steps")
        check.integer(self.seed, "seed", minimum=0)
        check.choice(self.precision, PRECISIONS, "precision")
        for key in ("log_every_steps", "checkpoint_every_steps", "val_every_epochs"):
            check.integer(getattr(self, key), key)
        check.integer(self.devices, "devices")
        check.integer(self.num_nodes, "num_nodes")
        check.choice(self.accelerator, ACCELERATORS, "accelerator")
