"""Walking the latent space: interpolation, arithmetic a − b + c, samples from the prior.

Latents are posterior means of test items encoded from their voxels or from their views
(image → voxel: the shared decoder turns an image latent into a grid); every result is
decoded to occupancy probabilities (N, D, D, D) by :func:`decode_probabilities`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from switchvae.analysis.latents import decode_probabilities, encode_items, resolve_item
from switchvae.data.store.prepared import PreparedDataset
from switchvae.errors import ConfigError
from switchvae.limits import MAX_SERIES_STEPS
from switchvae.model.switchvae import SwitchVAE

MIN_STEPS = 2


@dataclass(frozen=True)
class DecodedSeries:
    """A sequence of latents and what the decoder makes of them.

    Attributes:
        z: float32 (N, K) latents.
        probabilities: float32 (N, D, D, D) decoded occupancy probabilities.
        captions: N short labels, one per shape.
        title: what the series shows.
    """

    z: np.ndarray
    probabilities: np.ndarray
    captions: list[str]
    title: str


def lerp_latents(z_a: Tensor, z_b: Tensor, steps: int) -> Tensor:
    """Evenly spaced points from z_a to z_b, both ends included: (K,), (K,) -> (steps, K)."""
    if not MIN_STEPS <= steps <= MAX_SERIES_STEPS:
        raise ConfigError(
            f"interpolation needs at least {MIN_STEPS} and at most {MAX_SERIES_STEPS} steps, "
            f"got {steps}"
        )
    if z_a.shape != z_b.shape or z_a.dim() != 1:
        raise ConfigError(f"latents must both be (K,), got {tuple(z_a.shape)}, {tuple(z_b.shape)}")
    alphas = torch.linspace(0.0, 1.0, steps, dtype=z_a.dtype)[:, None]
    return (1.0 - alphas) * z_a[None] + alphas * z_b[None]


def _item_caption(dataset: PreparedDataset, index: int) -> str:
    return f"{dataset.ids[index]} ({dataset.classes[int(dataset.labels[index])]})"


def interpolate_items(
    model: SwitchVAE,
    dataset: PreparedDataset,
    item_a: str | int,
    item_b: str | int,
    steps: int = 8,
    source: str = "voxels",
) -> DecodedSeries:
    """Decode the straight line between two items' latents.

    Args:
        model: the trained model.
        dataset: the split the items come from.
        item_a, item_b: item ids or indices.
        steps: points on the line, ends included (>= 2).
        source: encode the items from ``"voxels"`` or from ``"views"``.

    Returns:
        :class:`DecodedSeries` of ``steps`` shapes, captions ``α = 0.00 ... 1.00`` with the
        item names at the ends.
    """
    index_a, index_b = resolve_item(dataset, item_a), resolve_item(dataset, item_b)
    z_a, z_b = encode_items(model, dataset, [index_a, index_b], source)
    z = lerp_latents(z_a, z_b, steps)
    captions = [f"α = {alpha:.2f}" for alpha in np.linspace(0.0, 1.0, steps)]
    captions[0] = f"{_item_caption(dataset, index_a)}\n{captions[0]}"
    captions[-1] = f"{_item_caption(dataset, index_b)}\n{captions[-1]}"
    title = f"interpolation, encoded from {source}"
    return DecodedSeries(z.numpy(), decode_probabilities(model, z), captions, title)


def latent_arithmetic(
    model: SwitchVAE,
    dataset: PreparedDataset,
    item_a: str | int,
    item_b: str | int,
    item_c: str | int,
    source: str = "voxels",
) -> DecodedSeries:
    """z_a − z_b + z_c: carry the difference between a and b over to c.

    Returns:
        :class:`DecodedSeries` of 4 shapes: decoded a, b, c, and a − b + c.
    """
    indices = [resolve_item(dataset, item) for item in (item_a, item_b, item_c)]
    z_a, z_b, z_c = encode_items(model, dataset, indices, source)
    z = torch.stack([z_a, z_b, z_c, z_a - z_b + z_c])
    names = [_item_caption(dataset, index) for index in indices]
    captions = [f"a: {names[0]}", f"b: {names[1]}", f"c: {names[2]}", "a − b + c"]
    title = f"latent arithmetic, encoded from {source}"
    return DecodedSeries(z.numpy(), decode_probabilities(model, z), captions, title)


def sample_prior(model: SwitchVAE, count: int = 8, seed: int = 0) -> DecodedSeries:
    """Decode ``count`` latents drawn from the prior N(0, I) with a seeded generator."""
    if count < 1:
        raise ConfigError(f"count must be at least 1, got {count}")
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(count, model.config.latent_dim, generator=generator)
    captions = [f"z ~ N(0, I) #{k + 1}" for k in range(count)]
    title = "samples from the prior N(0, I)"
    return DecodedSeries(z.numpy(), decode_probabilities(model, z), captions, title)
