"""SwitchVAE (Wu et al., IEEE TMM 2023, arXiv 2301.04612): the whole method in one module.

Two encoders give VAE latents of the same shape: A from its 32³ voxels, B from its V views.
One shared decoder reconstructs the voxels. In ``switch`` mode a random switch picks, per
batch (public code) or per sample, which branch's sampled latent feeds the decoder; the other
branch gets no gradient from reconstruction or KL. The alignment loss (see
:mod:`switchvae.losses`) uses both branches' latents and trains both encoders. The baselines
``weighted_add``, ``voxel_only`` and ``image_only`` live here too, so ablations are fair.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from switchvae.config.model import ModelConfig
from switchvae.model.decoder import VoxelDecoder
from switchvae.model.image_encoder import MIN_IMAGE_SIZE, MultiViewImageEncoder
from switchvae.model.pretrained import ModelFiles
from switchvae.model.resnet import load_torchvision_state_dict
from switchvae.model.voxel_encoder import VoxelEncoder

Branch = tuple[Tensor, Tensor, Tensor]  # (mu, logvar, z), each (B, K)
Generator = torch.Generator | None


@dataclass(frozen=True)
class SwitchOutput:
    """Everything ``SwitchVAE.forward`` computes. Shapes: B batch, K latent, D voxel side.

    The ``*_voxel`` fields are None in ``image_only`` mode and the ``*_image`` fields None in
    ``voxel_only`` mode (that encoder is not run). They are never detached, so losses on them
    (the alignment loss) reach their encoder.

    Attributes:
        mu_voxel, logvar_voxel, z_voxel: voxel branch posterior and sample, (B, K) or None.
        mu_image, logvar_image, z_image: image branch posterior and sample, (B, K) or None.
        use_voxel: (B,) bool, True where the voxel branch fed the decoder. ``weighted_add``
            feeds both; there it is True everywhere when the voxel weight is >= 0.5.
        z_decoder: (B, K) the decoder's input.
        mu_chosen, logvar_chosen: (B, K) posterior for the KL term, switched like z_decoder.
        recon_logits: (B, 1, D, D, D) occupancy logits.
    """

    mu_voxel: Tensor | None
    logvar_voxel: Tensor | None
    z_voxel: Tensor | None
    mu_image: Tensor | None
    logvar_image: Tensor | None
    z_image: Tensor | None
    use_voxel: Tensor
    z_decoder: Tensor
    mu_chosen: Tensor
    logvar_chosen: Tensor
    recon_logits: Tensor


def _random(
    draw: Callable[..., Tensor], shape: tuple, like: Tensor, generator: Generator
) -> Tensor:
    """``torch.rand``/``randn`` drawn where the generator lives (a CPU generator can drive a
    GPU model, with the same numbers on every device), moved to ``like``'s device."""
    device = like.device if generator is None else generator.device
    return draw(shape, generator=generator, device=device).to(like.device)


def reparameterize(mu: Tensor, logvar: Tensor, generator: torch.Generator | None) -> Tensor:
    """z = μ + σ·ε with ε ~ N(0, I) from ``generator``. mu, logvar: (B, K) -> z: (B, K)."""
    noise = _random(torch.randn, tuple(mu.shape), mu, generator).to(mu.dtype)
    return mu + torch.exp(0.5 * logvar) * noise


def select_branch(use_voxel: Tensor, voxel_value: Tensor, image_value: Tensor) -> Tensor:
    """Row b is ``voxel_value[b]`` where ``use_voxel[b]``, else ``image_value[b]``.

    This selection is the stop-gradient on the random branch: ``torch.where`` sends each row's
    gradient only to the branch that row was taken from, so the unchosen encoder gets exactly
    zero gradient from reconstruction and KL, row by row when the switch is drawn per sample.
    (Detaching one whole tensor would be wrong: with per-sample draws each branch is chosen on
    some rows; with a per-batch draw the chosen branch could be the detached one.)

    Args:
        use_voxel: (B,) bool.
        voxel_value, image_value: (B, K).

    Returns:
        (B, K).
    """
    return torch.where(use_voxel[:, None], voxel_value, image_value)


