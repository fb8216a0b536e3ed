"""Voxel encoder (branch A): a 3D CNN in the style of Brock et al. 2016 giving μ and log σ².

Layer order follows the authors' public Keras code: each convolution / dense layer applies
its ELU and is then batch-normalized; both heads are linear and batch-normalized. Weights
start Glorot-normal as there.
"""

from __future__ import annotations

from torch import Tensor, nn

ENCODER_CHANNELS = (8, 16, 32, 64)
ENCODER_STRIDES = (1, 2, 1, 2)  # stride 1 = Keras "valid" (no padding), stride 2 = "same"
KERNEL_SIZE = 3
HIDDEN_UNITS = 343  # = 7³, the public code's dense width


def encoder_output_side(resolution: int) -> int:
    """Side of the last feature map for a D³ input: D -> D-2 -> ⌈·/2⌉ -> -2 -> ⌈·/2⌉.

    For D = 32: 32 -> 30 -> 15 -> 13 -> 7, so the flattened feature has 64·7³ = 21952 values.
    A 3×3×3 convolution with stride 2 and padding 1 gives ⌈n/2⌉, the size of Keras "same".
    """
    side = resolution
    for stride in ENCODER_STRIDES:
        side = side - (KERNEL_SIZE - 1) if stride == 1 else (side + 1) // 2
    return side


def glorot_init(module: nn.Module) -> None:
    """Glorot-normal weights and zero biases for every conv / linear layer (Keras default)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv3d, nn.ConvTranspose3d)):
            nn.init.xavier_normal_(layer.weight)
            nn.init.zeros_(layer.bias)


def _conv_block(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    padding = 0 if stride == 1 else (KERNEL_SIZE - 1) // 2
    return nn.Sequential(
        nn.Conv3d(in_channels, out_channels, KERNEL_SIZE, stride, padding),
        nn.ELU(),
        nn.BatchNorm3d(out_channels),
    )


class VoxelEncoder(nn.Module):
    """Occupancy grid -> Gaussian posterior parameters.

    Args:
        latent_dim: K.
        resolution: D, side of the input grid.
    """

    def __init__(self, latent_dim: int = 128, resolution: int = 32) -> None:
        super().__init__()
        in_channels = (1, *ENCODER_CHANNELS[:-1])
        self.features = nn.Sequential(
            *(
                _conv_block(c_in, c_out, stride)
                for c_in, c_out, stride in zip(
                    in_channels, ENCODER_CHANNELS, ENCODER_STRIDES, strict=True
                )
            )
        )
        flat_dim = ENCODER_CHANNELS[-1] * encoder_output_side(resolution) ** 3
        self.hidden = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat_dim, HIDDEN_UNITS),
            nn.ELU(),
            nn.BatchNorm1d(HIDDEN_UNITS),
        )
        self.mu_head = nn.Sequential(
            nn.Linear(HIDDEN_UNITS, latent_dim), nn.BatchNorm1d(latent_dim)
        )
        self.logvar_head = nn.Sequential(
            nn.Linear(HIDDEN_UNITS, latent_dim), nn.BatchNorm1d(latent_dim)
        )
        glorot_init(self)

    def forward(self, voxels: Tensor) -> tuple[Tensor, Tensor]:
        """Encode occupancy grids.

        Args:
            voxels: (B, 1, D, D, D) occupancy in [0, 1]; B >= 2 in training mode (BatchNorm).

        Returns:
            mu, logvar: each (B, K).
        """
        hidden = self.hidden(self.features(voxels))
        return self.mu_head(hidden), self.logvar_head(hidden)
