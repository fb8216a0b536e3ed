"""Source: occupancy grids in an ``.npz`` archive (``switchvae prepare voxels``).

Archive layout, as the common ModelNet voxel archives have it (e.g. the 32^3 ModelNet10
``.npz`` files of VoxNet / 3D ShapeNets ports): arrays ``X_train``, ``X_test`` (optional
``X_val``) of shape (N, D, D, D), (N, 1, D, D, D) or (N, D, D, D, 1), any numeric dtype,
occupied where the value is >= 0.5; labels ``y_<split>`` or ``Y_<split>`` of shape (N,),
(N, 1) or one-hot (N, C); optional ``class_names`` (C,) strings.

Arrays carry no axis convention: they are read as indexed (x, y, z) with the up axis given
(``z`` by default, the ModelNet convention), rotated into the canonical y-up frame and
resampled to the prepared resolution (:mod:`switchvae.data.geometry.resample`). Views are rendered
from the grid.

Memory: a stored archive (``np.savez``) is memory-mapped, one grid is read per item. A
compressed one (``np.savez_compressed``) cannot be mapped: each worker process decodes a
split's array once, in blocks, and keeps it bit-packed (N * D^3 / 8 bytes: 40 MB for the
9,843 ModelNet40 train grids at 32^3).
"""

from __future__ import annotations

import functools
from argparse import ArgumentParser, Namespace
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from switchvae.cli.args import fraction, name_list
from switchvae.data.geometry.resample import conform_grid
from switchvae.data.pipeline.pair import grid_pair
from switchvae.data.sources.arrays_layout import (
    CLASS_NAMES_KEY,
    OCCUPANCY_THRESHOLD,
    ArchiveLayout,
    grid_side,
    read_archive_layout,
    read_class_names,
    spatial_grids,
)
from switchvae.data.sources.base import ItemSpec, PrepareSettings
from switchvae.data.sources.holdout import carve_validation, check_fraction
from switchvae.data.sources.registry import SourceCommand
from switchvae.data.store import npz_members
from switchvae.errors import DataError
from switchvae.limits import MAX_CLASSES

RESAMPLING_NOTE = (
    "grids whose side differs from the manifest resolution are resampled "
    "(switchvae.data.geometry.resample: any-occupied pooling down, repetition up)"
)


@functools.lru_cache(maxsize=2)
def _open_grids(path: str, key: str, stamp: tuple[int, int]) -> tuple[np.ndarray, bool, int]:
    """Grid array ``key`` of an archive, opened once per worker process (stamp = mtime, size).

    Returns:
        ``(memmap of the raw rows, False, D)`` for a stored member, or ``(bit-packed
        occupancy uint8 (N, ceil(D^3 / 8)), True, D)`` for a compressed one, decoded block
        by block.
    """
    header = npz_members.member_header(path, key)
    side = grid_side(header.shape, f"{path}: {key}")
    if header.stored:
        return npz_members.open_member_rows(path, header), False, side
    blocks = []
    for block in npz_members.stream_member_rows(path, key):
        grids = spatial_grids(block, f"{path}: {key}") >= OCCUPANCY_THRESHOLD
        blocks.append(np.packbits(grids.reshape(len(grids), -1), axis=1))
    return np.concatenate(blocks), True, side


def read_grid(path: Path, key: str, row: int) -> np.ndarray:
    """Occupancy of row ``row`` of array ``key``: bool (D, D, D) in the archive's axes."""
    info = path.stat()
    rows, packed, side = _open_grids(str(path), key, (info.st_mtime_ns, info.st_size))
    if packed:
        bits = np.unpackbits(rows[row], count=side**3)
        return bits.astype(bool).reshape(side, side, side)
    raw = np.asarray(rows[row : row + 1])
    return spatial_grids(raw, f"{path}: {key}")[0] >= OCCUPANCY_THRESHOLD


