"""``latents.{voxel,image}.mean_dim_std``: how spread each branch's z_mean are.

The mean over latent dimensions of the std over the scored split's shapes; near 0 means
collapsed latents.
"""

from __future__ import annotations

import numpy as np

from switchvae.evaluate.sections import MetricSection, Scored


def latent_spread(scored: Scored) -> dict[str, dict[str, float]]:
    """``{branch: {"mean_dim_std": ...}}`` for each branch the model has."""
    test = scored.test
    return {
        branch: {"mean_dim_std": float(np.asarray(z, np.float64).std(axis=0).mean())}
        for branch, z in (("voxel", test.z_voxel), ("image", test.z_image))
        if z is not None
    }


METRIC = MetricSection(
    key="latents",
    compute=latent_spread,
    headline=tuple(f"latents.{branch}.mean_dim_std" for branch in ("voxel", "image")),
    order=20,
)
