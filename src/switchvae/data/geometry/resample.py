"""Bring a foreign occupancy grid into the canonical grid: its up axis and its resolution.

Grids from datasets (ModelNet binvox files, voxel-array archives, ShapeNetVox32) come in
their own frame and side. Two steps make them canonical (DESIGN §8: index order (x, y, z),
y up, side D):

* :func:`grid_to_canonical` turns a z-up grid into a y-up one with the same proper rotation
  that :func:`switchvae.data.geometry.mesh.normalize_mesh` applies to z-up meshes
  (x' = x, y' = z, z' = -y), so a mesh and its grid stay aligned.
* :func:`resample_grid` changes the side: downsampling by an integer factor is
  any-occupied pooling (64^3 -> 32^3: a coarse voxel is occupied when any of its 2^3 fine
  voxels is), upsampling by an integer factor is repetition; other ratios map each target
  voxel to the source voxels it overlaps (any-occupied) when shrinking and to the source
  voxel under its center (nearest) when growing. Placement and margin are kept: the grid
  is not re-centered or re-scaled to the canonical one-voxel margin.
"""

from __future__ import annotations

import numpy as np

from switchvae.data.geometry.mesh import UP_AXES
from switchvae.errors import DataError


def _check_cubic(grid: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(grid)
    if array.ndim != 3 or len(set(array.shape)) != 1 or array.shape[0] < 1:
        raise DataError(f"{what}: need a cubic (D, D, D) grid, got shape {array.shape}")
    return array != 0


def _overlap_matrix(target: int, source: int) -> np.ndarray:
    """bool (target, source): target cell i (spanning [i, i+1) * source / target in source
    voxel units) overlaps source voxel s with positive length."""
    edges = np.arange(target + 1) * source  # target cell bounds, in units of 1 / target
    start, stop = edges[:-1, None], edges[1:, None]
    voxel = np.arange(source)[None, :] * target  # source voxel s spans [s, s+1) * target
    return (start < voxel + target) & (stop > voxel)


def _nearest_index(target: int, source: int) -> np.ndarray:
    """int (target,): the source voxel under the center of each target cell."""
    return ((2 * np.arange(target) + 1) * source) // (2 * target)


def _any_overlap(grid: np.ndarray, target: int) -> np.ndarray:
    """Any-occupied mapping for any ratio: separable boolean 'matrix products' per axis."""
    overlap = _overlap_matrix(target, grid.shape[0]).astype(np.int32)
    counts = grid.astype(np.int32)
    for axis in range(3):
        counts = np.moveaxis(np.tensordot(overlap, counts, axes=(1, axis)), 0, axis)
        counts = np.minimum(counts, 1)
    return counts > 0


def resample_grid(grid: np.ndarray, resolution: int) -> np.ndarray:
    """Resample a cubic occupancy grid to side ``resolution``.

    Args:
        grid: (D, D, D) bool or numeric (non-zero = occupied).
        resolution: target side R >= 1.

    Returns:
        bool (R, R, R), a new array (a copy when R == D). D % R == 0: any-occupied pooling
        over f^3 blocks, f = D / R. R % D == 0: each voxel repeated f^3 times, f = R / D.
        Otherwise R < D: any-occupied over the overlapped source voxels; R > D: nearest.

    Raises:
        DataError: non-cubic grid or a bad resolution.
    """
    occupied = _check_cubic(grid, "resample_grid")
    if int(resolution) != resolution or resolution < 1:
        raise DataError(f"resample_grid: resolution={resolution!r} must be a positive integer")
    side, resolution = occupied.shape[0], int(resolution)
    if side == resolution:
        return occupied.copy()
    if side % resolution == 0:
        factor = side // resolution
        blocks = occupied.reshape(resolution, factor, resolution, factor, resolution, factor)
        return blocks.any(axis=(1, 3, 5))
    if resolution % side == 0:
        factor = resolution // side
        return occupied.repeat(factor, 0).repeat(factor, 1).repeat(factor, 2)
    if resolution < side:
        return _any_overlap(occupied, resolution)
    index = _nearest_index(resolution, side)
    return occupied[np.ix_(index, index, index)]


def grid_to_canonical(grid: np.ndarray, up_axis: str) -> np.ndarray:
    """Rotate a grid indexed (x, y, z) with up axis ``up_axis`` into the y-up canonical frame.

    Args:
        grid: (D, D, D) bool or numeric (non-zero = occupied), index order (x, y, z).
        up_axis: "y" (kept as is) or "z" (ModelNet): canonical[i, j, k] =
            grid[i, D - 1 - k, j], i.e. x' = x, y' = z, z' = -y, the rotation of
            :func:`~switchvae.data.geometry.mesh.normalize_mesh`.

    Returns:
        A new contiguous bool (D, D, D) array.
    """
    occupied = _check_cubic(grid, "grid_to_canonical")
    if up_axis not in UP_AXES:
        raise DataError(f"up_axis={up_axis!r} is not supported; use one of {UP_AXES}")
    if up_axis == "z":
        occupied = np.transpose(occupied, (0, 2, 1))[:, :, ::-1]
    return np.ascontiguousarray(occupied)


def conform_grid(grid: np.ndarray, resolution: int, up_axis: str = "y") -> np.ndarray:
    """:func:`grid_to_canonical` then :func:`resample_grid`: bool (R, R, R), y up."""
    return resample_grid(grid_to_canonical(grid, up_axis), resolution)
