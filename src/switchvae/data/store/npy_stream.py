"""Streamed row copies between ``.npy`` files, in bounded memory.

A copy through memory maps keeps every touched page of both files resident in the
process, so its RSS grows with the arrays (``benchmarks/bench_prepare_scale.py``: compacting
10,000 shapes of 12 views at 64² took the main process's peak RSS from 224 to 875 MiB;
streamed as here, 230 MiB). These helpers read and write blocks of at most
:data:`COPY_BLOCK_BYTES` with ordinary file I/O instead, so the memory they use does not
depend on the array size. Only C-ordered arrays (what the prepare pipeline writes) are
handled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np

from switchvae.errors import DataError

__all__ = ["NpyLayout", "copy_row_runs", "npy_layout", "select_rows", "write_npy_header"]

COPY_BLOCK_BYTES = 8 * 2**20  # bytes per read: bounds the memory of a copy


class NpyLayout(NamedTuple):
    """Where the rows of a ``.npy`` file are: shape, dtype, byte offset of row 0."""

    shape: tuple[int, ...]
    dtype: np.dtype
    offset: int

    @property
    def row_bytes(self) -> int:
        """Bytes per row (per index of the first axis)."""
        return int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize


def npy_layout(path: Path) -> NpyLayout:
    """Read the header of a ``.npy`` file (DataError if it is not a C-ordered array)."""
    with open(path, "rb") as handle:
        try:
            version = np.lib.format.read_magic(handle)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(handle)
        except ValueError as err:
            raise DataError(f"{path}: not a .npy array ({err})") from err
        if fortran:
            raise DataError(f"{path}: Fortran-ordered array, not written by prepare")
        return NpyLayout(tuple(shape), np.dtype(dtype), handle.tell())


def write_npy_header(out: BinaryIO, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """Write a ``.npy`` header for a C-ordered array; the rows must follow, in order."""
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
        "fortran_order": False,
        "shape": tuple(shape),
    }
    np.lib.format.write_array_header_1_0(out, header)


def copy_row_runs(
    src: Path,
    runs: Sequence[tuple[int, int]],
    out: BinaryIO,
    on_bytes: Callable[[int], object] | None = None,
) -> None:
    """Append rows ``[start, stop)`` of each run of ``src``, in order, onto ``out``.

    Args:
        src: a ``.npy`` file.
        runs: row ranges to copy.
        out: a binary file positioned where the rows go.
        on_bytes: called with each block's size (progress bars).
    """
    layout = npy_layout(src)
    with open(src, "rb") as handle:
        for start, stop in runs:
            if not 0 <= start <= stop <= layout.shape[0]:
                raise DataError(f"{src}: rows {start}..{stop} outside its {layout.shape[0]}")
            handle.seek(layout.offset + start * layout.row_bytes)
            remaining = (stop - start) * layout.row_bytes
            while remaining:
                block = handle.read(min(COPY_BLOCK_BYTES, remaining))
                if not block:
                    raise DataError(f"{src}: file is shorter than its header says")
                out.write(block)
                remaining -= len(block)
                if on_bytes is not None:
                    on_bytes(len(block))


def _runs(rows: Sequence[int]) -> Iterator[tuple[int, int]]:
    """Consecutive row indices grouped into ``[start, stop)`` runs."""
    start = previous = None
    for row in rows:
        if previous is not None and row == previous + 1:
            previous = row
            continue
        if start is not None:
            yield start, previous + 1
        start = previous = row
    if start is not None:
        yield start, previous + 1


def select_rows(src: Path, dst: Path, rows: Sequence[int]) -> None:
    """Write to ``dst`` the array made of rows ``rows`` of ``src`` (in that order)."""
    layout = npy_layout(src)
    with open(dst, "wb") as out:
        write_npy_header(out, (len(rows), *layout.shape[1:]), layout.dtype)
        copy_row_runs(src, list(_runs(rows)), out)
