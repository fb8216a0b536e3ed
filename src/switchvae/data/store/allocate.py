"""Disk space of a prepare run: the size it plans, a check up front, and real allocation.

The output arrays are written through memory maps. A memory map of a *sparse* file gets
its disk blocks only when a page is first written, and a write that finds the disk full
then kills the process with SIGBUS instead of raising an error. So the arrays are created
with their blocks reserved (``posix_fallocate``): a full disk is reported as an ordinary
``OSError`` when the arrays are made, before any work is done, and the work folder stays
resumable. Free space is also checked first against the planned size, so the usual case
gets a clear message before anything is written.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import numpy as np

from switchvae.data.sources.base import ItemSpec, PrepareSettings
from switchvae.data.store import prepared as fmt
from switchvae.errors import DataError

# Bytes kept free on top of the arrays: done markers, labels, manifest, skipped list.
SPACE_MARGIN_BYTES = 1 << 20


def split_counts(items: list[ItemSpec]) -> dict[str, int]:
    """Planned items per split."""
    return {split: sum(1 for i in items if i.split == split) for split in fmt.SPLITS}


def array_shapes(count: int, settings: PrepareSettings, channels: int) -> dict[str, tuple]:
    """Shapes of a split's voxel and view arrays for ``count`` items."""
    side, views = settings.image_size, settings.num_views
    return {
        fmt.VOXELS_FILE: (count, settings.resolution**3 // 8),
        fmt.VIEWS_FILE: (count, views, side, side, channels),
    }


def planned_bytes(items: list[ItemSpec], settings: PrepareSettings, channels: int) -> int:
    """Bytes the output arrays of ``items`` take on disk (before skipped items are dropped)."""
    total = 0
    for count in split_counts(items).values():
        for shape in array_shapes(count, settings, channels).values():
            total += int(np.prod(shape, dtype=np.int64))
    return total


def _human(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def check_free_space(folder: Path, needed: int, what: str) -> None:
    """DataError unless the file system of ``folder`` has ``needed`` bytes (+ margin) free."""
    free = shutil.disk_usage(folder).free
    if free < needed + SPACE_MARGIN_BYTES:
        raise DataError(
            f"not enough free space for {what}: it needs {_human(needed)}, "
            f"{folder} has {_human(free)} free"
        )


def _reserve(path: Path) -> None:
    """Give every byte of ``path`` its disk blocks (no-op where the OS cannot)."""
    if not hasattr(os, "posix_fallocate"):
        return
    fd = os.open(path, os.O_RDWR)
    try:
        size = os.fstat(fd).st_size
        if size:
            try:
                os.posix_fallocate(fd, 0, size)
            except OSError as err:
                if err.errno == errno.ENOSPC:
                    raise OSError(err.errno, err.strerror, str(path)) from None
                if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                    raise
    finally:
        os.close(fd)


def allocate_arrays(
    work: Path, items: list[ItemSpec], settings: PrepareSettings, channels: int
) -> None:
    """Create every split's output arrays in ``work``, disk blocks reserved.

    Raises:
        OSError: ``ENOSPC`` when the disk cannot hold them (the path is named).
    """
    for split, count in split_counts(items).items():
        split_dir = work / split
        split_dir.mkdir(parents=True, exist_ok=True)
        for name, shape in array_shapes(count, settings, channels).items():
            array = np.lib.format.open_memmap(split_dir / name, "w+", np.uint8, shape)
            del array
            _reserve(split_dir / name)
