"""Multi-view renders of a canonical-frame mesh or voxel grid.

Two backends find, for every pixel center, the nearest triangle (face index or -1):

* ``"embree"``: ray casting with trimesh's embreex-backed intersector, one ray per pixel
  center, all views' rays in a single call;
* ``"torch"``: the plain-torch z-buffer rasterizer of :mod:`switchvae.data.geometry.raster`.

Both use the cameras and pixel centers of :mod:`switchvae.data.geometry.camera` and then share one
shading step, so they agree pixel-wise up to triangle-edge and depth-tie decisions.

Shading: white background (255); the object is gray with a Lambert term from a
directional light fixed to the camera (above, right of and behind the viewer) plus
ambient. The face normal is flipped to face the viewer first, so open meshes and the
inside of shapes render the same from both sides. ``color=True`` multiplies the gray by a
tint made from the world-space normal (``NORMAL_TINT_BASE + NORMAL_TINT_SCALE * n``, per
RGB channel = x, y, z), so surfaces facing +x are reddish, +y greenish, +z bluish.
"""

from __future__ import annotations

import numpy as np
import torch
import trimesh

from switchvae.data.geometry.camera import (
    RING_ELEVATION_DEG,
    camera_poses,
    check_positive_int,
    pixel_rays,
    project_points,
)
from switchvae.data.geometry.mesh import CANONICAL_UP, normalize_mesh
from switchvae.data.geometry.raster import rasterize_face_ids
from switchvae.errors import DataError

__all__ = ["BACKENDS", "camera_poses", "render_views", "shade", "voxels_to_mesh"]

BACKGROUND = 255
"""Background gray level (white)."""

AMBIENT = 0.25
"""Ambient share of the object's brightness: surfaces facing away from the light stay
readable (gray level 64)."""

DIFFUSE = 0.6
"""Lambert share; AMBIENT + DIFFUSE = 0.85 keeps the brightest object pixel (217) clearly
below the white background."""

LIGHT_DIR_CAMERA = np.array([0.4, 0.5, 1.0]) / np.linalg.norm([0.4, 0.5, 1.0])
"""Unit direction towards the light in camera coordinates (right, up, back towards the
viewer): a key light over the viewer's right shoulder, so faces at different angles
get different shades."""

NORMAL_TINT_BASE = 0.6
NORMAL_TINT_SCALE = 0.4
"""Colour mode tint per channel = BASE + SCALE * normal component, in [0.2, 1]."""

CANONICAL_HALF_EXTENT = 0.5
"""Canonical meshes lie in the cube [-0.5, 0.5]^3 (DESIGN §8)."""

BOUNDS_TOLERANCE = 1e-4
"""Slack allowed beyond the canonical cube for rounding in normalization."""

BACKENDS = ("auto", "embree", "torch")
"""Names accepted by ``render_views(..., backend=...)``."""


def voxels_to_mesh(grid: np.ndarray) -> trimesh.Trimesh:
    """Mesh of the exposed cube faces of the occupied voxels of a canonical grid.

    Only faces between an occupied voxel and an empty voxel (or the outside) are built,
    each as two triangles wound counter-clockwise seen from outside (outward normals);
    shared corners are merged, so the mesh is closed and its volume is the voxel volume.

    Args:
        grid: (D, D, D) bool or 0/1 array, index order (x, y, z), y up; voxel (i, j, k)
            covers [i/D - 0.5, (i+1)/D - 0.5] x ... in the cube [-0.5, 0.5]^3.

    Returns:
        trimesh.Trimesh with 2 triangles per exposed face (empty for an empty grid).

    Raises:
        DataError: if the grid is not a cube of 0/1 values.
    """
    occupied = _check_grid(grid)
    side = occupied.shape[0]
    padded = np.pad(occupied, 1)
    inner = padded[1:-1, 1:-1, 1:-1]
    quad_corners = []
    for axis in range(3):
        # (axis, b, c) is a cyclic permutation, so e_b x e_c = e_axis.
        axis_b, axis_c = (axis + 1) % 3, (axis + 2) % 3
        unit = np.eye(3, dtype=np.int64)
        square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]]) @ unit[[axis_b, axis_c]]
        for step in (1, -1):
            neighbour = np.roll(padded, -step, axis=axis)[1:-1, 1:-1, 1:-1]
            voxels = np.argwhere(inner & ~neighbour)
            corners = square if step == 1 else square[::-1]
            plane = unit[axis] if step == 1 else np.zeros(3, dtype=np.int64)
            quad_corners.append(voxels[:, None, :] + plane + corners[None])
    quads = np.concatenate(quad_corners)  # (Q, 4, 3) integer lattice corners
    keys = np.ravel_multi_index(quads.reshape(-1, 3).T, (side + 1,) * 3)
    unique_keys, inverse = np.unique(keys, return_inverse=True)
    vertices = np.stack(np.unravel_index(unique_keys, (side + 1,) * 3), axis=1) / side - 0.5
    corner_ids = inverse.reshape(-1, 4)
    faces = np.concatenate([corner_ids[:, [0, 1, 2]], corner_ids[:, [0, 2, 3]]])
    return trimesh.Trimesh(vertices=vertices, faces=faces, process=False)


