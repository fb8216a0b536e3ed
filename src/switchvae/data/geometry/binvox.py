"""Read and write ``.binvox`` occupancy grids (the format of ShapeNetVox32 and binvox).

Format (binvox specification, https://www.patrickmin.com/binvox/binvox.html): an ASCII
header of lines ``#binvox <version>``, ``dim <d0> <d1> <d2>``, ``translate <tx> <ty> <tz>``,
``scale <s>`` and ``data``, then binary run-length pairs of bytes ``(value, count)``,
``count`` in 1..255. The voxels are stored with **y running fastest, then z, then x**
(linear index ``x * (d1 * d2) + z * d2 + y``): the reference reader reads the dim line as
``depth height width`` with ``x < depth``, ``z < height``, ``y < width``.

Arrays here use the binvox (x, y, z) axis semantics, i.e. the same array that
``binvox_rw.read_as_3d_array(f, fix_coords=True)`` returns: the file's flat data reshaped to
``(d0, d1, d2)`` is indexed ``[x, z, y]``, and we swap the last two axes. For a cubic grid of
side D, voxel ``(i, j, k)`` has its center at ``scale * ((i, j, k) + 0.5) / D + translate`` in
the coordinates of the mesh that was voxelized.

Dataset-specific axis conventions (e.g. ShapeNetVox32 -> the canonical y-up frame) live with
the dataset readers, not here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, overload

import numpy as np

from switchvae.atomic import atomic_write
from switchvae.errors import DataError
from switchvae.limits import MAX_GRID_SIDE

# Binvox specification: the first header line is "#binvox <version>". Version 1 stores 0/1
# values; version 2 (binvox_merge) stores any byte value, non-zero meaning occupied.
BINVOX_MAGIC = b"#binvox"
BINVOX_WRITE_VERSION = 1
BINVOX_READ_VERSIONS = (1, 2)
# Binvox specification: a run length is stored in one unsigned byte.
MAX_RUN_LENGTH = 255
# No real header has more lines than this; stops a scan through binary junk.
MAX_HEADER_LINES = 32


@dataclass(frozen=True)
class BinvoxHeader:
    """The header fields of a ``.binvox`` file.

    Attributes:
        dims: the three numbers of the ``dim`` line, in file order ``(nx, nz, ny)``.
        translate: ``(tx, ty, tz)`` of the normalization transform.
        scale: the uniform scale of the normalization transform.
        version: the format version of the first line.
    """

    dims: tuple[int, int, int]
    translate: tuple[float, float, float]
    scale: float
    version: int = BINVOX_WRITE_VERSION

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape ``(nx, ny, nz)`` of the array :func:`read_binvox` returns."""
        return (self.dims[0], self.dims[2], self.dims[1])

    @property
    def is_cubic(self) -> bool:
        """Whether all three grid sides are equal (the specification asks for it)."""
        return len(set(self.dims)) == 1


def _floats(parts: list[bytes], count: int, line: bytes, path: Path) -> tuple[float, ...]:
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != count or not all(np.isfinite(values)):
        raise DataError(
            f"{path}: malformed binvox header line {line!r}; expected {count} finite numbers"
        )
    return values


def _parse_dims(parts: list[bytes], line: bytes, path: Path) -> tuple[int, int, int]:
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        dims = ()
    if len(dims) != 3 or min(dims) <= 0:
        raise DataError(
            f"{path}: malformed binvox 'dim' line {line!r}; expected three positive integers"
        )
    if max(dims) > MAX_GRID_SIDE:
        raise DataError(
            f"{path}: binvox grid {'x'.join(map(str, dims))} is larger than the "
            f"{MAX_GRID_SIDE}³ this package reads"
        )
    return dims  # type: ignore[return-value]


def _parse_version(line: bytes, path: Path) -> int:
    parts = line.split()
    if not parts or parts[0] != BINVOX_MAGIC:
        raise DataError(
            f"{path}: not a binvox file (first line {line[:40]!r}, expected '#binvox 1')"
        )
    if len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) not in BINVOX_READ_VERSIONS:
        raise DataError(
            f"{path}: unsupported binvox version in {line!r}; supported: {BINVOX_READ_VERSIONS}"
        )
    return int(parts[1])


def _parse_header(raw: bytes, path: Path) -> tuple[BinvoxHeader, int]:
    """Parse the ASCII header; return it and the byte offset where the run-length data starts."""
    first_end = raw.find(b"\n")
    version = _parse_version(raw[: first_end if first_end >= 0 else len(raw)].strip(), path)
    dims, translate, scale = None, (0.0, 0.0, 0.0), 1.0
    offset = first_end + 1
    for _ in range(MAX_HEADER_LINES):
        end = raw.find(b"\n", offset)
        if first_end < 0 or end < 0:
            break
        line = raw[offset:end].strip()
        offset = end + 1
        key, *parts = line.split() or [b""]
        if key == b"data":
            if dims is None:
                raise DataError(f"{path}: binvox header has no 'dim' line before 'data'")
            return BinvoxHeader(dims, translate, scale, version), offset  # type: ignore[arg-type]
        if key == b"dim":
            dims = _parse_dims(parts, line, path)
        elif key == b"translate":
            translate = _floats(parts, 3, line, path)  # type: ignore[assignment]
        elif key == b"scale":
            scale = _floats(parts, 1, line, path)[0]
    raise DataError(
        f"{path}: binvox header has no 'data' line; the file is truncated or not binvox"
    )


def _read_bytes(path: str | os.PathLike[str]) -> tuple[bytes, Path]:
    path = Path(path)
    try:
        return path.read_bytes(), path
    except FileNotFoundError:
        raise DataError(f"{path}: binvox file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read binvox file ({exc.strerror})") from exc


