"""Checks of a prepared dataset when it is opened: the manifest, then a split's files.

A dataset edited, truncated or copied in part must fail with one line naming the file
that is wrong, not with a ``KeyError`` or an ``mmap`` error deep inside training. The
manifest check covers the keys every reader relies on; the split check compares each
array's header (dtype, shape) and file size with the manifest, and the labels with the
class list. Only headers and the small label array are read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from switchvae.data.store.npy_stream import npy_layout
from switchvae.errors import DataError
from switchvae.limits import MAX_GRID_SIDE

if TYPE_CHECKING:
    from switchvae.data.store.manifest import Manifest

VIEW_CHANNELS = (1, 3, 4)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_manifest(manifest: Any, where: Path) -> None:
    """DataError unless ``manifest`` has the keys and value types the readers use."""
    if not isinstance(manifest, dict):
        raise DataError(f"{where}: the manifest is not a JSON object")
    bounds = {
        "resolution": (8, MAX_GRID_SIDE),
        "num_views": (1, None),
        "image_size": (1, None),
    }
    for key, (low, high) in bounds.items():
        value = manifest.get(key)
        if not _is_int(value) or value < low or (high is not None and value > high):
            raise DataError(f"{where}: {key!r} is missing or not a valid integer ({value!r})")
    if manifest.get("channels", 1) not in VIEW_CHANNELS:
        raise DataError(f"{where}: 'channels' must be one of {VIEW_CHANNELS}")
    classes = manifest.get("classes")
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise DataError(f"{where}: 'classes' is missing or not a list of names")
    splits = manifest.get("splits")
    if not isinstance(splits, dict):
        raise DataError(f"{where}: 'splits' is missing or not an object")
    for split, entry in splits.items():
        if not isinstance(entry, dict) or not _is_int(entry.get("size")) or entry["size"] < 0:
            raise DataError(f"{where}: split {split!r} has no valid 'size'")
        ids = entry.get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise DataError(f"{where}: split {split!r} has no valid list of 'ids'")


def _check_array(path: Path, shape: tuple[int, ...], dtype: np.dtype | None) -> None:
    """The ``.npy`` file at ``path``: this dtype (None: any integer), shape, every byte."""
    if not path.is_file():
        raise DataError(f"{path}: missing; the dataset is incomplete, prepare it again")
    layout = npy_layout(path)
    dtype_ok = layout.dtype.kind in "iu" if dtype is None else layout.dtype == dtype
    expected = "integers" if dtype is None else str(dtype)
    if not dtype_ok or layout.shape != shape:
        raise DataError(
            f"{path}: array {layout.shape} {layout.dtype}, the manifest needs {shape} {expected}"
        )
    needed = layout.offset + int(np.prod(shape, dtype=np.int64)) * layout.dtype.itemsize
    if path.stat().st_size < needed:
        raise DataError(
            f"{path}: truncated ({path.stat().st_size} of {needed} bytes); prepare the "
            "dataset again"
        )


def check_split_files(
    root: Path, manifest: Manifest, split: str, names: tuple[str, str, str]
) -> np.ndarray:
    """Check one split's arrays against the manifest; return its labels, int64 (N,).

    Args:
        root: the dataset directory.
        manifest: its (already checked) manifest.
        split: the split to check.
        names: the voxel, view and label file names.
    Raises:
        DataError: naming the file (or manifest entry) that does not match.
    """
    voxels_file, views_file, labels_file = names
    entry = manifest.splits[split]
    size = entry["size"]
    if len(entry["ids"]) != size:
        raise DataError(
            f"{root / 'manifest.json'}: split {split!r} lists {len(entry['ids'])} ids "
            f"for {size} items"
        )
    side, views = manifest.image_size, manifest.num_views
    channels = 1 if manifest.channels is None else manifest.channels
    folder = root / split
    uint8 = np.dtype(np.uint8)
    _check_array(folder / voxels_file, (size, manifest.resolution**3 // 8), uint8)
    _check_array(folder / views_file, (size, views, side, side, channels), uint8)
    _check_array(folder / labels_file, (size,), None)
    labels = np.load(folder / labels_file, allow_pickle=False).astype(np.int64)
    bad = (labels < 0) | (labels >= len(manifest.classes))
    if bad.any():
        raise DataError(
            f"{folder / labels_file}: label {int(labels[bad][0])} is outside the "
            f"{len(manifest.classes)} classes of the manifest"
        )
    return labels