class SwitchVAE(ModelFiles, nn.Module):
    """Voxel encoder + multi-view image encoder + shared voxel decoder with a random switch.

    For channels-last 2D convolutions convert the image branch only:
    ``model.image_encoder.to(memory_format=torch.channels_last)`` (the 3D branches have no
    channels-last layout). BatchNorm needs B >= 2 in training mode.

    Args:
        config: the model settings.
        load_pretrained: load ``config.imagenet_weights`` (if set) into the image CNN. False
            when the weights are about to be overwritten, e.g. from a checkpoint.
    """

    def __init__(self, config: ModelConfig, *, load_pretrained: bool = True) -> None:
        super().__init__()
        self.config = config
        # One-branch baselines do not build the other encoder: parameters that never get a
        # gradient would break DDP (and bloat checkpoints).
        self.voxel_encoder = None
        if config.mode != "image_only":
            self.voxel_encoder = VoxelEncoder(config.latent_dim, config.voxel_resolution)
        self.image_encoder = None
        if config.mode != "voxel_only":
            self.image_encoder = MultiViewImageEncoder(
                config.latent_dim,
                config.image_channels,
                config.image_feature_dim,
                config.aggregation,
                config.image_head,
                config.image_head_grid,
            )
        self.decoder = VoxelDecoder(config.latent_dim, config.voxel_resolution)
        for encoder in (self.voxel_encoder, self.image_encoder):
            if encoder is not None:  # log σ² = BatchNorm(...) + shift: where σ starts
                nn.init.constant_(encoder.logvar_head[-1].bias, float(config.logvar_init))
        if load_pretrained and config.imagenet_weights is not None and self.image_encoder:
            load_torchvision_state_dict(self.image_encoder.backbone, config.imagenet_weights)

    def _check_voxels(self, voxels: Tensor) -> None:
        side = self.config.voxel_resolution
        if voxels.dim() != 5 or tuple(voxels.shape[1:]) != (1, side, side, side):
            raise ValueError(
                f"voxels must have shape (B, 1, {side}, {side}, {side}), got {tuple(voxels.shape)}"
            )

    def _check_views(self, views: Tensor) -> None:
        channels = self.config.image_channels
        if views.dim() != 5 or views.shape[1] < 1 or views.shape[2] != channels:
            raise ValueError(
                f"views must have shape (B, V, {channels}, H, W) with V >= 1, "
                f"got {tuple(views.shape)}"
            )
        if min(views.shape[-2:]) < MIN_IMAGE_SIZE:
            raise ValueError(
                f"views must be at least {MIN_IMAGE_SIZE}×{MIN_IMAGE_SIZE} pixels, "
                f"got {tuple(views.shape[-2:])}"
            )

    def _need(self, encoder: nn.Module | None, what: str) -> nn.Module:
        if encoder is None:
            raise ValueError(f"mode {self.config.mode!r} has no {what} encoder")
        return encoder

    def encode_voxels(self, voxels: Tensor) -> Tensor:
        """Posterior means of grids: voxels (B, 1, D, D, D) -> z_mean (B, K)."""
        self._check_voxels(voxels)
        return self._need(self.voxel_encoder, "voxel")(voxels)[0]

    def encode_views(self, views: Tensor, num_views: int | None = None) -> Tensor:
        """Posterior means of views: views (B, V, C, H, W) in [0, 1] -> z_mean (B, K), from
        the first ``num_views`` views (all when None)."""
        self._check_views(views)
        return self._need(self.image_encoder, "image").means(views, num_views)

    def decode(self, z: Tensor) -> Tensor:
        """Latents (B, K) -> occupancy logits (B, 1, D, D, D)."""
        return self.decoder(z)

    def _decode_switched(self, z: Tensor, use_voxel: Tensor) -> Tensor:
        """Decode a per-sample switched batch without mixing the two row groups.

        In training, the decoder's BatchNorm normalizes with batch statistics, so decoding
        the whole batch would let the reconstruction loss of image-chosen rows reach the
        voxel encoder (and the reverse) through the mean and variance. Each group is decoded
        on its own; a group of one row (no batch statistics) uses the running ones.
        z: (B, K), use_voxel: (B,) bool -> logits (B, 1, D, D, D).
        """
        if not (self.training and self.config.per_sample) or bool(use_voxel.all()):
            return self.decode(z)
        if not bool(use_voxel.any()):
            return self.decode(z)
        logits = None
        for rows in (use_voxel.nonzero()[:, 0], (~use_voxel).nonzero()[:, 0]):
            part = self._decode_group(z[rows])
            if logits is None:
                logits = part.new_empty((z.shape[0], *part.shape[1:]))
            logits = logits.index_copy(0, rows, part)
        return logits

    def _decode_group(self, z: Tensor) -> Tensor:
        if z.shape[0] > 1:
            return self.decode(z)
        self.decoder.eval()  # one row: BatchNorm uses its running statistics
        try:
            return self.decode(z)
        finally:
            self.decoder.train()

    def _draw_switch(self, batch: int, like: Tensor, generator: torch.Generator | None) -> Tensor:
        """(B,) bool, True = voxel branch; Bernoulli(p_voxel) once per batch or per sample."""
        draws = batch if self.config.per_sample else 1
        uniform = _random(torch.rand, (draws,), like, generator)
        return (uniform < self.config.p_voxel).expand(batch).clone()

    def _combine(
        self,
        voxel: Branch | None,
        image: Branch | None,
        like: Tensor,
        generator: torch.Generator | None,
    ) -> tuple[Tensor, Branch]:
        """The mode's decoder input: (use_voxel (B,), (mu, logvar, z) for KL and decoder)."""
        batch = like.shape[0]
        mode = self.config.mode
        if mode == "switch":
            use_voxel = self._draw_switch(batch, like, generator)
            chosen = (select_branch(use_voxel, v, i) for v, i in zip(voxel, image, strict=True))
            return use_voxel, tuple(chosen)
        if mode == "weighted_add":
            # Public code: the same weighted sum for μ, log σ² and z; the KL is taken on the
            # combined (μ, log σ²) as there, not on an exact mixture posterior.
            weight = self.config.weighted_add_voxel
            use_voxel = torch.full((batch,), weight >= 0.5, device=like.device)
            mixed = (weight * v + (1.0 - weight) * i for v, i in zip(voxel, image, strict=True))
            return use_voxel, tuple(mixed)
        use_voxel = torch.full((batch,), mode == "voxel_only", device=like.device)
        return use_voxel, voxel if mode == "voxel_only" else image

    def _check_inputs(self, voxels: Tensor | None, views: Tensor | None) -> Tensor:
        """Check the inputs the mode needs; return one of them (for batch size and device)."""
        mode = self.config.mode
        if mode != "image_only":
            if voxels is None:
                raise ValueError(f"mode {mode!r} needs voxels")
            self._check_voxels(voxels)
        if mode != "voxel_only":
            if views is None:
                raise ValueError(f"mode {mode!r} needs views")
            self._check_views(views)
        if voxels is not None and views is not None and voxels.shape[0] != views.shape[0]:
            raise ValueError(
                f"voxels and views differ in batch size: {voxels.shape[0]} vs {views.shape[0]}"
            )
        return voxels if voxels is not None else views

    def forward(
        self, voxels: Tensor | None, views: Tensor | None, generator: torch.Generator | None = None
    ) -> SwitchOutput:
        """Encode both inputs, switch, decode.

        Args:
            voxels: (B, 1, D, D, D) occupancy; may be None in ``image_only`` mode.
            views: (B, V, C, H, W) in [0, 1]; may be None in ``voxel_only`` mode.
            generator: source of the switch draw and the reparameterization noise; None uses
                PyTorch's global generator. Numbers are drawn on the generator's device.

        Returns:
            :class:`SwitchOutput`.
        """
        like = self._check_inputs(voxels, views)
        voxel_branch = image_branch = None
        if self.voxel_encoder is not None:
            mu, logvar = self.voxel_encoder(voxels)
            voxel_branch = (mu, logvar, reparameterize(mu, logvar, generator))
        if self.image_encoder is not None:
            mu, logvar = self.image_encoder(views)
            image_branch = (mu, logvar, reparameterize(mu, logvar, generator))
        use_voxel, (mu_chosen, logvar_chosen, z_decoder) = self._combine(
            voxel_branch, image_branch, like, generator
        )
        missing = (None, None, None)
        return SwitchOutput(
            *(voxel_branch or missing),
            *(image_branch or missing),
            use_voxel=use_voxel,
            z_decoder=z_decoder,
            mu_chosen=mu_chosen,
            logvar_chosen=logvar_chosen,
            recon_logits=self._decode_switched(z_decoder, use_voxel),
        )


def use_fast_layout(model: SwitchVAE) -> SwitchVAE:
    """Convert the model in place to channels-last layouts (3D nets: ``channels_last_3d``).

    Values are unchanged. Measured (``benchmarks/bench_train.py``, 2 cores): channels-last is
    the faster layout for the 2D CNN in bf16 *and* fp32, and in the default 3D layout oneDNN
    pads the decoder's last 8->1 transposed convolution (~66 ms vs ~5 ms forward). Returns
    the model.
    """
    if model.voxel_encoder is not None:
        model.voxel_encoder.to(memory_format=torch.channels_last_3d)
    model.decoder.to(memory_format=torch.channels_last_3d)
    if model.image_encoder is not None:
        model.image_encoder.to(memory_format=torch.channels_last)
    return model
