"""Facts and helpers for the 3D-R2N2 layout (ShapeNetVox32 + ShapeNetRendering + split file).

Layout (Choy et al., 3D-R2N2, ECCV 2016): ``ShapeNetVox32/<taxonomy>/<model>/model.binvox``,
``ShapeNetRendering/<taxonomy>/<model>/rendering/{00..23}.png`` + ``rendering_metadata.txt``,
and the split file ``ShapeNet.json``.

Orientation, measured on the real fixture (tests/test_r2n2.py pins it): the array
:func:`switchvae.data.binvox.read_binvox` returns (binvox (x, y, z), the ``binvox_rw``
convention) is already the ShapeNet object frame = the canonical frame: y up, cameras orbit
around y. The files' "different order" is the raw byte order [x, z, y] that read_binvox undoes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from switchvae.errors import DataError

# 3D-R2N2 dataset: 24 Blender renders per model, each 137x137 RGBA (ShapeNetRendering).
R2N2_NUM_RENDERINGS = 24
R2N2_IMAGE_SIZE = 137
R2N2_RENDERING_NAME = "{index:02d}.png"  # ShapeNetRendering: rendering/00.png .. 23.png
R2N2_METADATA_NAME = "rendering_metadata.txt"
# Columns of rendering_metadata.txt (3D-R2N2 author, chrischoy/3D-R2N2 issue #12):
# azimuth [deg], elevation [deg], in-plane rotation [deg, always 0], distance ratio,
# field of view [deg, always 25].
R2N2_METADATA_COLUMNS = ("azimuth", "elevation", "in_plane_rotation", "distance", "fov")
# Camera distance = distance ratio * 1.75 (3D-R2N2 config RENDERING.MAX_CAMERA_DIST; also
# PyTorch3D datasets/r2n2 MAX_CAMERA_DISTANCE).
R2N2_MAX_CAMERA_DISTANCE = 1.75
# Blender camera of the renders: focal length 35 mm over a 32 mm sensor, i.e. 2.1875 in
# normalized device units (PyTorch3D / Mesh R-CNN BLENDER_INTRINSIC); full field of view
# 2 * atan(1 / 2.1875) = 49.1 deg. Measured on the fixture: this fits the alpha masks, the
# metadata's "25" read as a full angle does not (silhouette IoU 0.27 vs 0.91).
R2N2_FOCAL_NDC = 2.1875

# The 13 categories of the 3D-R2N2 split (ShapeNet.json of hzxie/Pix2Vox, taxonomy_id/name).
R2N2_CATEGORIES: dict[str, str] = {
    "02691156": "aeroplane",
    "02828884": "bench",
    "02933112": "cabinet",
    "02958343": "car",
    "03001627": "chair",
    "03211117": "display",
    "03636649": "lamp",
    "03691459": "speaker",
    "04090263": "rifle",
    "04256520": "sofa",
    "04379243": "table",
    "04401088": "telephone",
    "04530566": "watercraft",
}
SPLIT_NAMES = ("train", "val", "test")

# Background for the transparent pixels (3D-R2N2 config TRAIN/TEST.NO_BG_COLOR_RANGE, kept by
# the public SwitchVAE code): a random light colour per channel in [225, 255] when training,
# gray 240 when evaluating.
TRAIN_BACKGROUND_RANGE = (225, 255)
EVAL_BACKGROUND_GRAY = 240

# ShapeNetVox32 -> canonical: canonical axis i is read_binvox axis SHAPENETVOX32_AXES[i],
# reversed where SHAPENETVOX32_FLIPS[i]. Chosen as the best of the 48 signed axis
# permutations by silhouette IoU against the 24 renders of the 6 fixture chairs.
SHAPENETVOX32_AXES = (0, 1, 2)
SHAPENETVOX32_FLIPS = (False, False, False)


@dataclass(frozen=True)
class CategorySplit:
    """One category of the split file: its id, name and the model ids of each split."""

    taxonomy_id: str
    taxonomy_name: str
    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]


def _category_split(entry: object, index: int, path: Path) -> CategorySplit:
    where = f"{path}: entry {index}"
    if not isinstance(entry, dict):
        raise DataError(f"{where} is {type(entry).__name__}, expected an object")
    for key in ("taxonomy_id", "taxonomy_name", *SPLIT_NAMES):
        if key not in entry:
            raise DataError(f"{where} has no '{key}' key; is this the 3D-R2N2 ShapeNet.json?")
    if not isinstance(entry["taxonomy_id"], str) or not isinstance(entry["taxonomy_name"], str):
        raise DataError(f"{where}: 'taxonomy_id' and 'taxonomy_name' must be strings")
    ids = {}
    for split in SPLIT_NAMES:
        models = entry[split]
        if not isinstance(models, list) or not all(isinstance(m, str) and m for m in models):
            raise DataError(f"{where}: '{split}' must be a list of model id strings")
        ids[split] = tuple(models)
    return CategorySplit(entry["taxonomy_id"], entry["taxonomy_name"], **ids)


def read_split_file(path: str | os.PathLike[str]) -> list[CategorySplit]:
    """Read the 3D-R2N2 split file (``ShapeNet.json``: a list of categories).

    Args:
        path: the JSON file; each entry has ``taxonomy_id``, ``taxonomy_name`` and lists of
            model ids under ``train``, ``val`` and ``test`` (other keys are ignored).

    Returns:
        One :class:`CategorySplit` per category, in file order.

    Raises:
        DataError: missing file, invalid JSON, missing keys or wrong types, duplicate ids.
    """
    path = Path(path)
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: split file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot read split file as JSON ({exc})") from exc
    if not isinstance(entries, list) or not entries:
        raise DataError(f"{path}: split file must be a non-empty JSON list of categories")
    splits = [_category_split(entry, i, path) for i, entry in enumerate(entries)]
    ids = [s.taxonomy_id for s in splits]
    if len(set(ids)) != len(ids):
        raise DataError(f"{path}: a taxonomy_id appears more than once")
    return splits


def read_rendering_metadata(path: str | os.PathLike[str]) -> np.ndarray:
    """Read ``rendering_metadata.txt``: one camera per rendering.

    Args:
        path: the file.

    Returns:
        float64 (24, 5): azimuth, elevation, in-plane rotation (degrees), distance ratio
        (times :data:`R2N2_MAX_CAMERA_DISTANCE` gives the distance), field of view (degrees).

    Raises:
        DataError: missing file, not 24 rows of 5 finite numbers, non-positive distance.
    """
    path = Path(path)
    try:
        rows = [line.split() for line in path.read_text(encoding="ascii").splitlines()]
        values = np.array([[float(v) for v in row] for row in rows if row], dtype=np.float64)
    except FileNotFoundError:
        raise DataError(f"{path}: rendering metadata file not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: cannot parse rendering metadata ({exc})") from exc
    expected = (R2N2_NUM_RENDERINGS, len(R2N2_METADATA_COLUMNS))
    if values.shape != expected or not np.all(np.isfinite(values)):
        raise DataError(f"{path}: expected {expected[0]} rows of {expected[1]} finite numbers")
    if np.any(values[:, 3] <= 0):
        raise DataError(f"{path}: camera distance ratios must be positive")
    return values


def _read_png(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            image.load()
            rgba = np.asarray(image.convert("RGBA"), dtype=np.uint8)
    except FileNotFoundError:
        raise DataError(f"{path}: rendering not found") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{path}: corrupt or unreadable PNG ({exc})") from exc
    if rgba.shape[:2] != (R2N2_IMAGE_SIZE, R2N2_IMAGE_SIZE):
        raise DataError(
            f"{path}: rendering is {rgba.shape[1]}x{rgba.shape[0]}, "
            f"3D-R2N2 renders are {R2N2_IMAGE_SIZE}x{R2N2_IMAGE_SIZE}"
        )
    return rgba


def read_renderings(
    render_dir: str | os.PathLike[str], indices: list[int] | None = None
) -> np.ndarray:
    """Read 3D-R2N2 renders ``<render_dir>/{00..23}.png``.

    Args:
        render_dir: a model's ``rendering`` folder.
        indices: which views, each in 0..23; ``None`` reads all 24 in order.

    Returns:
        uint8 (V, 137, 137, 4) RGBA; alpha 0 is background.

    Raises:
        DataError: index out of range, missing, corrupt or wrongly sized PNG.
    """
    render_dir = Path(render_dir)
    indices = list(range(R2N2_NUM_RENDERINGS)) if indices is None else list(indices)
    bad = [i for i in indices if not 0 <= int(i) < R2N2_NUM_RENDERINGS]
    if bad or not indices:
        raise DataError(
            f"{render_dir}: view indices {bad or '[]'} invalid; use 0..{R2N2_NUM_RENDERINGS - 1}"
        )
    names = [R2N2_RENDERING_NAME.format(index=int(i)) for i in indices]
    return np.stack([_read_png(render_dir / name) for name in names])


def composite_background(rgba: np.ndarray, color: object) -> np.ndarray:
    """Alpha-composite RGBA images over a background colour.

    Args:
        rgba: uint8 (..., H, W, 4).
        color: background in 0..255, broadcastable to (..., H, W, 3): e.g. 3 values,
            or (V, 1, 1, 3) for one colour per view.

    Returns:
        uint8 (..., H, W, 3): ``rgb * a + color * (1 - a)``, ``a = alpha / 255``, rounded.
    """
    rgba = np.asarray(rgba)
    if rgba.dtype != np.uint8 or rgba.ndim < 3 or rgba.shape[-1] != 4:
        raise DataError(
            f"composite_background: need uint8 (..., 4) RGBA, got {rgba.dtype} {rgba.shape}"
        )
    background = np.asarray(color, dtype=np.float32)
    if background.shape[-1:] != (3,) or np.any((background < 0) | (background > 255)):
        raise DataError("composite_background: color must be 3 values in 0..255 per pixel")
    alpha = rgba[..., 3:].astype(np.float32) / 255.0
    out = rgba[..., :3].astype(np.float32) * alpha + background * (1.0 - alpha)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def random_background_color(rng: np.random.Generator) -> np.ndarray:
    """A training background colour: uint8 (3,), each channel in TRAIN_BACKGROUND_RANGE."""
    low, high = TRAIN_BACKGROUND_RANGE
    return rng.integers(low, high + 1, size=3).astype(np.uint8)


def shapenetvox32_to_canonical(grid: np.ndarray) -> np.ndarray:
    """Map a ShapeNetVox32 grid (as :func:`read_binvox` returns it) to the canonical frame.

    Args:
        grid: bool (D, D, D) in binvox (x, y, z) semantics.

    Returns:
        A new bool (D, D, D) array indexed (x, y, z), y up (DESIGN §8): canonical axis i is
        input axis ``SHAPENETVOX32_AXES[i]``, reversed where ``SHAPENETVOX32_FLIPS[i]``.
    """
    grid = np.asarray(grid)
    if grid.ndim != 3:
        raise DataError(f"shapenetvox32_to_canonical: need a 3-D grid, got shape {grid.shape}")
    flips = tuple(i for i, flip in enumerate(SHAPENETVOX32_FLIPS) if flip)
    return np.ascontiguousarray(np.flip(np.transpose(grid != 0, SHAPENETVOX32_AXES), flips))


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