def _check_grid(grid: np.ndarray) -> np.ndarray:
    """Validate a voxel grid and return it as a bool (D, D, D) array."""
    array = np.asarray(grid)
    if array.ndim != 3 or len(set(array.shape)) != 1:
        raise DataError(f"voxel grid has shape {array.shape}: expected a cube (D, D, D).")
    if array.dtype == bool:
        return array
    if not np.isin(array, (0, 1)).all():
        raise DataError(
            "voxel grid holds values other than 0 and 1: threshold it first "
            "(e.g. grid >= 0.5) to get occupancy."
        )
    return array.astype(bool)


def _as_mesh(
    mesh_or_voxels: trimesh.Trimesh | np.ndarray,
    resolution: int | None,
    normalize: bool = False,
    up_axis: str = CANONICAL_UP,
) -> trimesh.Trimesh:
    """Turn the render input into a non-empty canonical-frame mesh, or raise DataError."""
    if isinstance(mesh_or_voxels, trimesh.Trimesh):
        mesh = mesh_or_voxels
        if len(mesh.faces) == 0:
            raise DataError("render_views input: the mesh has no faces, nothing to render.")
        reach = np.abs(mesh.bounds).max()  # bounds of the vertices the faces use
        if not np.isfinite(reach):
            raise DataError("render_views input: the mesh has non-finite (NaN or inf) vertices.")
        if normalize:
            return normalize_mesh(mesh, resolution=resolution or 32, up_axis=up_axis)
        if reach > CANONICAL_HALF_EXTENT + BOUNDS_TOLERANCE:
            raise DataError(
                f"render_views input: mesh reaches {reach:.4g} from the origin, outside the "
                "canonical cube [-0.5, 0.5]^3; normalize it first (normalize=True, the default)."
            )
        return mesh
    if isinstance(mesh_or_voxels, np.ndarray):
        grid = _check_grid(mesh_or_voxels)
        if resolution is not None and grid.shape[0] != resolution:
            raise DataError(
                f"voxel grid has side {grid.shape[0]} but resolution={resolution}: pass "
                "the grid's side as resolution (or resolution=None to accept any side)."
            )
        if not grid.any():
            raise DataError("cannot render an empty voxel grid (no voxel is occupied).")
        return voxels_to_mesh(grid)
    raise DataError(
        f"cannot render a {type(mesh_or_voxels).__name__}: pass a trimesh.Trimesh in the "
        "canonical frame or a (D, D, D) numpy occupancy grid."
    )


def _face_ids_embree(
    mesh: trimesh.Trimesh, origins: np.ndarray, directions: np.ndarray
) -> np.ndarray:
    """First triangle hit by every ray: (V, P, 3) rays -> (V, P) int64 face ids or -1."""
    from trimesh.ray.ray_pyembree import RayMeshIntersector

    intersector = RayMeshIntersector(mesh)
    hits = intersector.intersects_first(origins.reshape(-1, 3), directions.reshape(-1, 3))
    return np.asarray(hits, dtype=np.int64).reshape(origins.shape[:2])


def _face_ids_torch(mesh: trimesh.Trimesh, poses: np.ndarray, image_size: int) -> np.ndarray:
    """Nearest triangle under every pixel center via the torch rasterizer: (V, H*W) int64."""
    projected = torch.from_numpy(project_points(mesh.vertices, poses, image_size))
    faces = torch.from_numpy(np.asarray(mesh.faces, dtype=np.int64))
    return rasterize_face_ids(projected, faces, image_size).numpy()


def _resolve_backend(backend: str) -> str:
    """Map ``"auto"`` to a concrete backend and check the name and availability."""
    if backend not in BACKENDS:
        raise DataError(f"unknown render backend {backend!r}: choose one of {', '.join(BACKENDS)}.")
    if backend == "torch":
        return backend
    if trimesh.ray.has_embree:
        return "embree"
    if backend == "embree":
        raise DataError(
            "render backend 'embree' needs the embreex package, which is not importable "
            "here: install embreex or use backend='torch'."
        )
    return "torch"


