"""Multi-view image encoder (branch B): shared per-view ResNet-18, view aggregation, μ / log σ².

Views are folded into the batch so one CNN call handles all of them. Each view's last
ResNet map (512×h×w) becomes a ``feature_dim`` vector by one of two heads: ``pool`` (global
average pool -> Linear + BN) or ``flatten`` (public code: the map flattened with its spatial
layout -> Dense 1024 + BN). The V view features become one by a GRU's final state (public
code) or an element-wise max (MVCNN, Su et al. 2015); the ``flatten`` head adds the public
code's Dense after the aggregation. Any number of views V >= 1 and image size >= 32 works.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from switchvae.model.resnet import FEATURE_DIM, ResNet18

# ImageNet channel statistics (torchvision's normalization). Gray images use their mean, close
# to each RGB channel's, to go with the summed RGB stem kernels (see resnet._adapt_stem).
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
MIN_IMAGE_SIZE = 32  # ResNet-18 downsamples by 32: at 32 px its last stage already sees 1×1


def _channel_stats(channels: int, stats: tuple[float, ...]) -> Tensor:
    values = torch.tensor(stats)
    if channels == 1:
        values = values.mean(dim=0, keepdim=True)
    return values.view(1, channels, 1, 1)


class MultiViewImageEncoder(nn.Module):
    """Views of one shape -> Gaussian posterior parameters.

    Converting the module to ``channels_last`` (``module.to(memory_format=torch.channels_last)``)
    also runs the CNN on channels-last inputs, the faster layout for bf16 convolutions.

    Args:
        latent_dim: K.
        image_channels: C, 1 (gray) or 3 (RGB).
        feature_dim: width of each view's feature and of the GRU state (public code: 1024).
        aggregation: ``gru`` or ``max``.
        head: ``pool`` or ``flatten`` (see the module docstring).
        head_grid: g, the side the last map is average-pooled to for the ``flatten`` head.
    """

    def __init__(
        self,
        latent_dim: int = 128,
        image_channels: int = 3,
        feature_dim: int = 1024,
        aggregation: str = "gru",
        head: str = "pool",
        head_grid: int = 2,
    ) -> None:
        super().__init__()
        self.aggregation = aggregation
        self.register_buffer(
            "pixel_mean", _channel_stats(image_channels, IMAGENET_MEAN_RGB), persistent=False
        )
        self.register_buffer(
            "pixel_std", _channel_stats(image_channels, IMAGENET_STD_RGB), persistent=False
        )
        self.backbone = ResNet18(in_channels=image_channels)
        grid = 1 if head == "pool" else head_grid
        self.view_pool = nn.AdaptiveAvgPool2d(grid)
        self.view_embedding = nn.Sequential(
            nn.Linear(FEATURE_DIM * grid * grid, feature_dim), nn.BatchNorm1d(feature_dim)
        )
        self.gru = (
            nn.GRU(feature_dim, feature_dim, batch_first=True) if aggregation == "gru" else None
        )
        self.shape_embedding = nn.Linear(feature_dim, feature_dim) if head == "flatten" else None
        self.mu_head = nn.Sequential(nn.Linear(feature_dim, latent_dim), nn.BatchNorm1d(latent_dim))
        self.logvar_head = nn.Sequential(
            nn.Linear(feature_dim, latent_dim), nn.BatchNorm1d(latent_dim)
        )

    def _uses_channels_last(self) -> bool:
        weight = self.backbone.layer1[0].conv1.weight  # 64×64×3×3: the layout is unambiguous
        return weight.is_contiguous(memory_format=torch.channels_last)

    def view_features(self, views: Tensor) -> Tensor:
        """Per-view features: views (B, V, C, H, W) in [0, 1] -> (B, V, feature_dim)."""
        batch, num_views = views.shape[:2]
        images = (views.flatten(0, 1) - self.pixel_mean) / self.pixel_std
        if self._uses_channels_last():
            images = images.contiguous(memory_format=torch.channels_last)
        maps = self.view_pool(self.backbone.feature_map(images))  # (B·V, 512, g, g)
        features = self.view_embedding(torch.flatten(maps, 1))
        return features.view(batch, num_views, -1)

    def aggregate(self, features: Tensor) -> Tensor:
        """One feature per shape: (B, V, F) -> (B, F), GRU final state or max over views
        (then the ``flatten`` head's Dense)."""
        pooled = features.amax(dim=1) if self.gru is None else self.gru(features)[1][-1]
        return pooled if self.shape_embedding is None else self.shape_embedding(pooled)

    def means(self, views: Tensor, num_views: int | None = None) -> Tensor:
        """Posterior means from the first ``num_views`` views (all when None):
        views (B, V, C, H, W) -> (B, K). Evaluation's entry point."""
        return self.mean_from_features(self.view_features(views), num_views)

    def mean_from_features(self, features: Tensor, num_views: int | None = None) -> Tensor:
        """Posterior means from per-view features (B, V, F), first ``num_views`` -> (B, K)."""
        return self.mu_head(self.aggregate(features[:, :num_views]))

    def forward(self, views: Tensor) -> tuple[Tensor, Tensor]:
        """Encode multi-view images.

        Args:
            views: (B, V, C, H, W) in [0, 1], V >= 1, H and W >= 32; B·V >= 2 and B >= 2 in
                training mode (BatchNorm).

        Returns:
            mu, logvar: each (B, K).
        """
        pooled = self.aggregate(self.view_features(views))
        return self.mu_head(pooled), self.logvar_head(pooled)
