"""Rotation augmentation: a quarter turn of the grid and the matching shift of the view ring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from switchvae.data import load_prepared
from switchvae.data.pipeline.pair import grid_pair
from switchvae.data.pipeline.prepare import PrepareSettings, prepare_dataset
from switchvae.data.sources.voxel_arrays import VoxelArraySource
from switchvae.errors import DataError

RING = PrepareSettings(resolution=32, num_views=8, image_size=32)


def _asymmetric_grids(count: int) -> np.ndarray:
    """L-shaped blocks, different under every quarter turn; bool (count, 32, 32, 32)."""
    grids = np.zeros((count, 32, 32, 32), dtype=bool)
    for k, grid in enumerate(grids):
        grid[4:26, 4:10, 4 : 10 + k] = True
        grid[4:10, 4:10, 4:28] = True
    return grids


@pytest.fixture(scope="module")
def ring_data(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("ring")
    archive = tmp / "grids.npz"
    np.savez(archive, X_train=_asymmetric_grids(2), y_train=np.array([0, 1]))
    out = tmp / "data"
    prepare_dataset(VoxelArraySource(archive, val_fraction=0.0), out, RING, progress=False)
    return out


def test_rotated_sample_matches_a_render_of_the_rotated_grid(ring_data: Path) -> None:
    plain = load_prepared(ring_data, "train", view_mode="first")
    rotated = load_prepared(ring_data, "train", view_mode="first", rotate=True)
    seen = set()
    for seed in range(12):
        torch.manual_seed(seed)
        sample = rotated[1]
        grid = sample["voxels"][0].numpy().astype(bool)
        turns = next(
            k for k in range(4) if np.array_equal(np.rot90(plain.voxels(1), k, (2, 0)), grid)
        )
        seen.add(turns)
        _, views = grid_pair(np.ascontiguousarray(grid), RING)
        expected = torch.from_numpy(views).permute(0, 3, 1, 2).float() / 255.0
        torch.testing.assert_close(sample["views"], expected)
    assert seen == {0, 1, 2, 3}


def test_rotation_needs_a_ring_of_a_multiple_of_four(tmp_path: Path) -> None:
    archive = tmp_path / "grids.npz"
    np.savez(archive, X_train=_asymmetric_grids(2), y_train=np.array([0, 1]))
    out = tmp_path / "six"
    settings = PrepareSettings(resolution=32, num_views=6, image_size=32)
    prepare_dataset(VoxelArraySource(archive, val_fraction=0.0), out, settings, progress=False)
    with pytest.raises(DataError, match="multiple of 4 views"):
        load_prepared(out, "train", rotate=True)
