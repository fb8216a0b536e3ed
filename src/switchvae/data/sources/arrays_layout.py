"""What a voxel-array archive holds: which splits, their grid side, labels and class names.

The key names are those of the common ModelNet voxel archives (VoxNet / 3D ShapeNets
ports): ``X_<split>`` grids, ``y_<split>`` or ``Y_<split>`` labels, optional ``class_names``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from switchvae.data.store import npz_members
from switchvae.errors import DataError
from switchvae.limits import MAX_GRID_SIDE

ARRAY_SPLITS = ("train", "val", "test")
GRID_KEY = "X_{split}"
LABEL_KEYS = ("y_{split}", "Y_{split}")
CLASS_NAMES_KEY = "class_names"
OCCUPANCY_THRESHOLD = 0.5  # values >= 0.5 are occupied (0/1 data; soft values rounded)
NUMERIC_KINDS = "biuf"  # numpy dtype kinds accepted for grids: bool, int, uint, float


@dataclass(frozen=True)
class ArchiveLayout:
    """The splits of an archive.

    Attributes:
        members: every array name in the archive.
        array_keys: split -> grid array name (e.g. "train" -> "X_train").
        labels: split -> int64 (N,) labels.
        sides: split -> grid side D.
    """

    members: tuple[str, ...]
    array_keys: dict[str, str]
    labels: dict[str, np.ndarray]
    sides: dict[str, int]


def grid_side(shape: tuple[int, ...], where: str) -> int:
    """Side D of grids stored as (N, D, D, D), (N, 1, D, D, D) or (N, D, D, D, 1)."""
    spatial = None
    if len(shape) == 4:
        spatial = shape[1:]
    elif len(shape) == 5 and shape[1] == 1:
        spatial = shape[2:]
    elif len(shape) == 5 and shape[4] == 1:
        spatial = shape[1:4]
    if spatial is None or len(set(spatial)) != 1 or spatial[0] < 1:
        raise DataError(
            f"{where}: grids have shape {shape}; expected (N, D, D, D), (N, 1, D, D, D) "
            "or (N, D, D, D, 1) with cubic grids"
        )
    if spatial[0] > MAX_GRID_SIDE:
        raise DataError(
            f"{where}: grids of side {spatial[0]} are larger than the {MAX_GRID_SIDE}³ "
            "this package reads"
        )
    return int(spatial[0])


def spatial_grids(block: np.ndarray, where: str) -> np.ndarray:
    """A block of grids in any accepted layout as (n, D, D, D) (a view, values unchanged)."""
    side = grid_side(tuple(block.shape), where)
    return block.reshape(len(block), side, side, side)


def _as_label_vector(raw: np.ndarray, where: str) -> np.ndarray:
    """Labels (N,), (N, 1) or one-hot (N, C) -> int64 (N,)."""
    values = np.asarray(raw)
    if values.ndim == 2 and values.shape[1] > 1:
        if not (np.isin(values, (0, 1)).all() and (values.sum(axis=1) == 1).all()):
            raise DataError(f"{where}: 2-D labels must be one-hot rows (exactly one 1 per row)")
        return values.argmax(axis=1).astype(np.int64)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1 or values.dtype.kind not in NUMERIC_KINDS:
        raise DataError(f"{where}: labels must be integers of shape (N,), got {values.shape}")
    if not np.array_equal(values, np.round(values)):
        raise DataError(f"{where}: labels must be whole numbers")
    return values.astype(np.int64)


def _read_labels(path: Path, members: tuple[str, ...], split: str, count: int) -> np.ndarray:
    keys = [key.format(split=split) for key in LABEL_KEYS]
    found = [key for key in keys if key in members]
    if not found:
        raise DataError(
            f"{path}: has {GRID_KEY.format(split=split)} but no labels ({' or '.join(keys)})"
        )
    npz_members.member_header(path, found[0])  # a header that lies about its size: refused
    try:
        with np.load(path, allow_pickle=False) as archive:
            raw = archive[found[0]]
    except (ValueError, OSError) as err:
        raise DataError(f"{path}: cannot read {found[0]} ({err})") from err
    labels = _as_label_vector(raw, f"{path}: {found[0]}")
    if len(labels) != count:
        raise DataError(f"{path}: {found[0]} has {len(labels)} labels for {count} grids")
    return labels


def read_archive_layout(path: Path) -> ArchiveLayout:
    """Read the headers and labels of an archive (no grid data is read).

    Raises:
        DataError: not an ``.npz``, no grid array, grids of a bad shape or dtype, labels
            missing, of another length or not integers.
    """
    members = tuple(npz_members.member_names(path))
    keys, labels, sides = {}, {}, {}
    for split in ARRAY_SPLITS:
        key = GRID_KEY.format(split=split)
        if key not in members:
            continue
        header = npz_members.member_header(path, key)
        if header.dtype.kind not in NUMERIC_KINDS:
            raise DataError(f"{path}: {key} has dtype {header.dtype}; grids must be numeric")
        sides[split] = grid_side(header.shape, f"{path}: {key}")
        keys[split] = key
        labels[split] = _read_labels(path, members, split, header.shape[0])
    if not keys:
        expected = ", ".join(GRID_KEY.format(split=s) for s in ARRAY_SPLITS)
        raise DataError(f"{path}: no grid arrays ({expected}); the archive has {list(members)}")
    return ArchiveLayout(members, keys, labels, sides)


def read_class_names(path: Path) -> list[str]:
    """The archive's ``class_names`` array as a list of strings."""
    npz_members.member_header(path, CLASS_NAMES_KEY)
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = archive[CLASS_NAMES_KEY]
    except (ValueError, OSError) as err:
        raise DataError(
            f"{path}: cannot read {CLASS_NAMES_KEY} ({err}); store it as a string array "
            "or pass --classes"
        ) from err
    if names.ndim != 1 or names.dtype.kind not in "US":
        raise DataError(f"{path}: {CLASS_NAMES_KEY} must be a 1-D string array")
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names.tolist()]
