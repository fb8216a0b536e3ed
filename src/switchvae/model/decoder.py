"""Voxel decoder shared by both branches: latent -> occupancy logits.

Transposed-convolution sizes follow the public Keras code (padding "same" at stride 1,
"valid" at stride 2). A transposed convolution gives out = (in - 1)·stride - 2·padding + k:

    k3 s1 "same" (padding 1):  n -> n
    k3 s2 "valid":             n -> 2n + 1
    k4 s2 "valid":             n -> 2n + 2

so a seed cube of side s grows s -> s -> 2s+1 -> 2s+1 -> 4s+4 -> 4s+4. For D = 32 the seed
side is 7 (the public code's dense layer of 343 = 7³ units): 7 -> 7 -> 15 -> 15 -> 32 -> 32.
ELU and BatchNorm follow every layer except the last, which returns raw logits.
"""

from __future__ import annotations

from torch import Tensor, nn

from switchvae.model.voxel_encoder import glorot_init

# (out_channels, kernel, stride, padding) of each transposed convolution, first to last.
DECODER_LAYERS = (
    (64, 3, 1, 1),
    (32, 3, 2, 0),
    (16, 3, 1, 1),
    (8, 4, 2, 0),
    (1, 3, 1, 1),
)
SEED_GROWTH = 4  # output side = 4·seed + 4 (see module docstring)


def decoder_seed_side(resolution: int) -> int:
    """Side s of the seed cube that the decoder grows into a D³ grid: D = 4s + 4."""
    return (resolution - SEED_GROWTH) // SEED_GROWTH


def _deconv_block(in_channels: int, layer: tuple[int, int, int, int], last: bool) -> nn.Module:
    out_channels, kernel, stride, padding = layer
    deconv = nn.ConvTranspose3d(in_channels, out_channels, kernel, stride, padding)
    if last:
        return deconv
    return nn.Sequential(deconv, nn.ELU(), nn.BatchNorm3d(out_channels))


class VoxelDecoder(nn.Module):
    """Latent -> occupancy logits.

    Args:
        latent_dim: K.
        resolution: D of the output grid (a multiple of 4; 32 in the paper).
    """

    def __init__(self, latent_dim: int = 128, resolution: int = 32) -> None:
        super().__init__()
        self.seed_side = decoder_seed_side(resolution)
        seed_units = self.seed_side**3
        self.hidden = nn.Sequential(
            nn.Linear(latent_dim, seed_units), nn.ELU(), nn.BatchNorm1d(seed_units)
        )
        blocks = []
        in_channels = 1
        for index, layer in enumerate(DECODER_LAYERS):
            blocks.append(_deconv_block(in_channels, layer, last=index == len(DECODER_LAYERS) - 1))
            in_channels = layer[0]
        self.deconvs = nn.Sequential(*blocks)
        glorot_init(self)

    def forward(self, z: Tensor) -> Tensor:
        """Decode latents.

        Args:
            z: (B, K) latents; B >= 2 in training mode (BatchNorm).

        Returns:
            (B, 1, D, D, D) occupancy logits (apply a sigmoid for probabilities).
        """
        side = self.seed_side
        seed = self.hidden(z).view(-1, 1, side, side, side)
        return self.deconvs(seed)
