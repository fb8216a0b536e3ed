"""Settings of the SwitchVAE model and its losses.

Defaults are the ``paper`` preset: the settings of the authors' public code (TensorFlow/Keras,
github.com/0xzhou/SwitchVAE) unless a field's comment says otherwise. Both dataclasses are
frozen and validated on construction with :mod:`switchvae.config.check`; a bad value raises
:class:`~switchvae.errors.ConfigError` naming the field. (Also importable from
``switchvae.model.config``.)
"""

from __future__ import annotations

from dataclasses import dataclass

from switchvae.config import check

MODES = ("switch", "weighted_add", "voxel_only", "image_only")
AGGREGATIONS = ("gru", "max")
IMAGE_HEADS = ("pool", "flatten")
IMAGE_CHANNELS = (1, 3)
ALIGN_KINDS = ("mse", "cosine", "infonce")
ALIGN_ON = ("mean", "sample")
ALIGN_STOP_GRAD = ("none", "chosen", "other")

# The decoder grows a seed cube of side (D - 4) / 4 to D (see decoder.py), so D must be a
# multiple of 4; at D = 8 the encoder's last feature map is already 1 voxel wide.
MIN_VOXEL_RESOLUTION = 8
VOXEL_RESOLUTION_MULTIPLE = 4


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and switch settings of :class:`~switchvae.model.switchvae.SwitchVAE`.

    Attributes:
        latent_dim: K, size of each branch's latent.
        voxel_resolution: D, side of the occupancy grid (a multiple of 4, at least 8).
        image_channels: C of the rendered views, 1 (gray) or 3 (RGB).
        image_feature_dim: width of the per-view feature and of the GRU state.
        aggregation: how view features become one: ``gru`` (public code) or ``max`` (MVCNN).
        image_head: per-view feature from the ResNet's last 512×h×w map: ``pool`` (global
            average pool -> Linear + BN) or ``flatten`` (public code: the map, average-pooled
            to ``image_head_grid``², flattened with its spatial layout -> Linear + BN, plus a
            Linear after the view aggregation). Default ``pool`` (older runs have no key).
        image_head_grid: side g of the map the ``flatten`` head sees (64² views give a 2×2
            map, 137² views 5×5; a map of that side is used as it is).
        mode: ``switch`` (the method), ``weighted_add``, ``voxel_only`` or ``image_only``.
        p_voxel: probability that the switch picks the voxel branch (public code: 0.8).
        per_sample: draw the switch per sample instead of once per batch (public code).
        weighted_add_voxel: voxel weight w in ``weighted_add``: w·voxel + (1 - w)·image.
        imagenet_weights: optional local file with ResNet-18 ImageNet weights in torchvision's
            ``resnet18`` state_dict layout; None trains the image CNN from scratch.
        logvar_init: starting shift of both encoders' log-variance heads (the bias of their
            closing BatchNorm). Public code: 0, so every posterior starts with σ ≈ 1 against
            means of unit spread; -6 starts σ near 0.05 (see docs/architecture.md).
    """

    latent_dim: int = 128
    voxel_resolution: int = 32
    image_channels: int = 3
    image_feature_dim: int = 1024
    aggregation: str = "gru"
    image_head: str = "pool"
    image_head_grid: int = 2
    mode: str = "switch"
    p_voxel: float = 0.8
    per_sample: bool = False
    weighted_add_voxel: float = 0.8
    imagenet_weights: str | None = None
    logvar_init: float = 0.0

    def __post_init__(self) -> None:
        check.integer(self.latent_dim, "latent_dim")
        check.require(
            check.is_int(self.voxel_resolution)
            and self.voxel_resolution >= MIN_VOXEL_RESOLUTION
            and self.voxel_resolution % VOXEL_RESOLUTION_MULTIPLE == 0,
            "voxel_resolution",
            f"must be a multiple of {VOXEL_RESOLUTION_MULTIPLE} and at least "
            f"{MIN_VOXEL_RESOLUTION}, got {self.voxel_resolution!r}",
        )
        check.require(
            check.is_int(self.image_channels) and self.image_channels in IMAGE_CHANNELS,
            "image_channels",
            f"must be 1 (gray) or 3 (RGB), got {self.image_channels!r}",
        )
        check.integer(self.image_feature_dim, "image_feature_dim")
        check.choice(self.aggregation, AGGREGATIONS, "aggregation")
        check.choice(self.image_head, IMAGE_HEADS, "image_head")
        check.integer(self.image_head_grid, "image_head_grid", minimum=1, maximum=16)
        check.choice(self.mode, MODES, "mode")
        check.fraction(self.p_voxel, "p_voxel")
        check.flag(self.per_sample, "per_sample")
        check.fraction(self.weighted_add_voxel, "weighted_add_voxel")
        check.require(
            self.imagenet_weights is None or isinstance(self.imagenet_weights, str),
            "imagenet_weights",
            f"must be a file path or None, got {self.imagenet_weights!r}",
        )
        check.number(self.logvar_init, "logvar_init", minimum=-20.0, maximum=5.0)


@dataclass(frozen=True)
class LossConfig:
    """Weights and variants of the losses in :mod:`switchvae.losses`.

    Attributes:
        recon_pos_weight: BCE weight on occupied voxels (public code: 0.8).
        recon_neg_weight: BCE weight on empty voxels (public code: 0.2).
        kl_max_weight: KL weight reached at the end of each annealing ramp.
        kl_cycle_epochs: length of one cyclical-annealing cycle in epochs (public code: 200).
        kl_ramp_fraction: part of each cycle over which the KL weight rises linearly from 0 to
            ``kl_max_weight`` (public code: 100 of 200 epochs); 0 disables annealing.
        align: alignment loss between z_voxel and z_image: ``mse`` (public code), ``cosine``
            or ``infonce``.
        align_weight: weight of the alignment loss in the total.
        align_on: align the means (``mean``) or the sampled latents (``sample``).
        align_stop_grad: in the alignment loss, detach nothing (``none``), the branch that fed
            the decoder (``chosen``) or the other one (``other``).
        temperature: InfoNCE temperature.
    """

    recon_pos_weight: float = 0.8
    recon_neg_weight: float = 0.2
    kl_max_weight: float = 1.0
    kl_cycle_epochs: int = 200
    kl_ramp_fraction: float = 0.5
    align: str = "mse"
    align_weight: float = 1.0
    align_on: str = "mean"
    align_stop_grad: str = "none"
    temperature: float = 0.1

    def __post_init__(self) -> None:
        for field in ("recon_pos_weight", "recon_neg_weight", "kl_max_weight", "align_weight"):
            check.number(getattr(self, field), field)
        check.integer(self.kl_cycle_epochs, "kl_cycle_epochs")
        check.fraction(self.kl_ramp_fraction, "kl_ramp_fraction")
        check.choice(self.align, ALIGN_KINDS, "align")
        check.choice(self.align_on, ALIGN_ON, "align_on")
        check.choice(self.align_stop_grad, ALIGN_STOP_GRAD, "align_stop_grad")
        check.number(self.temperature, "temperature", above=True)