@dataclass(frozen=True)
class VoxelArraySource:
    """Occupancy grids and labels from an ``.npz`` archive (see the module docstring).

    Attributes:
        npz: the archive.
        class_names: names in label order; None takes ``class_names`` from the archive,
            else ``class_0 .. class_<max label>``.
        up_axis: the arrays' up axis, "z" (ModelNet, default) or "y".
        val_fraction: share of each class of ``X_train`` held out as validation when the
            archive has no ``X_val`` (seed-stable, see :mod:`.holdout`).
        seed: seed of that hold-out.
    """

    npz: Path
    class_names: tuple[str, ...] | None = None
    up_axis: str = "z"
    val_fraction: float = 0.0
    seed: int = 0
    name: str = "voxels"

    def __post_init__(self) -> None:
        check_fraction(self.val_fraction, "val_fraction")
        if self.up_axis not in ("y", "z"):
            raise DataError(f"up_axis={self.up_axis!r}: arrays can be 'y' or 'z' up")
        if not Path(self.npz).is_file():
            raise DataError(f"{self.npz}: voxel archive not found; pass an existing .npz file")

    def _layout(self) -> ArchiveLayout:
        return read_archive_layout(Path(self.npz))

    def classes(self) -> list[str]:
        if self.class_names is not None:
            return list(self.class_names)
        layout = self._layout()
        if CLASS_NAMES_KEY in layout.members:
            return read_class_names(Path(self.npz))
        top = max(
            (int(labels.max()) for labels in layout.labels.values() if labels.size), default=-1
        )
        if top >= MAX_CLASSES:
            raise DataError(
                f"{self.npz}: label {top} would make {top + 1} classes (at most {MAX_CLASSES} "
                "without names); fix the labels or pass the class names with --classes"
            )
        return [f"class_{i}" for i in range(top + 1)]

    def items(self) -> list[ItemSpec]:
        layout = self._layout()
        count = len(self.classes())
        items = []
        for split, labels in layout.labels.items():
            key = layout.array_keys[split]
            items += [
                ItemSpec(f"{split}-{row:06d}", int(label), split, (key, row, count))
                for row, label in enumerate(labels)
            ]
        if "val" in layout.labels:
            return items
        return carve_validation(items, self.val_fraction, self.seed)

    def channels(self, settings: PrepareSettings) -> int:
        return 3 if settings.color else 1

    def build(self, item: ItemSpec, settings: PrepareSettings) -> tuple[np.ndarray, np.ndarray]:
        key, row, count = item.payload
        if not 0 <= item.label < count:
            raise DataError(
                f"{self.npz}: {key}[{row}] has label {item.label}, outside the {count} class "
                "names; pass every class name with --classes (or class_names in the archive)"
            )
        grid = read_grid(Path(self.npz), key, row)
        return grid_pair(conform_grid(grid, settings.resolution, self.up_axis), settings)

    def describe(self) -> dict[str, Any]:
        layout = self._layout()
        return {
            "name": self.name,
            "npz": str(Path(self.npz).resolve()),
            "up_axis": self.up_axis,
            "occupancy_threshold": OCCUPANCY_THRESHOLD,
            "native_resolution": layout.sides,
            "resampling": RESAMPLING_NOTE,
            "val_fraction": self.val_fraction,
            "seed": self.seed,
            "views": "rendered from the voxel grid",
            "arrays": dict(layout.array_keys),
        }


def _add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--npz", required=True, type=Path, help="the archive")
    parser.add_argument(
        "--classes",
        nargs="+",
        metavar="NAME",
        help="class names in label order (a,b,c or a b c); default: the archive's class_names",
    )
    parser.add_argument("--up-axis", choices=("y", "z"), default="z", help="default z (ModelNet)")
    parser.add_argument(
        "--val-fraction",
        type=fraction,
        default=0.0,
        help="share of each class of X_train held out as val when there is no X_val",
    )


def _from_args(args: Namespace) -> VoxelArraySource:
    names = name_list(args.classes)
    return VoxelArraySource(args.npz, names, args.up_axis, args.val_fraction, args.seed)


COMMAND = SourceCommand(
    name="voxels",
    help="occupancy grids from an .npz archive (X_train, y_train, X_test, y_test)",
    description="Grids X_<split> (N,D,D,D), (N,1,D,D,D) or (N,D,D,D,1), occupied >= 0.5; "
    "labels y_<split> or Y_<split>. Grids are rotated to y up, resampled to --resolution "
    "and rendered.",
    add_arguments=_add_arguments,
    build=_from_args,
    order=3,
)
