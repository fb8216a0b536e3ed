"""``Config`` (the five settings sections of a run) and its presets tiny | cpu | paper.

Presets live in code (:data:`PRESETS`) so an installed package has them;
``configs/*.yaml`` are examples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from switchvae.config.model import LossConfig, ModelConfig
from switchvae.config.training import DataConfig, OptimConfig, TrainConfig


@dataclass(frozen=True)
class Config:
    """Everything a run needs; saved inside every checkpoint and as ``RUN/config.yaml``."""

    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


SECTIONS: dict[str, type] = {
    "model": ModelConfig,
    "loss": LossConfig,
    "data": DataConfig,
    "optim": OptimConfig,
    "train": TrainConfig,
}


CPU_EPOCHS = 12


def tiny_preset() -> Config:
    """For tests: small latent and image features, 2 views of 32², batch 4."""
    return Config(
        model=ModelConfig(latent_dim=16, image_channels=1, image_feature_dim=64, aggregation="max"),
        loss=LossConfig(kl_cycle_epochs=4),
        data=DataConfig(num_views=2, batch_size=4),
        optim=OptimConfig(name="adamw", lr=1e-3, schedule="constant"),
        train=TrainConfig(epochs=2, log_every_steps=1, checkpoint_every_steps=50),
    )


def cpu_preset() -> Config:
    """Default: the synthetic demo on 2 CPU cores (gray views, precision auto).

    Sized so that ``switchvae demo`` ends within 10 minutes on a 2-core CPU without native
    bf16 (measured, ``benchmarks/bench_train.py``: fp32 channels-last, batch 16, 4 random
    views of 64² per sample: ~22 samples/s on AVX2, vs ~14 with 8 views). Training sees 4
    random views of the 12-view ring per sample; evaluation encodes the whole ring (max
    aggregation takes any number of views). Precision ``auto``: bf16 where the CPU runs it
    natively, else fp32 (bf16 emulated on an AVX2-only CPU is ~16× slower than fp32); see
    :mod:`switchvae.train.precision`.
    Max aggregation and 256-wide view features: the ResNet-18 dominates the cost either
    way. One KL cycle spans the run (ramp over the first half, as the public code's 100
    of 200 epochs).
    """
    return Config(
        model=ModelConfig(
            latent_dim=64, image_channels=1, image_feature_dim=256, aggregation="max"
        ),
        loss=LossConfig(kl_cycle_epochs=CPU_EPOCHS),
        data=DataConfig(num_views=4, eval_num_views=12, batch_size=16),
        optim=OptimConfig(name="adamw", lr=1e-3, schedule="cosine", warmup_steps=20),
        train=TrainConfig(
            epochs=CPU_EPOCHS,
            channels_last=True,
            log_every_steps=10,
            checkpoint_every_steps=200,
            val_every_epochs=5,
        ),
    )


def paper_preset() -> Config:
    """The authors' public code: 137² RGB, 8 views, GRU, K=128, SGD Nesterov lr 1e-4.

    Batch 8 and 400 epochs as the public run script; the image head flattens the last
    5×5 ResNet map (137² views) as the public code does, and the alignment loss is on the
    sampled latents (the public code's ``MSE(z_img, z_vol)``). Add an ImageNet-initialised
    ResNet-18 with ``model.imagenet_weights=PATH`` (see the README).
    """
    return Config(
        model=ModelConfig(image_head="flatten", image_head_grid=5),
        loss=LossConfig(align_on="sample"),
        data=DataConfig(num_views=8, train_view_mode="first", batch_size=8),
        optim=OptimConfig(name="sgd", lr=1e-4, momentum=0.9, nesterov=True, schedule="paper"),
        train=TrainConfig(epochs=400, log_every_steps=50, checkpoint_every_steps=1000),
    )


PRESETS: dict[str, Callable[[], Config]] = {
    "tiny": tiny_preset,
    "cpu": cpu_preset,
    "paper": paper_preset,
}
