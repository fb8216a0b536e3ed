"""Lazy access to the arrays of an ``.npz`` archive, without loading a whole array.

``np.load`` ignores ``mmap_mode`` for ``.npz`` files and reads a member whole. Here:

* :func:`member_header` reads only a member's ``.npy`` header (shape, dtype, order);
* :func:`open_member_rows` memory-maps a member that is *stored* (``np.savez``: no
  compression) straight from the archive file, so rows are read on access;
* :func:`stream_member_rows` reads a *compressed* member (``np.savez_compressed``) in
  blocks of rows, decompressing as it goes; the caller keeps what it needs of each block.

Layouts from the NumPy ``.npy`` format (numpy.lib.format) and the ZIP local file header
(PKWARE APPNOTE 4.3.7: 30 fixed bytes, then the file name and the extra field).
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from switchvae.errors import DataError

ZIP_LOCAL_HEADER_SIZE = 30  # APPNOTE 4.3.7: fixed part of a local file header
ZIP_LOCAL_HEADER_MAGIC = b"PK\x03\x04"
ZIP_NAME_LENGTHS = struct.Struct("<HH")  # file name length, extra field length (offset 26)
STREAM_BLOCK_BYTES = 16 << 20  # rows read per block of a compressed member: about 16 MiB


@dataclass(frozen=True)
class MemberHeader:
    """The ``.npy`` header of one archive member and where its data starts."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    stored: bool
    data_offset: int | None


def _read_npy_header(handle: BinaryIO, where: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(handle)
        return np.lib.format.read_array_header_2_0(handle)
    except ValueError as err:
        raise DataError(f"{where}: not a valid .npy array ({err})") from err


def _data_start(path: Path, info: zipfile.ZipInfo) -> int:
    """Byte offset in the archive file where a stored member's bytes begin."""
    with open(path, "rb") as raw:
        raw.seek(info.header_offset)
        fixed = raw.read(ZIP_LOCAL_HEADER_SIZE)
    if len(fixed) != ZIP_LOCAL_HEADER_SIZE or not fixed.startswith(ZIP_LOCAL_HEADER_MAGIC):
        raise DataError(f"{path}: corrupt zip local header of {info.filename}")
    name_length, extra_length = ZIP_NAME_LENGTHS.unpack(fixed[26:30])
    return info.header_offset + ZIP_LOCAL_HEADER_SIZE + name_length + extra_length


def member_names(path: str | Path) -> list[str]:
    """Array names in an ``.npz`` archive (member names without ``.npy``)."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (zipfile.BadZipFile, OSError) as err:
        raise DataError(f"{path}: not a readable .npz archive ({err})") from err
    return [name[: -len(".npy")] for name in names if name.endswith(".npy")]


def member_header(path: str | Path, key: str) -> MemberHeader:
    """Read the header of array ``key`` of an ``.npz`` archive (no array data is read).

    Raises:
        DataError: not a zip archive, no such array, or a corrupt ``.npy`` header.
    """
    path = Path(path)
    where = f"{path}: array {key!r}"
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(f"{key}.npy")
            with archive.open(info) as member:
                shape, fortran, dtype = _read_npy_header(member, where)
                header_length = member.tell()
    except KeyError:
        raise DataError(f"{where} not found in the archive") from None
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise DataError(f"{where}: unreadable ({err})") from err
    if dtype.hasobject:
        raise DataError(
            f"{where} holds Python objects; only plain arrays of numbers or strings are read"
        )
    claimed = header_length + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if claimed > info.file_size:
        raise DataError(
            f"{where}: its header claims shape {tuple(shape)} ({claimed} bytes) but the "
            f"archive stores {info.file_size} bytes; the file is truncated or corrupt"
        )
    stored = info.compress_type == zipfile.ZIP_STORED
    offset = _data_start(path, info) + header_length if stored else None
    return MemberHeader(tuple(shape), dtype, bool(fortran), stored, offset)


def open_member_rows(path: str | Path, header: MemberHeader) -> np.ndarray:
    """Memory-map a stored (uncompressed) member: rows are read from disk on access."""
    if not header.stored or header.data_offset is None:
        raise DataError(f"{path}: the array is compressed and cannot be memory-mapped")
    order = "F" if header.fortran_order else "C"
    return np.memmap(
        path,
        dtype=header.dtype,
        mode="r",
        offset=header.data_offset,
        shape=header.shape,
        order=order,
    )


def stream_member_rows(path: str | Path, key: str) -> Iterator[np.ndarray]:
    """Yield array ``key`` of an archive as consecutive blocks of rows (axis 0).

    Memory: one block (about :data:`STREAM_BLOCK_BYTES`) at a time. Fortran-ordered
    arrays cannot be cut into rows on the fly and are read whole.

    Raises:
        DataError: a truncated or corrupt member.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as member:
            yield from _blocks(member, f"{path}: array {key!r}")
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, KeyError) as err:
        raise DataError(f"{path}: array {key!r} is unreadable or corrupt ({err})") from err


def _whole(
    member: BinaryIO, shape: tuple[int, ...], fortran: bool, dtype: np.dtype, where: str
) -> np.ndarray:
    size = int(np.prod(shape, dtype=np.int64))
    data = member.read(size * dtype.itemsize)
    if len(data) != size * dtype.itemsize:
        raise DataError(f"{where} is truncated")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def _blocks(member: BinaryIO, where: str) -> Iterator[np.ndarray]:
    shape, fortran, dtype = _read_npy_header(member, where)
    if fortran or not shape:
        yield _whole(member, shape, fortran, dtype, where)
        return
    row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
    rows_per_block = max(1, STREAM_BLOCK_BYTES // max(row_bytes, 1))
    for start in range(0, shape[0], rows_per_block):
        count = min(rows_per_block, shape[0] - start)
        data = member.read(count * row_bytes)
        if len(data) != count * row_bytes:
            raise DataError(f"{where} is truncated")
        yield np.frombuffer(data, dtype=dtype).reshape(count, *shape[1:])
