"""binvox reader/writer: round trips, the voxel order of the specification, corrupt files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from switchvae.data.geometry.binvox import (
    BinvoxHeader,
    read_binvox,
    read_binvox_header,
    write_binvox,
)
from switchvae.errors import DataError

HEADER_2 = b"#binvox 1\ndim 2 2 2\ntranslate 0 0 0\nscale 1\ndata\n"


def _slow_read(path: Path) -> np.ndarray:
    """Obvious reader straight from the specification (dim = depth height width;
    index = x * width * height + z * width + y), one voxel at a time."""
    raw = path.read_bytes()
    start = raw.index(b"data\n") + len(b"data\n")
    depth, height, width = (int(v) for v in raw.split(b"\n")[1].split()[1:])
    grid = np.zeros((depth, width, height), dtype=bool)  # (x, y, z)
    index = 0
    for value, count in zip(raw[start::2], raw[start + 1 :: 2], strict=True):
        for _ in range(count):
            x, rest = divmod(index, width * height)
            z, y = divmod(rest, width)
            grid[x, y, z] = bool(value)
            index += 1
    return grid


@pytest.mark.parametrize(
    ("shape", "fill"),
    [((32, 32, 32), 0.3), ((3, 5, 7), 0.5), ((1, 1, 1), 1.0), ((8, 8, 8), 0.0), ((40, 9, 21), 1.0)],
)
def test_round_trip_preserves_grid_and_header(tmp_path: Path, shape, fill) -> None:
    rng = np.random.default_rng(sum(shape))
    grid = rng.random(shape) < fill
    path = tmp_path / "grid.binvox"
    write_binvox(path, grid, translate=(-0.25, 0.125, 3.5), scale=0.852918)

    back, header = read_binvox(path, with_header=True)

    assert back.dtype == bool and back.shape == shape
    np.testing.assert_array_equal(back, grid)
    assert header == read_binvox_header(path)
    assert header.translate == (-0.25, 0.125, 3.5) and header.scale == 0.852918
    assert header.shape == shape and header.is_cubic == (len(set(shape)) == 1)


def test_voxel_order_follows_the_specification(tmp_path: Path) -> None:
    """Fast reader/writer against the slow one; one voxel's byte position is pinned."""
    grid = np.zeros((4, 5, 6), dtype=bool)  # (x, y, z)
    grid[1, 2, 3] = True
    path = tmp_path / "one.binvox"
    write_binvox(path, grid)
    raw = path.read_bytes()
    assert b"\ndim 4 6 5\n" in raw  # depth (x), height (z), width (y)
    data = np.frombuffer(raw[raw.index(b"data\n") + 5 :], dtype=np.uint8)
    flat = np.repeat(data[0::2], data[1::2])
    assert np.flatnonzero(flat).tolist() == [1 * 6 * 5 + 3 * 5 + 2]

    rng = np.random.default_rng(0)
    random_grid = rng.random((6, 4, 9)) < 0.4
    write_binvox(path, random_grid)
    np.testing.assert_array_equal(_slow_read(path), random_grid)
    np.testing.assert_array_equal(read_binvox(path), random_grid)


def test_hand_written_file(tmp_path: Path) -> None:
    # runs: 1 empty, 1 full, 6 empty -> flat index 1 -> x=0, z=0, y=1.
    path = tmp_path / "hand.binvox"
    path.write_bytes(HEADER_2 + bytes([0, 1, 1, 1, 0, 6]))
    grid = read_binvox(path)
    assert grid.sum() == 1 and grid[0, 1, 0]


def test_long_runs_are_split_at_255(tmp_path: Path) -> None:
    path = tmp_path / "full.binvox"
    write_binvox(path, np.ones((10, 10, 10), dtype=bool))
    raw = path.read_bytes()
    data = raw[raw.index(b"data\n") + 5 :]
    assert list(data) == [1, 255, 1, 255, 1, 255, 1, 235]


def test_version_2_nonzero_values_are_occupied(tmp_path: Path) -> None:
    path = tmp_path / "v2.binvox"
    path.write_bytes(HEADER_2.replace(b"#binvox 1", b"#binvox 2") + bytes([7, 2, 0, 6]))
    assert read_binvox(path).sum() == 2


def test_write_is_atomic_and_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "grid.binvox"
    write_binvox(path, np.ones((2, 2, 2)))
    write_binvox(path, np.zeros((2, 2, 2)))
    assert read_binvox(path).sum() == 0
    assert [p.name for p in path.parent.iterdir()] == ["grid.binvox"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"#binvax 1\ndim 2 2 2\ndata\n\x00\x08", "not a binvox file"),
        (b"#binvox 3\ndim 2 2 2\ndata\n\x00\x08", "version"),
        (b"#binvox 1\ndim 2 2\ndata\n\x00\x08", "dim"),
        (b"#binvox 1\ndim 2 0 2\ndata\n\x00\x08", "dim"),
        (b"#binvox 1\ntranslate 0 0 0\ndata\n\x00\x08", "no 'dim'"),
        (b"#binvox 1\ndim 2 2 2\ntranslate 0 x 0\ndata\n\x00\x08", "translate"),
        (b"#binvox 1\ndim 2 2 2\ntranslate 0 0 0\nscale 1\n", "no 'data'"),
        (HEADER_2 + bytes([0, 4]), "truncated"),
        (HEADER_2 + bytes([0, 4, 1]), "odd number"),
        (HEADER_2 + bytes([0, 4, 1, 4, 0, 1]), "excess"),
        (HEADER_2 + bytes([0, 4, 2, 4]), "0/1"),
        (b"", "not a binvox file"),
    ],
)
def test_corrupt_files_raise_data_error_naming_the_file(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.binvox"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        read_binvox(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.binvox"
    with pytest.raises(DataError, match="not found") as info:
        read_binvox(path)
    assert str(path) in str(info.value)
    with pytest.raises(DataError, match="not found"):
        read_binvox_header(path)


def test_write_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="3-D"):
        write_binvox(tmp_path / "a.binvox", np.ones((4, 4)))
    with pytest.raises(DataError, match="finite"):
        write_binvox(tmp_path / "a.binvox", np.ones((2, 2, 2)), scale=float("nan"))
    assert not list(tmp_path.iterdir())


def _fixture_binvox(r2n2_root: Path) -> list[Path]:
    paths = sorted((r2n2_root / "ShapeNetVox32").glob("*/*/model.binvox"))
    assert len(paths) == 6
    return paths


def test_real_shapenetvox32_files(r2n2_root: Path, tmp_path: Path) -> None:
    """Each fixture reads as a plausible 32^3 grid and rewrites to the identical bytes."""
    for path in _fixture_binvox(r2n2_root):
        grid, header = read_binvox(path, with_header=True)
        assert grid.shape == (32, 32, 32) and grid.dtype == bool
        assert 0.01 < grid.mean() < 0.5
        assert header.dims == (32, 32, 32) and header.version == 1
        assert f"scale {header.scale!r}".encode() in path.read_bytes()

        copy = tmp_path / f"{path.parent.name}.binvox"
        write_binvox(copy, grid, header.translate, header.scale)
        np.testing.assert_array_equal(read_binvox(copy), grid)
        assert copy.read_bytes() == path.read_bytes()
        np.testing.assert_array_equal(_slow_read(path), grid)


def test_header_dataclass() -> None:
    header = BinvoxHeader(dims=(4, 6, 5), translate=(0.0, 0.0, 0.0), scale=1.0)
    assert header.shape == (4, 5, 6) and not header.is_cubic
