"""The voxels source (.npz archives) and its lazy archive reader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from switchvae.data import load_prepared
from switchvae.data.geometry.resample import conform_grid
from switchvae.data.pipeline.prepare import PrepareSettings, prepare_dataset
from switchvae.data.sources.voxel_arrays import VoxelArraySource
from switchvae.data.store import npz_members
from switchvae.errors import DataError

SMALL = PrepareSettings(resolution=32, num_views=2, image_size=32)


def _grids(count: int, side: int, seed: int) -> np.ndarray:
    """Random boxes, bool (count, side, side, side), each tall along the last axis (z)."""
    rng = np.random.default_rng(seed)
    grids = np.zeros((count, side, side, side), dtype=bool)
    for grid in grids:
        low = rng.integers(2, side // 4, size=3)
        size = rng.integers(side // 8, side // 4, size=3)
        size[2] = side // 2 + rng.integers(0, side // 4)
        grid[low[0] : low[0] + size[0], low[1] : low[1] + size[1], low[2] : low[2] + size[2]] = True  # fmt: skip
    return grids


def test_compressed_channel_first_64_cubed(tmp_path: Path) -> None:
    train, test = _grids(5, 64, 0), _grids(3, 64, 1)
    archive = tmp_path / "modelnet64.npz"
    np.savez_compressed(
        archive, X_train=train[:, None].astype(np.float32), y_train=np.array([0, 1, 2, 0, 1]),
        X_test=test[:, None].astype(np.float32), y_test=np.array([[2], [1], [0]]),
        class_names=np.array(["bed", "chair", "desk"]),
    )  # fmt: skip
    out = tmp_path / "out"
    source = VoxelArraySource(archive, val_fraction=0.4, seed=1)
    result = prepare_dataset(source, out, SMALL, progress=False)
    assert result.split_sizes == {"train": 3, "val": 2, "test": 3}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["classes"] == ["bed", "chair", "desk"]
    assert manifest["source"]["native_resolution"] == {"train": 64, "test": 64}
    data = load_prepared(out, "test")
    assert data.labels.tolist() == [2, 1, 0] and data.ids == ["test-000000", "test-000001", "test-000002"]  # fmt: skip
    for index in range(3):
        expected = conform_grid(test[index], 32, "z")
        np.testing.assert_array_equal(data.voxels(index), expected)
        extent = np.ptp(np.argwhere(data.voxels(index)), axis=0)
        assert extent[1] == extent.max()  # tall along z in the archive -> tall along y
    assert data[0]["views"].shape == (2, 1, 32, 32)


def test_stored_channel_last_with_bad_labels_skipped(tmp_path: Path) -> None:
    grids = _grids(4, 32, 2)
    archive = tmp_path / "plain.npz"
    np.savez(
        archive, X_train=(grids[..., None] * 0.9).astype(np.float64), Y_train=np.array([0, 1, 5, -1]),
        X_test=grids[:2].astype(np.uint8), Y_test=np.array([1, 0]),
    )  # fmt: skip
    assert npz_members.member_header(archive, "X_train").stored
    out = tmp_path / "out"
    source = VoxelArraySource(archive, class_names=("cup", "lamp"), up_axis="y")
    result = prepare_dataset(source, out, SMALL, progress=False)
    assert result.split_sizes == {"train": 2, "val": 0, "test": 2}
    reasons = [json.loads(line)["reason"] for line in (out / "skipped.jsonl").read_text().splitlines()]  # fmt: skip
    assert len(reasons) == 2 and all("outside the 2 class names" in r for r in reasons)
    train = load_prepared(out, "train")
    assert train.classes == ["cup", "lamp"] and train.labels.tolist() == [0, 1]
    np.testing.assert_array_equal(train.voxels(1), grids[1])  # y up, 32^3: unchanged


def test_default_class_names_and_one_hot_labels(tmp_path: Path) -> None:
    archive = tmp_path / "onehot.npz"
    np.savez(archive, X_test=_grids(3, 16, 3), y_test=np.eye(3, dtype=np.int64)[[2, 0, 2]])
    source = VoxelArraySource(archive)
    assert source.classes() == ["class_0", "class_1", "class_2"]
    assert [(i.split, i.label) for i in source.items()] == [("test", 2), ("test", 0), ("test", 2)]


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"X_train": np.zeros((2, 8, 8, 8))}, "no labels"),
        ({"X_train": np.zeros((2, 8, 8, 4)), "y_train": np.zeros(2)}, "cubic"),
        ({"X_train": np.zeros((2, 8, 8, 8)), "y_train": np.zeros(3)}, "3 labels for 2 grids"),
        ({"X_train": np.zeros((2, 8, 8, 8)), "y_train": np.array([0.5, 1])}, "whole numbers"),
        ({"grids": np.zeros((2, 8, 8, 8))}, "no grid arrays"),
    ],
)
def test_bad_archives_are_clear_errors(tmp_path: Path, arrays: dict, message: str) -> None:
    archive = tmp_path / "bad.npz"
    np.savez(archive, **arrays)
    with pytest.raises(DataError, match=message):
        VoxelArraySource(archive).items()


def test_not_an_archive(tmp_path: Path) -> None:
    (tmp_path / "x.npz").write_bytes(b"garbage")
    with pytest.raises(DataError, match="not a readable .npz"):
        VoxelArraySource(tmp_path / "x.npz").items()
    with pytest.raises(DataError, match="not found"):
        VoxelArraySource(tmp_path / "missing.npz")


def test_lazy_reader_matches_np_load(tmp_path: Path, monkeypatch) -> None:
    array = np.random.default_rng(0).random((7, 5, 6), dtype=np.float32)
    fortran = np.asfortranarray(array)
    np.savez(tmp_path / "s.npz", a=array)
    np.savez_compressed(tmp_path / "c.npz", a=array, f=fortran)
    header = npz_members.member_header(tmp_path / "s.npz", "a")
    assert header.shape == (7, 5, 6) and header.stored
    np.testing.assert_array_equal(npz_members.open_member_rows(tmp_path / "s.npz", header), array)
    monkeypatch.setattr(npz_members, "STREAM_BLOCK_BYTES", 2 * 5 * 6 * 4)  # 2 rows per block
    blocks = list(npz_members.stream_member_rows(tmp_path / "c.npz", "a"))
    assert [len(b) for b in blocks] == [2, 2, 2, 1]
    np.testing.assert_array_equal(np.concatenate(blocks), array)
    (whole,) = npz_members.stream_member_rows(tmp_path / "c.npz", "f")
    np.testing.assert_array_equal(whole, array)
    assert not npz_members.member_header(tmp_path / "c.npz", "a").stored
    with pytest.raises(DataError, match="compressed"):
        npz_members.open_member_rows(tmp_path / "c.npz", npz_members.member_header(tmp_path / "c.npz", "a"))  # fmt: skip


def test_corrupt_compressed_member_is_a_data_error(tmp_path: Path) -> None:
    archive = tmp_path / "c.npz"
    np.savez_compressed(archive, a=np.random.default_rng(0).random((50, 50)))
    raw = bytearray(archive.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 64] = bytes(64)
    archive.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="corrupt"):
        list(npz_members.stream_member_rows(archive, "a"))