def read_binvox_header(path: str | os.PathLike[str]) -> BinvoxHeader:
    """Read only the header of a ``.binvox`` file.

    Args:
        path: the file.

    Returns:
        The :class:`BinvoxHeader` (dims in file order, translate, scale, version).

    Raises:
        DataError: missing file, bad magic or version, malformed or truncated header.
    """
    raw, path = _read_bytes(path)
    return _parse_header(raw, path)[0]


def _decode_runs(data: np.ndarray, header: BinvoxHeader, path: Path) -> np.ndarray:
    """Run-length bytes -> flat bool array in file order (length nx * ny * nz)."""
    expected = int(np.prod(header.dims, dtype=np.int64))
    if data.size % 2:
        raise DataError(f"{path}: binvox data has an odd number of bytes; the file is truncated")
    values, counts = data[0::2], data[1::2]
    total = int(counts.sum(dtype=np.int64))
    if total != expected:
        problem = "is truncated" if total < expected else "has excess data"
        raise DataError(
            f"{path}: binvox data {problem}: run lengths sum to {total} voxels, "
            f"the header's dim {header.dims} needs {expected}; re-export the file"
        )
    if header.version == 1 and np.any(values > 1):
        raise DataError(
            f"{path}: binvox version 1 data holds value bytes other than 0/1; the file is corrupt"
        )
    return np.repeat(values != 0, counts)


@overload
def read_binvox(path: str | os.PathLike[str], with_header: Literal[False] = ...) -> np.ndarray: ...


@overload
def read_binvox(
    path: str | os.PathLike[str], with_header: Literal[True]
) -> tuple[np.ndarray, BinvoxHeader]: ...


def read_binvox(
    path: str | os.PathLike[str], with_header: bool = False
) -> np.ndarray | tuple[np.ndarray, BinvoxHeader]:
    """Read a ``.binvox`` file into a boolean occupancy array.

    The array is in binvox's own (x, y, z) axis semantics (as ``binvox_rw.read_as_3d_array``
    with ``fix_coords=True``): the file's flat data, y fastest, then z, then x, is reshaped
    to ``[x, z, y]`` and the last two axes are swapped. Non-cubic grids are allowed.

    Args:
        path: the file.
        with_header: also return the :class:`BinvoxHeader`.

    Returns:
        ``grid`` bool (nx, ny, nz) (D, D, D for the usual cubic grid), or ``(grid, header)``.

    Raises:
        DataError: missing file, bad magic or version, malformed header, missing ``data``
            line, truncated data or excess data, value bytes other than 0/1 (version 1).
    """
    raw, path = _read_bytes(path)
    header, offset = _parse_header(raw, path)
    flat = _decode_runs(np.frombuffer(raw, dtype=np.uint8, offset=offset), header, path)
    grid = np.ascontiguousarray(flat.reshape(header.dims).transpose(0, 2, 1))
    return (grid, header) if with_header else grid


def _encode_runs(flat: np.ndarray) -> np.ndarray:
    """Flat 0/1 uint8 array -> interleaved (value, count) bytes, runs split at 255."""
    starts = np.concatenate(([0], np.flatnonzero(flat[1:] != flat[:-1]) + 1))
    lengths = np.diff(np.concatenate((starts, [flat.size])))
    chunks = -(-lengths // MAX_RUN_LENGTH)  # ceil: pieces of <= 255 per run
    counts = np.full(int(chunks.sum()), MAX_RUN_LENGTH, dtype=np.int64)
    last = np.cumsum(chunks) - 1
    counts[last] = lengths - MAX_RUN_LENGTH * (chunks - 1)
    pairs = np.empty((counts.size, 2), dtype=np.uint8)
    pairs[:, 0] = np.repeat(flat[starts], chunks)
    pairs[:, 1] = counts
    return pairs.ravel()


def write_binvox(
    path: str | os.PathLike[str],
    grid: np.ndarray,
    translate: tuple[float, float, float] = (0.0, 0.0, 0.0),
    scale: float = 1.0,
) -> None:
    """Write a boolean occupancy grid as a version-1 ``.binvox`` file, atomically.

    Args:
        path: destination; written to a temporary file in the same folder, then renamed.
        grid: (nx, ny, nz) array in binvox (x, y, z) semantics (as :func:`read_binvox`
            returns it); any dtype, non-zero meaning occupied.
        translate: ``(tx, ty, tz)`` header field.
        scale: header field.

    Raises:
        DataError: ``grid`` not 3-D or with an empty side; non-finite translate/scale.
    """
    path = Path(path)
    grid = np.asarray(grid)
    if grid.ndim != 3 or min(grid.shape) <= 0:
        raise DataError(f"{path}: cannot write binvox: grid shape {grid.shape} is not 3-D")
    values = [float(v) for v in translate] + [float(scale)]
    if len(values) != 4 or not np.all(np.isfinite(values)):
        raise DataError(
            f"{path}: cannot write binvox: translate/scale must be 3 + 1 finite numbers"
        )
    file_order = np.ascontiguousarray(grid.transpose(0, 2, 1) != 0)  # [x, z, y]
    nx, nz, ny = file_order.shape
    header = (
        f"#binvox {BINVOX_WRITE_VERSION}\ndim {nx} {nz} {ny}\n"
        f"translate {values[0]!r} {values[1]!r} {values[2]!r}\nscale {values[3]!r}\ndata\n"
    )
    payload = header.encode("ascii") + _encode_runs(file_order.ravel().view(np.uint8)).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as temp:
        temp.write_bytes(payload)
