"""Facts and helpers for the 3D-R2N2 layout (ShapeNetVox32 + ShapeNetRendering + split file).

Layout (Choy et al., 3D-R2N2, ECCV 2016): ``ShapeNetVox32/<taxonomy>/<model>/model.binvox``,
``ShapeNetRendering/<taxonomy>/<model>/rendering/{00..23}.png`` + ``rendering_metadata.txt``,
and the split file ``ShapeNet.json``.

Orientation, measured on the real fixture (tests/test_r2n2.py pins it): the array
:func:`switchvae.data.geometry.binvox.read_binvox` returns (binvox (x, y, z), the ``binvox_rw``
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
