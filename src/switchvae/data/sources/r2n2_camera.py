"""3D-R2N2 cameras: project canonical voxels into the 24 ShapeNetRendering views.

Used to pin the ShapeNetVox32 orientation against the real renders (tests/test_r2n2.py).
"""

from __future__ import annotations

import numpy as np

from switchvae.data.sources.r2n2 import R2N2_IMAGE_SIZE, R2N2_METADATA_COLUMNS
from switchvae.errors import DataError

# Camera distance = distance ratio * 1.75 (3D-R2N2 config RENDERING.MAX_CAMERA_DIST; also
# PyTorch3D datasets/r2n2 MAX_CAMERA_DISTANCE).
R2N2_MAX_CAMERA_DISTANCE = 1.75
# Blender camera of the renders: focal length 35 mm over a 32 mm sensor, i.e. 2.1875 in
# normalized device units (PyTorch3D / Mesh R-CNN BLENDER_INTRINSIC); full field of view
# 2 * atan(1 / 2.1875) = 49.1 deg. Measured on the fixture: this fits the alpha masks, the
# metadata's "25" read as a full angle does not (silhouette IoU 0.27 vs 0.91).
R2N2_FOCAL_NDC = 2.1875


def shapenet_grid_side(grid: np.ndarray) -> float:
    """Side (ShapeNet units) of the cube a centered grid covers, for a unit-diagonal shape.

    ShapeNetCore v1 models are centered with a bounding-box diagonal of 1 (the fixture's
    binvox headers agree, e.g. chair 1a8bbf29: |(0.785, 0.438, 0.438)| = 1.00), so the
    occupied extent of a (non-empty) bool (D, D, D) grid fixes the scale.
    """
    index = np.argwhere(grid)
    extent = (index.max(axis=0) - index.min(axis=0) + 1) / np.asarray(grid.shape)
    return float(1.0 / np.linalg.norm(extent))


def _surface_points(grid: np.ndarray, samples_per_axis: int) -> np.ndarray:
    """Sub-voxel sample points (N, 3) of the boundary voxels, canonical units [-0.5, 0.5]."""
    padded = np.pad(grid, 1)
    interior = grid.copy()
    for axis in range(3):
        for shift in (1, -1):
            interior &= np.roll(padded, shift, axis)[1:-1, 1:-1, 1:-1]
    index = np.argwhere(grid & ~interior)
    offsets = (np.arange(samples_per_axis) + 0.5) / samples_per_axis
    lattice = np.stack(np.meshgrid(offsets, offsets, offsets, indexing="ij"), -1).reshape(-1, 3)
    return (index[:, None, :] + lattice[None]).reshape(-1, 3) / grid.shape[0] - 0.5


def project_points_to_view(
    points: np.ndarray, metadata_row: np.ndarray, image_size: int = R2N2_IMAGE_SIZE
) -> np.ndarray:
    """Rasterize 3-D points (ShapeNet frame, y up) with a 3D-R2N2 camera.

    The camera sits at ``distance_ratio * 1.75`` from the origin, at the given azimuth
    (from +x towards +z, about +y) and elevation (above the xz plane), looks at the origin
    with y up, and projects with focal :data:`R2N2_FOCAL_NDC` (the camera of PyTorch3D's
    ``compute_extrinsic_matrix`` for ShapeNet meshes).

    Args:
        points: (N, 3) world coordinates.
        metadata_row: (5,) one row of :func:`read_rendering_metadata`.
        image_size: H = W of the output mask.

    Returns:
        bool (H, W): pixels hit by at least one point (row 0 at the top).
    """
    row = np.asarray(metadata_row, dtype=np.float64)
    if row.shape != (len(R2N2_METADATA_COLUMNS),) or row[2] != 0 or abs(row[1]) >= 90:
        raise DataError(
            f"project_points_to_view: need one metadata row of 5 values, in-plane rotation 0 "
            f"and |elevation| < 90, got {row}"
        )
    azimuth, elevation = np.radians(row[:2])
    flat = np.cos(elevation)
    forward = -np.array([np.cos(azimuth) * flat, np.sin(elevation), np.sin(azimuth) * flat])
    right = np.cross(forward, [0.0, 1.0, 0.0]) / flat
    up = np.cross(right, forward)
    relative = np.asarray(points, dtype=np.float64) + row[3] * R2N2_MAX_CAMERA_DISTANCE * forward
    depth = relative @ forward
    in_front = depth > 0
    scale = R2N2_FOCAL_NDC / depth[in_front]
    cols = np.floor((1.0 + (relative[in_front] @ right) * scale) * image_size / 2).astype(np.int64)
    rows = np.floor((1.0 - (relative[in_front] @ up) * scale) * image_size / 2).astype(np.int64)
    inside = (cols >= 0) & (cols < image_size) & (rows >= 0) & (rows < image_size)
    mask = np.zeros((image_size, image_size), dtype=bool)
    mask[rows[inside], cols[inside]] = True
    return mask


def project_voxels_to_view(
    grid_canonical: np.ndarray,
    metadata_row: np.ndarray,
    image_size: int = R2N2_IMAGE_SIZE,
    grid_side: float | None = None,
    samples_per_axis: int = 3,
) -> np.ndarray:
    """Silhouette of a canonical grid seen by one 3D-R2N2 camera.

    The grid covers the cube ``[-grid_side / 2, grid_side / 2]^3`` centered at the origin
    (canonical frame scaled to ShapeNet units); each boundary voxel is sampled on a
    ``samples_per_axis^3`` sub-lattice and the samples are rasterized.

    Args:
        grid_canonical: bool (D, D, D), canonical (x, y, z), y up.
        metadata_row: (5,) one row of :func:`read_rendering_metadata`.
        image_size: H = W of the mask (137 matches the renders).
        grid_side: cube side in ShapeNet units; ``None`` uses :func:`shapenet_grid_side`.
        samples_per_axis: sub-voxel samples per axis (3 leaves no holes at 137 px).

    Returns:
        bool (H, W) mask, comparable with ``rgba[..., 3] > 0`` of the matching render.
    """
    grid = np.asarray(grid_canonical) != 0
    if grid.ndim != 3 or len(set(grid.shape)) != 1:
        raise DataError(f"project_voxels_to_view: need a cubic 3-D grid, got {grid.shape}")
    if not grid.any():
        return np.zeros((image_size, image_size), dtype=bool)
    side = shapenet_grid_side(grid) if grid_side is None else float(grid_side)
    points = _surface_points(grid, samples_per_axis) * side
    return project_points_to_view(points, metadata_row, image_size)
