"""Decoded grids as files: ``.binvox`` occupancy, or a marching-cubes surface as OBJ/PLY/GLB.

The surface is the 0.5 iso-surface of the occupancy probabilities (the evaluation threshold),
found by marching cubes on the grid padded with one empty voxel on every side, so shapes
touching the grid's border come out closed. Both outputs sit in the canonical frame
(DESIGN §8): the cube [-0.5, 0.5]³, y up, voxel (i, j, k) centered at ((i, j, k) + 0.5)/D − 0.5.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh
from skimage.measure import marching_cubes

from switchvae.atomic import atomic_write
from switchvae.data.geometry.binvox import write_binvox
from switchvae.errors import DataError
from switchvae.evaluate.iou import RECON_THRESHOLD

MESH_SUFFIXES = (".obj", ".ply", ".glb")
EXPORT_SUFFIXES = (".binvox", *MESH_SUFFIXES)

CANONICAL_MIN = -0.5
"""Lower corner of the canonical cube; the binvox header's ``translate`` on every axis."""
CANONICAL_SIZE = 1.0
"""Side of the canonical cube; the binvox header's ``scale``."""


def _check_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """A cubic (D, D, D) grid of finite values in [0, 1] as float32 (bool grids allowed)."""
    grid = np.asarray(probabilities)
    if grid.ndim != 3 or len(set(grid.shape)) != 1 or grid.shape[0] < 1:
        raise DataError(f"expected a cubic (D, D, D) grid, got shape {grid.shape}")
    grid = grid.astype(np.float32)
    if not np.all(np.isfinite(grid)) or grid.min() < 0.0 or grid.max() > 1.0:
        raise DataError("occupancy probabilities must be finite and in [0, 1]")
    return grid


def probabilities_to_mesh(
    probabilities: np.ndarray, threshold: float = RECON_THRESHOLD
) -> trimesh.Trimesh:
    """The ``threshold`` iso-surface of an occupancy grid, outward normals, canonical frame.

    Args:
        probabilities: (D, D, D) occupancy probabilities (or a bool / 0-1 grid), index
            order (x, y, z).
        threshold: iso-level, strictly between 0 and 1.

    Returns:
        A closed triangle mesh inside [-0.5, 0.5]³ (positive volume).

    Raises:
        DataError: bad grid or threshold, or no voxel reaches the threshold (empty shape).
    """
    grid = _check_probabilities(probabilities)
    if not 0.0 < threshold < 1.0:
        raise DataError(f"threshold must be strictly between 0 and 1, got {threshold}")
    if grid.max() < threshold:
        raise DataError(f"the decoded shape is empty: no voxel reaches {threshold}")
    padded = np.pad(grid, 1)
    # "ascent": values grow towards the inside, so the faces wind with outward normals.
    vertices, faces, _, _ = marching_cubes(padded, level=threshold, gradient_direction="ascent")
    side = grid.shape[0]
    vertices = (vertices - 0.5) / side * CANONICAL_SIZE + CANONICAL_MIN  # padded index -> cube
    return trimesh.Trimesh(vertices=vertices, faces=faces, process=True)


def export_format(path: str | Path) -> str:
    """The export format a path names (``".binvox"``, ``".obj"``, ...); DataError if none."""
    suffix = Path(path).suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise DataError(f"{path}: export to one of {', '.join(EXPORT_SUFFIXES)}")
    return suffix


def _write_atomically(path: Path, payload: bytes | str) -> None:
    if isinstance(payload, str):  # trimesh returns text for OBJ
        payload = payload.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as temp:
        temp.write_bytes(payload)


def export_decoded(
    probabilities: np.ndarray, path: str | Path, threshold: float = RECON_THRESHOLD
) -> Path:
    """Write a decoded grid to ``path``; the suffix picks the format (written atomically).

    ``.binvox``: the occupancy ``probabilities >= threshold`` with a header placing the grid
    in the canonical cube; ``.obj`` / ``.ply`` / ``.glb``: :func:`probabilities_to_mesh`.

    Args:
        probabilities: (D, D, D) occupancy probabilities, index order (x, y, z), y up.
        path: destination file.
        threshold: occupancy threshold / iso-level.

    Returns:
        The written path.

    Raises:
        DataError: unknown suffix, bad grid, or an empty shape asked for as a mesh.
    """
    path = Path(path)
    suffix = export_format(path)
    grid = _check_probabilities(probabilities)
    if suffix == ".binvox":
        translate = (CANONICAL_MIN,) * 3
        write_binvox(path, grid >= threshold, translate=translate, scale=CANONICAL_SIZE)
        return path
    mesh = probabilities_to_mesh(grid, threshold)
    _write_atomically(path, mesh.export(file_type=suffix[1:]))
    return path
