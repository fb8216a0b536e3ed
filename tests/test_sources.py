"""Shared pieces of the real-data sources: resampling, the grid up-axis turn, the seed-stable
hold-out, and the command-line parsers of shapenet-r2n2 / modelnet / voxels / meshes."""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

from switchvae.cli import build_parser, main
from switchvae.cli.prepare import add_source_parsers
from switchvae.data import load_prepared
from switchvae.data.geometry.resample import grid_to_canonical, resample_grid
from switchvae.data.geometry.voxelize import voxelize_mesh
from switchvae.data.sources.holdout import stratified_assign
from switchvae.errors import ConfigError, DataError

SMALL = ["--views", "2", "--image-size", "32", "--workers", "1", "--no-progress"]


def _slow_resample(grid: np.ndarray, target: int) -> np.ndarray:
    """Obvious version: target voxel = any source voxel overlapping it (shrinking) or the
    source voxel under its center (growing)."""
    side = grid.shape[0]
    out = np.zeros((target,) * 3, dtype=bool)
    for i, j, k in itertools.product(range(target), repeat=3):
        if target > side:
            out[i, j, k] = grid[tuple(int((c + 0.5) * side / target) for c in (i, j, k))]
            continue
        ranges = [range(int(c * side / target), -(-(c + 1) * side // target)) for c in (i, j, k)]
        out[i, j, k] = grid[np.ix_(*ranges)].any()
    return out


def test_resample_64_to_32_is_any_occupied_on_a_hand_case() -> None:
    grid = np.zeros((64, 64, 64), dtype=bool)
    grid[1, 2, 63] = True  # one fine voxel -> coarse voxel (0, 1, 31)
    grid[10:12, 20:22, 30:32] = True  # a full 2^3 block -> exactly coarse (5, 10, 15)
    grid[41, 41, 41] = True  # lone voxel, odd indices -> (20, 20, 20)
    coarse = resample_grid(grid, 32)
    assert coarse.shape == (32, 32, 32) and coarse.dtype == bool
    assert {tuple(int(v) for v in p) for p in np.argwhere(coarse)} == {(0, 1, 31), (5, 10, 15), (20, 20, 20)}  # fmt: skip


@pytest.mark.parametrize(("side", "target"), [(8, 4), (9, 4), (6, 4), (4, 8), (3, 5), (5, 5)])
def test_resample_matches_slow_reference(side: int, target: int) -> None:
    grid = np.random.default_rng(side * 10 + target).random((side,) * 3) < 0.1
    np.testing.assert_array_equal(resample_grid(grid, target), _slow_resample(grid, target))


def test_resample_up_by_repetition_and_bad_input() -> None:
    grid = np.random.default_rng(0).random((4, 4, 4)) < 0.5
    up = resample_grid(grid, 8)
    np.testing.assert_array_equal(up[::2, ::2, ::2], grid)
    np.testing.assert_array_equal(up[1::2, 1::2, 1::2], grid)
    np.testing.assert_array_equal(resample_grid(up, 4), grid)
    with pytest.raises(DataError, match="cubic"):
        resample_grid(np.zeros((4, 4, 3)), 2)


def test_grid_turn_matches_the_mesh_turn() -> None:
    """grid_to_canonical(z) on a z-up grid = voxelizing the mesh with up_axis="z"."""
    column = trimesh.creation.box(extents=(0.3, 0.3, 1.0))
    foot = trimesh.creation.box(extents=(0.3, 0.7, 0.2))
    foot.apply_translation((0.0, 0.35, -0.4))
    mesh = trimesh.util.concatenate([column, foot])  # tall along z, foot towards +y
    z_up_grid = voxelize_mesh(mesh, 32, up_axis="y")  # normalized, axes as stored
    turned = grid_to_canonical(z_up_grid, "z")
    np.testing.assert_array_equal(turned, voxelize_mesh(mesh, 32, up_axis="z"))
    np.testing.assert_array_equal(grid_to_canonical(z_up_grid, "y"), z_up_grid)


def test_holdout_is_stratified_stable_and_keeps_a_train_item() -> None:
    keys = [f"item{i}" for i in range(30)]
    labels = [0] * 20 + [1] * 9 + [2]
    splits = stratified_assign(keys, labels, [("test", 0.2), ("val", 0.1)], "train", seed=7)
    by_class = {c: [s for s, label in zip(splits, labels, strict=True) if label == c] for c in (0, 1, 2)}  # fmt: skip
    assert (by_class[0].count("test"), by_class[0].count("val")) == (4, 2)
    assert (by_class[1].count("test"), by_class[1].count("val")) == (2, 1)
    assert by_class[2] == ["train"]
    assert splits == stratified_assign(keys, labels, [("test", 0.2), ("val", 0.1)], "train", 7)
    grown = stratified_assign(keys + ["item99"], labels + [2], [("test", 0.2)], "train", 7)
    assert grown[:29] == stratified_assign(keys, labels, [("test", 0.2)], "train", 7)[:29]
    with pytest.raises(ConfigError):
        stratified_assign(keys, labels, [("test", 0.6), ("val", 0.5)], "train", 7)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchvae prepare")
    add_source_parsers(parser.add_subparsers(dest="source", required=True))
    return parser


@pytest.mark.parametrize("name", ["shapenet-r2n2", "modelnet", "voxels", "meshes"])
def test_help_of_each_source(name: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args([name, "--help"])
    assert exit_info.value.code == 0 and "--out" in capsys.readouterr().out


def test_cli_voxels_and_r2n2(r2n2_root: Path, tmp_path: Path, capsys) -> None:
    archive = tmp_path / "grids.npz"
    grids = np.zeros((2, 16, 16, 16), dtype=np.uint8)
    grids[:, 4:12, 2:14, 6:10] = 1
    np.savez(archive, X_train=grids, y_train=np.array([0, 1]), X_test=grids[:1], y_test=[1])
    args = _parser().parse_args(["voxels", "--npz", str(archive), "--classes", "a,b", "--out", str(tmp_path / "v"), *SMALL])  # fmt: skip
    assert args.func(args) == 0
    assert "train 2, val 0, test 1" in capsys.readouterr().out
    assert load_prepared(tmp_path / "v", "test").classes == ["a", "b"]

    base = ["shapenet-r2n2", "--voxels", str(r2n2_root / "ShapeNetVox32"), "--renderings", str(r2n2_root / "ShapeNetRendering"), "--categories", "chair", "--workers", "1", "--no-progress", "--out"]  # fmt: skip
    args = _parser().parse_args([*base, str(tmp_path / "r")])
    assert (args.views, args.image_size) == (24, 137)
    assert args.func(args) == 0
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert (manifest["num_views"], manifest["image_size"], manifest["channels"]) == (24, 137, 4)
    assert manifest["classes"] == ["chair"]
    bad = _parser().parse_args([*base, str(tmp_path / "bad"), "--image-size", "64"])
    with pytest.raises(ConfigError, match="137"):
        bad.func(bad)
    bad = _parser().parse_args([*base, str(tmp_path / "bad"), "--views", "30"])
    with pytest.raises(ConfigError, match="24 renders"):
        bad.func(bad)


def _wired() -> bool:
    try:
        build_parser().parse_args(["prepare", "meshes", "--help"])
    except SystemExit as exit_info:
        return exit_info.code == 0
    return False


def test_cli_main_prepares_modelnet(modelnet_root: Path, tmp_path: Path, capsys) -> None:
    if not _wired():
        pytest.skip("switchvae.cli does not register the real-data sources yet")
    capsys.readouterr()
    out = tmp_path / "mn40"
    argv = ["prepare", "modelnet", "--root", str(modelnet_root / "ModelNet40"), "--out", str(out), *SMALL]  # fmt: skip
    assert main(argv) == 0
    assert load_prepared(out, "test").classes == ["desk", "monitor"]
    code = main(["prepare", "modelnet", "--root", str(tmp_path / "nope"), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "ModelNet folder not found" in err[0]
