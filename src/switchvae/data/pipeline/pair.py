"""One shape -> its (voxels, views) pair, the same path for every mesh or grid source."""

from __future__ import annotations

import numpy as np
import trimesh

from switchvae.data.geometry.mesh import normalize_mesh
from switchvae.data.geometry.render import render_views
from switchvae.data.geometry.voxelize import voxelize_mesh


def mesh_pair(mesh: trimesh.Trimesh, settings, up_axis: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Normalize a mesh to the canonical frame, voxelize it and render its views.

    Args:
        mesh: any mesh (its own scale and position), up axis ``up_axis``.
        settings: a :class:`~switchvae.data.pipeline.prepare.PrepareSettings`.
        up_axis: "y" (ShapeNet, the canonical frame) or "z" (ModelNet).
    Returns:
        voxels bool (D, D, D) and views uint8 (V, H, W, C).
    """
    canonical = normalize_mesh(mesh, resolution=settings.resolution, up_axis=up_axis)
    grid = voxelize_mesh(canonical, resolution=settings.resolution, normalize=False)
    return grid, _render(canonical, settings)


def grid_pair(grid: np.ndarray, settings) -> tuple[np.ndarray, np.ndarray]:
    """Render the views of a canonical occupancy grid (D, D, D): returns (grid, views)."""
    grid = np.asarray(grid, dtype=bool)
    return grid, _render(grid, settings)


def _render(shape, settings) -> np.ndarray:
    return render_views(
        shape,
        num_views=settings.num_views,
        image_size=settings.image_size,
        elevation_deg=settings.elevation_deg,
        views=settings.views,
        seed=settings.seed,
        color=settings.color,
        backend=settings.backend,
        resolution=settings.resolution,
        normalize=False,  # meshes arrive canonical (mesh_pair), grids are in their frame
    )