def shade(
    face_ids: np.ndarray, mesh: trimesh.Trimesh, poses: np.ndarray, color: bool
) -> np.ndarray:
    """Shade per-pixel face ids into gray (or normal-tinted) images on white (flat shading).

    Args:
        face_ids: (V, P) face index under each pixel, -1 for background.
        mesh: the rendered mesh, in world coordinates.
        poses: (V, 4, 4) camera-to-world matrices (the light is fixed to the camera).
        color: False for one gray channel, True for three normal-tinted channels.

    Returns:
        (V, P, C) uint8 with C = 3 if ``color`` else 1.
    """
    hit = face_ids >= 0
    faces = np.where(hit, face_ids, 0)
    normals = np.asarray(mesh.face_normals, dtype=np.float32)[faces]  # (V, P, 3)
    first_corner = np.asarray(mesh.vertices, dtype=np.float32)[mesh.faces[faces, 0]]
    camera = poses[:, None, :3, 3].astype(np.float32)
    # Two-sided: a face whose normal points away from the camera is lit from its other
    # side. The sign of n . (hit point - camera) is the same for every point of the face.
    away = ((first_corner - camera) * normals).sum(axis=-1) > 0
    normals = np.where(away[..., None], -normals, normals)
    light = (poses[:, :3, :3] @ LIGHT_DIR_CAMERA).astype(np.float32)  # (V, 3) towards light
    lambert = np.clip(normals @ light[:, :, None], 0.0, None)  # (V, P, 1)
    level = AMBIENT + DIFFUSE * lambert
    if color:
        level = level * (NORMAL_TINT_BASE + NORMAL_TINT_SCALE * normals)
    image = np.rint(level * 255.0).astype(np.uint8)
    image[~hit] = BACKGROUND
    return image


def render_views(
    mesh_or_voxels: trimesh.Trimesh | np.ndarray,
    num_views: int = 12,
    image_size: int = 64,
    *,
    elevation_deg: float = RING_ELEVATION_DEG,
    views: str = "ring",
    seed: int | None = None,
    color: bool = False,
    backend: str = "auto",
    resolution: int | None = 32,
    normalize: bool = True,
    up_axis: str = CANONICAL_UP,
) -> np.ndarray:
    """Render a mesh or a voxel grid from V cameras around it.

    Cameras, pixel centers and the view layouts are described in
    :mod:`switchvae.data.geometry.camera` (view 0 of the ring looks at the front from +z, azimuth
    counter-clockwise seen from above, world +x is image right in view 0).

    Args:
        mesh_or_voxels: a trimesh.Trimesh (any placement and size, as
            :func:`~switchvae.data.geometry.voxelize.voxelize_mesh` takes), or a (D, D, D) bool / 0-1
            occupancy grid in (x, y, z) index order, rendered as the cube faces of its
            occupied voxels (:func:`voxels_to_mesh`).
        num_views: V >= 1.
        image_size: H = W >= 1 in pixels.
        elevation_deg, views, seed: camera layout, see :func:`camera_poses`.
        color: False for gray (C = 1), True for normal-tinted RGB (C = 3).
        backend: ``"embree"`` (ray casting), ``"torch"`` (rasterizer) or ``"auto"``
            (embree when embreex is importable, else torch).
        resolution: expected side D of a voxel-grid input; None accepts any side. For a
            mesh, the grid side whose margin ``normalize`` leaves (None: 32).
        normalize: first bring a mesh to the canonical frame with
            :func:`~switchvae.data.geometry.mesh.normalize_mesh` (as ``voxelize_mesh`` does, so the
            views and the voxels of one mesh line up); if False the mesh is taken as already
            canonical (inside [-0.5, 0.5]^3, y up) and refused otherwise. Ignored for grids.
        up_axis: the mesh's up axis (``"y"``, or ``"z"`` for ModelNet); only with normalize.

    Returns:
        (V, H, W, C) uint8 images: background 255, object levels <= 217.

    Raises:
        DataError: on an unknown backend or view layout, a bad ``num_views`` or
            ``image_size``, an empty mesh or grid, or an input outside the canonical cube.
    """
    check_positive_int(num_views, "num_views")
    check_positive_int(image_size, "image_size")
    chosen = _resolve_backend(backend)
    mesh = _as_mesh(mesh_or_voxels, resolution, normalize, up_axis)
    poses = camera_poses(num_views, elevation_deg, views, seed)
    face_ids = (
        _face_ids_embree(mesh, *pixel_rays(poses, image_size))
        if chosen == "embree"
        else _face_ids_torch(mesh, poses, image_size)
    )
    image = shade(face_ids, mesh, poses, color)
    return image.reshape(num_views, image_size, image_size, image.shape[-1])
